"""What the docs promise, checked against what the code does (issue 17, item 16)."""

from __future__ import annotations

import getpass
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from tests.conftest import RAIZ, aleatorio, escrever


def test_destino_de_restauracao_concluida_e_absoluto(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/EVENTOS.md: `caminho` and `destino` are absolute, even for './saida/'."""
    monkeypatch.chdir(tmp_path)
    eventos: list[tuple[str, dict[str, Any]]] = []
    modelo = escrever(tmp_path / "m.bin", aleatorio(2048))
    with GerenciadorBackupVersionamento(tmp_path / "repo", {}) as g:
        g.inscrever(lambda nome, dados: eventos.append((nome, dados)))
        g.criar_backup(modelo, "patch")
        g.restaurar_backup("m.bin", "1.0.0", "saida/")
    (dados,) = [d for n, d in eventos if n == "restauracao_concluida"]
    assert os.path.isabs(dados["destino"]), dados
    assert Path(dados["destino"]) == tmp_path / "saida" / "m.bin"


def _cli_com_umask(umask: int, *args: str, cwd: Path) -> None:
    # The shell sets the umask: no preexec_fn in a process that has threads.
    r = subprocess.run(
        [
            "sh",
            "-c",
            f'umask {umask:03o}; exec "$0" "$@"',
            sys.executable,
            str(RAIZ / "inicializar_backup.py"),
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_modos_de_logs_num_repositorio_protegido(tmp_path: Path, umask: int) -> None:
    """docs/SEGURANCA.md: logs/ 0750, its files (audit log included) 0640."""
    cfg = tmp_path / "cfg.json"
    cfg.write_text(
        json.dumps(
            {
                "seguranca": {
                    "criptografia": {
                        "habilitada": True,
                        "chave_arquivo": str(tmp_path / "chaves" / "chave"),
                    },
                    "controle_acesso": {
                        "habilitado": True,
                        "usuarios_autorizados": {getpass.getuser(): ["admin"]},
                    },
                }
            }
        )
    )
    modelo = escrever(tmp_path / "m.bin", aleatorio(2048))
    base = ("--base", str(tmp_path / "repo"), "--config", str(cfg))
    _cli_com_umask(umask, "backup", *base, "--modelo", str(modelo), cwd=tmp_path)
    _cli_com_umask(
        umask,
        "restaurar",
        *base,
        "--modelo",
        "m.bin",
        "--destino",
        "out/",
        cwd=tmp_path,
    )
    logs = tmp_path / "repo" / "logs"
    modos = {
        p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in [logs, *logs.iterdir()]
    }
    # An encrypted repository hides names: the spec's log and the activity
    # journal live in the per-machine state; the audit log stays (issue 19).
    assert modos == {
        "logs": "0o750",
        "auditoria.jsonl": "0o640",
        "auditoria.cabeca.json": "0o640",
    }
    doc = (RAIZ / "docs" / "SEGURANCA.md").read_text(encoding="utf-8")
    assert "0660" not in doc and "`auditoria.cabeca.json`)\n  0640" in doc
