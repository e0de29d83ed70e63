"""Shared fixtures: a repository in tmp_path, the CLI as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

RAIZ = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RAIZ))

from backup_versionamento import GerenciadorBackupVersionamento  # noqa: E402
from tests import ajuda_cifra  # noqa: E402

# Thread names our own code starts; none may outlive a test.
_PREFIXOS_NOSSOS = (
    "bloco",
    "leitura",
    "backup-",
    "observador",
    "agendador",
    "fila",
    "evento-",
    "webhook",
    "painel",
)


@pytest.fixture(autouse=True)
def _sem_threads_vazadas() -> Iterator[None]:
    antes = set(threading.enumerate())
    yield
    import time

    limite = time.monotonic() + 5
    while True:
        novas = [
            t
            for t in threading.enumerate()
            if t not in antes and t.is_alive() and t.name.startswith(_PREFIXOS_NOSSOS)
        ]
        if not novas or time.monotonic() > limite:
            break
        time.sleep(0.05)
    assert not novas, f"threads vazadas: {[t.name for t in novas]}"


@pytest.fixture(autouse=True)
def _estado_isolado(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-machine state (caches, locks) of each test in its own folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(autouse=True)
def _cifra_em_teste(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With BACKUP_VERSIONAMENTO_TESTE_CIFRA=1 every repository is encrypted.

    The defaults are patched in this process and in the tests' children (the CLI
    helper below and tests/executor_falhas.py), with one key file per test.
    """
    if not ajuda_cifra.ligada():
        return
    from backup_versionamento import config

    chave = tmp_path_factory.mktemp("chave") / "chave"
    cripto = dict(
        config.PADRAO["seguranca"]["criptografia"],
        habilitada=True,
        chave_arquivo=str(chave),
    )
    monkeypatch.setitem(config.PADRAO["seguranca"], "criptografia", cripto)
    monkeypatch.setenv(ajuda_cifra.VARIAVEL_CHAVE, str(chave))
    # These suites address sidecars by path: names in clear (ajuda_cifra.aplicar).
    from backup_versionamento.seguranca import mestra

    monkeypatch.setattr(mestra, "NOMES_CHAVEADOS_NOVOS", False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return tmp_path / "repo"


@pytest.fixture
def gerenciador(repo: Path) -> Iterator[GerenciadorBackupVersionamento]:
    g = GerenciadorBackupVersionamento(repo, {})
    yield g
    g.fechar()


def escrever(caminho: Path, dados: bytes) -> Path:
    caminho.parent.mkdir(parents=True, exist_ok=True)
    caminho.write_bytes(dados)
    return caminho


def cfg_cifrado(tmp_path: Path, **cripto: Any) -> dict[str, Any]:
    """A config with encryption on (key file under tmp_path), no validation and
    no disk-space reserve: the usual base of the encrypted-repository tests."""
    return {
        "validacao": {"modo": "desligado"},
        "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
        "seguranca": {
            "criptografia": {
                "habilitada": True,
                "chave_arquivo": str(tmp_path / "chaves" / "chave"),
                **cripto,
            }
        },
    }


def aleatorio(n: int, semente: int = 0) -> bytes:
    import numpy as np

    return np.random.default_rng(semente).bytes(n)


def cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `python inicializar_backup.py ARGS` for real."""
    ambiente = {**os.environ, **(env or {})}
    # The encrypted rerun runs the CLI through the test hook (same defaults).
    programa = (
        "tests/ajuda_cifra.py" if ajuda_cifra.ligada() else "inicializar_backup.py"
    )
    return subprocess.run(
        [sys.executable, str(RAIZ / programa), *args],
        cwd=cwd,
        env=ambiente,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_json(*args: str, cwd: Path | None = None) -> Any:
    r = cli(*args, "--json", cwd=cwd)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def arvore_arquivos(raiz: Path) -> dict[str, bytes]:
    """Every file under `raiz` (relative path -> bytes), for before/after checks."""
    return {
        str(p.relative_to(raiz)): p.read_bytes()
        for p in sorted(raiz.rglob("*"))
        if p.is_file()
    }
