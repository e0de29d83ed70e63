"""A monitored folder that does not exist yet, and what the foreground daemon says.

The daemon runs for real (a child process); the folder is created while it runs.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from backup_versionamento.automacao.estabilizador import Estabilizador
from backup_versionamento.automacao.filtro import FiltroModelos
from backup_versionamento.automacao.observador import Observador
from backup_versionamento.config import de_dicionario

from .ajuda_automacao import (  # noqa: F401 - sem_threads_novas is an autouse fixture
    RAIZ,
    esperar,
    sem_threads_novas,
    versoes,
)

SAO_PAULO = "America/Sao_Paulo"


class Terminal:
    """`iniciar` in the foreground with its stdout/stderr collected line by line."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.saida: list[str] = []
        self.erros: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, str(RAIZ / "inicializar_backup.py"), "iniciar",
             "--config", str(config)],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=config.parent,
        )  # fmt: skip
        fluxos = ((self.proc.stdout, self.saida), (self.proc.stderr, self.erros))
        self._leitores = [
            threading.Thread(target=self._ler, args=(f, destino), daemon=True)
            for f, destino in fluxos
        ]
        for t in self._leitores:
            t.start()

    @staticmethod
    def _ler(fluxo: Any, destino: list[str]) -> None:
        for linha in fluxo:
            destino.append(linha.rstrip("\n"))

    def tem(self, linhas: list[str], trecho: str) -> bool:
        return any(trecho in linha for linha in list(linhas))

    def parar(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        codigo = self.proc.wait(60)
        for t in self._leitores:
            t.join(10)
        return codigo


def _cli(config: Path, *args: str, env: dict[str, str]) -> str:
    r = subprocess.run(
        [sys.executable, str(RAIZ / "inicializar_backup.py"), *args,
         "--config", str(config)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_pasta_criada_depois_do_inicio_e_monitorada(tmp_path: Path) -> None:
    pasta = tmp_path / "ainda" / "nao" / "existe"
    livre_mb = shutil.disk_usage(tmp_path).free // 2**20
    dados = {
        "diretorios": {"base": str(tmp_path / "repo")},
        "backup_automatico": {
            "diretorios_monitorados": [str(pasta)],
            "periodo_silencio_segundos": 0.3,
            "horarios_execucao": ["14:00"],
        },
        "validacao": {"modo": "bloquear", "teste_carregamento": False},
        # Above the free space: every backup warns that the disk is low.
        "espaco_disco": {"aviso_mb": livre_mb + 1000, "reserva_mb": 0},
    }
    config = tmp_path / "config_backup.json"
    config.write_text(json.dumps(dados), encoding="utf-8")
    env = {"TZ": SAO_PAULO}
    t = Terminal(config, env)
    try:
        esperar(lambda: t.tem(t.saida, "Backup automático em execução"), 30)
        assert t.tem(t.erros, f"pasta monitorada não existe: {pasta}")
        status = _cli(config, "status", env=env)
        assert f"pasta monitorada não existe: {pasta}" in status, status
        # The schedule in the user's own clock, with the zone (not 17:00 UTC).
        assert "14:00:00 -03" in status, status
        assert "BAIXO" in status  # the low-disk warning reaches status too
        pasta.mkdir(parents=True)
        (pasta / "m.pkl").write_bytes(pickle.dumps({"pesos": [1.0] * 100}))
        esperar(lambda: versoes(config, "m.pkl"), 30, mensagem="backup de m.pkl")
        esperar(lambda: t.tem(t.saida, "backup criado: m.pkl -> 1.0.0"), 10)
        assert t.tem(t.erros, "espaço em disco baixo")
        (pasta / "ruim.pkl").write_bytes(b"isto nao e um pickle")
        esperar(lambda: t.tem(t.erros, "backup falhou:"), 30)
        assert t.tem(t.erros, "ruim.pkl")
        status = _cli(config, "status", env=env)
        assert "pasta monitorada não existe" not in status, status
    finally:
        assert t.parar() == 0, "\n".join(t.erros)
    log = (tmp_path / "repo" / "logs" / "backup_system.log").read_text("utf-8")
    assert f"WARNING - Pasta monitorada não existe: {pasta}" in log


def test_observador_espera_a_pasta_e_a_vigia_quando_aparece(tmp_path: Path) -> None:
    pasta = tmp_path / "a" / "b"
    cfg = de_dicionario(
        {"backup_automatico": {"diretorios_monitorados": [str(pasta)]}},
        tmp_path / "repo",
    )
    vistos: list[Path] = []
    est = Estabilizador(0.1, vistos.append)
    obs = Observador([pasta], FiltroModelos.da_config(cfg), est)
    est.iniciar()
    obs.iniciar()
    try:
        assert obs.aguardando == [pasta]
        (tmp_path / "a").mkdir()  # the wait moves closer, then the folder comes
        esperar(lambda: obs._aguardando.get(pasta) == tmp_path / "a", 10)
        pasta.mkdir()
        (pasta / "m.h5").write_bytes(b"x" * 100)
        esperar(lambda: pasta / "m.h5" in vistos, 10, mensagem="m.h5 visto")
        assert obs.aguardando == []
        assert (pasta, True) in obs.vigias
    finally:
        obs.parar()
        est.parar()
