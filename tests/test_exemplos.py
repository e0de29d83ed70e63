"""The training examples of exemplos/ run as a user runs them (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from backup_versionamento import GerenciadorBackupVersionamento

from .conftest import RAIZ


def _rodar(script: str, tmp_path: Path, *args: str) -> Any:
    cfg = tmp_path / "config_backup.json"
    # The isolated load test imports TensorFlow in a child per backup: the
    # validation tests cover it; here it would only cost minutes.
    # Spelled out, so the encrypted rerun of the suite (which encrypts by
    # default only in the test processes) reads what the example wrote.
    cfg.write_text(
        json.dumps(
            {
                "validacao": {"teste_carregamento": False},
                "seguranca": {"criptografia": {"habilitada": False}},
            }
        )
    )
    r = subprocess.run(
        [
            sys.executable,
            str(RAIZ / "exemplos" / script),
            "--base",
            str(tmp_path / "repo"),
            "--config",
            str(cfg),
            *args,
        ],
        env={**os.environ, "PYTHONPATH": str(RAIZ)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def _versoes(tmp_path: Path, modelo: str) -> list[dict[str, Any]]:
    cfg = tmp_path / "config_backup.json"
    with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
        return g.listar_versoes(modelo)


def _aliases(tmp_path: Path, modelo: str) -> dict[str, str]:
    cfg = tmp_path / "config_backup.json"
    with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
        return g.aliases(modelo)


def test_exemplo_scikit_learn(tmp_path: Path) -> None:
    primeira = _rodar("treino_sklearn.py", tmp_path)
    assert primeira["versao"] == "1.0.0" and primeira["promovida"] is True
    assert set(primeira["metricas"]) >= {"acertos_13", "taxa_acerto_media"}
    assert len(primeira["proxima_aposta"]) == 15
    segunda = _rodar("treino_sklearn.py", tmp_path, "--arvores", "5", "--semente", "1")
    assert segunda["aliases"]["candidato"] == segunda["versao"] != "1.0.0"
    versoes = _versoes(tmp_path, "lotofacil_rf.joblib")
    assert [v["metricas"]["acertos_13"] for v in versoes] == [
        primeira["metricas"]["acertos_13"],
        segunda["metricas"]["acertos_13"],
    ]


def test_exemplo_keras(tmp_path: Path) -> None:
    r = _rodar("treino_keras.py", tmp_path, "--epocas", "2")
    assert r["falhas"] == [] and r["versoes"]
    assert r["producao"] == r["versoes"][-1]["versao"]
    versoes = _versoes(tmp_path, "lotofacil_rede.keras")
    assert [v["versao"] for v in versoes] == [v["versao"] for v in r["versoes"]]
    for v in versoes:
        assert {"loss", "val_loss", "acertos_13", "cobertura_padroes"} <= set(
            v["metricas"]
        )
    assert _aliases(tmp_path, "lotofacil_rede.keras") == {
        "producao": versoes[-1]["versao"]
    }
