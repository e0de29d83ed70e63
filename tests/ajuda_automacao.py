"""Helpers for the automation tests: a stand-in manager, waiting, a daemon process."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento.armazenamento.backends.endereco import backend_para
from backup_versionamento.armazenamento.repositorio import localizar_estado
from backup_versionamento.erros import ErroBackup
from backup_versionamento.gerenciador import ResultadoBackup

RAIZ = Path(__file__).resolve().parent.parent


def estado_de(base: Path) -> Path | None:
    """This machine's state folder of the repository at `base` (daemon files)."""
    return localizar_estado(backend_para(base))


@pytest.fixture(autouse=True)
def sem_threads_novas() -> Iterator[None]:
    """Every thread a test starts (ours and watchdog's) must be gone at its end."""
    antes = set(threading.enumerate())
    yield
    limite = time.monotonic() + 5
    while True:
        novas = [t for t in threading.enumerate() if t not in antes and t.is_alive()]
        if not novas or time.monotonic() > limite:
            break
        time.sleep(0.05)
    assert not novas, f"threads vazadas: {[t.name for t in novas]}"


def esperar(
    condicao: Callable[[], Any],
    tempo_limite: float = 10.0,
    passo: float = 0.02,
    mensagem: str = "",
) -> Any:
    """Poll until `condicao()` is truthy; fail the test on timeout."""
    prazo = time.monotonic() + tempo_limite
    while True:
        valor = condicao()
        if valor:
            return valor
        if time.monotonic() > prazo:
            pytest.fail(
                f"tempo esgotado ({tempo_limite} s) esperando: {mensagem or condicao}"
            )
        time.sleep(passo)


def sha256(dados: bytes) -> str:
    return hashlib.sha256(dados).hexdigest()


class GerenciadorFalso:
    """Stand-in with the facade's `criar_backup` (the queue is under test).

    `falhas` maps a path to the exception its backup raises; `bloqueio` (when set
    up with `bloquear()`) holds each backup until `liberar()`.
    """

    def __init__(self) -> None:
        self.chamadas: list[dict[str, Any]] = []
        self.falhas: dict[str, BaseException] = {}
        self.inalterados: set[str] = set()  # paths whose content is already stored
        self.durante: Callable[[str], None] | None = None
        self._liberado = threading.Event()
        self._liberado.set()
        self.iniciou = threading.Event()
        self._trava = threading.Lock()

    def bloquear(self) -> None:
        self._liberado.clear()

    def liberar(self) -> None:
        self._liberado.set()

    def criar_backup(
        self,
        caminho: str,
        tipo_mudanca: str = "patch",
        descricao: str = "",
        *,
        origem_pedido: str = "api",
    ) -> ResultadoBackup:
        with self._trava:
            self.chamadas.append(
                {
                    "caminho": caminho,
                    "tipo_mudanca": tipo_mudanca,
                    "descricao": descricao,
                    "origem": origem_pedido,
                }
            )
            n = len(self.chamadas)
        self.iniciou.set()
        assert self._liberado.wait(10), "teste esqueceu de liberar o gerenciador"
        if self.durante is not None:
            self.durante(caminho)
        erro = self.falhas.get(caminho)
        if erro is not None:
            raise erro
        return ResultadoBackup.de(
            {
                "modelo": Path(caminho).name,
                "versao": f"1.{n}.0",
                "nova_versao": caminho not in self.inalterados,
            }
        )

    @property
    def caminhos(self) -> list[str]:
        with self._trava:
            return [c["caminho"] for c in self.chamadas]


class ErroDeTeste(ErroBackup):
    codigo_saida = 8


# -- the daemon as a real process ----------------------------------------------


def escrever_config(
    tmp_path: Path,
    monitorados: list[Path],
    extra: dict[str, Any] | None = None,
    **auto: Any,
) -> Path:
    """A config file in tmp_path: repository in tmp_path/repo, short quiet period."""
    backup_automatico = {
        "diretorios_monitorados": [str(p) for p in monitorados],
        "periodo_silencio_segundos": 0.5,
        "extensoes_monitoradas": [".h5", ".pkl", ".pth", ".pt", ".onnx"],
        "ignorar_arquivos": ["temp_*", "*.tmp"],
        **auto,
    }
    dados: dict[str, Any] = {
        "diretorios": {"base": str(tmp_path / "repo")},
        "backup_automatico": backup_automatico,
        "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
        # No dashboard on the fixed default port: tests run side by side.
        "relatorios": {"painel_porta": 0},
    }
    dados.update(extra or {})
    arquivo = tmp_path / "config_backup.json"
    arquivo.write_text(json.dumps(dados), encoding="utf-8")
    return arquivo


def _comando_cli() -> list[str]:
    """The real CLI once it lists our subcommands; until then a shim that adds them."""
    from backup_versionamento import cli

    if {"iniciar", "parar"} <= set(cli.SUBCOMANDOS):
        return [sys.executable, str(RAIZ / "inicializar_backup.py")]
    shim = (
        "import sys; from backup_versionamento import cli; "
        "cli.SUBCOMANDOS += [n for n in ('iniciar', 'parar') "
        "if n not in cli.SUBCOMANDOS]; sys.exit(cli.main(sys.argv[1:]))"
    )
    return [sys.executable, "-c", shim]


def _ambiente() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(RAIZ), "PYTHONUNBUFFERED": "1"}


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_comando_cli(), *args],
        env=_ambiente(),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=RAIZ,
    )


class DaemonPrimeiroPlano:
    """`iniciar --config X` as a child process (foreground), stopped by SIGTERM."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.base = Path(json.loads(config.read_text())["diretorios"]["base"])
        self.proc = subprocess.Popen(
            [*_comando_cli(), "iniciar", "--config", str(config), "--json"],
            env=_ambiente(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=RAIZ,
        )
        assert self.proc.stdout is not None
        linha = self.proc.stdout.readline()  # printed once the daemon is running
        if not linha:
            self.proc.wait(10)
            pytest.fail(f"daemon não iniciou: {self.proc.stderr.read()}")  # type: ignore[union-attr]
        self.pid = json.loads(linha)["pid"]

    def estado(self) -> dict[str, Any]:
        pasta = estado_de(self.base)
        if pasta is None:
            return {}
        try:
            dados: dict[str, Any] = json.loads(
                (pasta / "daemon_estado.json").read_text()
            )
            return dados
        except (OSError, ValueError):
            return {}

    def ocioso(self) -> bool:
        """Nothing queued and nothing running, per the daemon's state file."""
        e = self.estado()
        return (
            bool(e) and e.get("pendentes") == 0 and e.get("backup_em_andamento") is None
        )

    def parar(self, tempo_limite: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            codigo = self.proc.wait(tempo_limite)
        finally:
            self.fechar()
        return codigo

    def fechar(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


def versoes(config: Path, modelo: str) -> list[dict[str, Any]]:
    """Versions of `modelo` in the repository, [] when it has none yet."""
    from backup_versionamento import GerenciadorBackupVersionamento
    from backup_versionamento.erros import ErroVersaoNaoEncontrada

    with GerenciadorBackupVersionamento(config=config) as g:
        try:
            return g.listar_versoes(modelo)
        except ErroVersaoNaoEncontrada:
            return []
