"""`python teste_sistema_backup.py`, the manual's test entry point, run for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import RAIZ

ROTEIRO = RAIZ / "teste_sistema_backup.py"
ETAPAS = (
    "Inicialização do sistema",
    "Criação de backups",
    "Listagem de versões",
    "Restauração de backups",
    "Validação de integridade",
    "Sistema completo",
)


def test_teste_sistema_passa_e_diz_o_que_conferiu(tmp_path: Path) -> None:
    antes = set(RAIZ.iterdir())
    r = subprocess.run(
        [sys.executable, str(ROTEIRO)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    for etapa in ETAPAS:
        assert f"✅ {etapa}:" in r.stdout, r.stdout
    assert "Tudo certo: 6 verificações" in r.stdout
    assert "Traceback" not in r.stderr
    # It cleans up after itself and writes nothing beside the checkout or in cwd.
    assert set(RAIZ.iterdir()) == antes
    assert list(tmp_path.iterdir()) == []


def test_teste_sistema_sai_com_erro_quando_uma_etapa_falha(tmp_path: Path) -> None:
    """A check that does not hold: ❌ with the reason, exit 1, later steps skipped."""
    codigo = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import teste_sistema_backup as t\n"
        "def quebrada(s):\n"
        "    raise t.Falha('versões listadas: [] (esperado [1.0.0])')\n"
        "t.ETAPAS[2] = ('Listagem de versões', quebrada)\n"
        "sys.exit(t.main([]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", codigo, str(RAIZ)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "❌ Listagem de versões: versões listadas" in r.stdout
    assert "✅ Criação de backups" in r.stdout
    assert "Restauração de backups" not in r.stdout
    assert "FALHOU" in r.stdout
