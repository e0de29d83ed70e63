"""The spec's API example uses ./backups; the CLI's default is ./backups_modelos."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import RAIZ, cli, escrever

API = (
    "import sys; sys.path.insert(0, {raiz!r}); "
    "from backup_versionamento import GerenciadorBackupVersionamento as G; "
    "g = G('./backups', {{'validacao': {{'modo': 'desligado'}}}}); "
    "g.criar_backup('m.h5'); g.fechar()"
)


def test_repositorio_do_exemplo_da_api_e_indicado(tmp_path: Path) -> None:
    escrever(tmp_path / "m.h5", b"x" * 100)
    subprocess.run(
        [sys.executable, "-c", API.format(raiz=str(RAIZ))], cwd=tmp_path, check=True
    )
    r = cli("listar", cwd=tmp_path)
    assert r.returncode == 8, r.stderr  # same exit code as before
    assert "repositório não encontrado" in r.stderr
    assert f"Há um repositório em {tmp_path / 'backups'}" in r.stderr
    assert "--base ./backups" in r.stderr and '"base": "./backups"' in r.stderr
    r = cli("listar", "--base", "./backups", cwd=tmp_path)
    assert r.returncode == 0 and "m.h5" in r.stdout, r.stderr


def test_sem_outro_repositorio_nada_muda(tmp_path: Path) -> None:
    r = cli("listar", cwd=tmp_path)
    assert r.returncode == 8 and "Há um repositório" not in r.stderr
