"""The pickle scan depends on CPython's private unpickler: a Python without it
gets a clear error at import, and the project declares only the Python CI runs."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from .conftest import RAIZ

ARQUIVO = RAIZ / "backup_versionamento" / "validacao" / "pickle_seguro.py"

# Loads the module by path, as the sandboxed child does, after removing one piece.
_SCRIPT = """
import importlib.util, pickle, sys
alvo, _, atributo = sys.argv[2].rpartition(".")
dono = pickle if not alvo else getattr(pickle, alvo)
delattr(dono, atributo)
spec = importlib.util.spec_from_file_location("ps", sys.argv[1])
modulo = importlib.util.module_from_spec(spec)
sys.modules["ps"] = modulo
try:
    spec.loader.exec_module(modulo)
except ImportError as e:
    print(e)
    sys.exit(3)
sys.exit(0)
"""


@pytest.mark.parametrize(
    "peca", ["_Unframer", "_Stop", "_Unpickler.dispatch", "_Unpickler.load_build"]
)
def test_falta_de_peca_privada_falha_claro_na_importacao(peca: str) -> None:
    r = subprocess.run(
        [sys.executable, "-I", "-c", _SCRIPT, str(ARQUIVO), peca],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 3, r.stderr
    assert f"pickle.{peca}" in r.stdout
    assert "requires-python" in r.stdout and "docs/VALIDACAO.md" in r.stdout
    assert "Traceback" not in r.stderr


def test_importacao_normal_funciona() -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _SCRIPT.replace("delattr", "getattr"),
            str(ARQUIVO),
            "_Stop",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_requires_python_so_o_que_a_ci_roda() -> None:
    projeto = tomllib.loads((RAIZ / "pyproject.toml").read_text())
    assert projeto["project"]["requires-python"] == ">=3.11,<3.12"
    assert projeto["tool"]["ruff"]["target-version"] == "py311"
    assert projeto["tool"]["mypy"]["python_version"] == "3.11"
    assert sys.version_info[:2] == (3, 11)
