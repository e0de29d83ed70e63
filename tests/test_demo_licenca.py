"""`make demo` twice and the package metadata (issue 17, item 17)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from backup_versionamento import GerenciadorBackupVersionamento
from tests.conftest import RAIZ, aleatorio, arvore_arquivos, escrever

TOUR = RAIZ / "exemplos" / "tour.sh"


def _tour(pasta: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(TOUR), sys.executable],
        cwd=RAIZ,
        env={**os.environ, "DEMO_PASTA": str(pasta)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_tour_de_novo_recomeca_e_diz_o_que_achou(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    # A previous tour: its marker and a repository with versions.
    escrever(demo / ".tour_backup_versionamento", b"")
    with GerenciadorBackupVersionamento(demo / "backups_modelos", {}) as g:
        for i in range(4):
            g.criar_backup(
                escrever(demo / "modelo_lotofacil.joblib", aleatorio(4096, i)), "patch"
            )
    r = _tour(demo)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (
        f"Tour anterior encontrado em {demo} (4 versões de modelo_lotofacil.joblib)"
        in r.stdout
    )
    with GerenciadorBackupVersionamento(
        demo / "backups_modelos", {}, criar_repositorio=False
    ) as g:
        versoes = [
            (v["versao"], v["descricao"])
            for v in g.listar_versoes("modelo_lotofacil.joblib")
        ]
    assert versoes == [
        ("1.0.0", "Modelo inicial"),
        ("1.1.0", "Retreino"),
        ("2.0.0", "Mais árvores"),
    ]


def test_tour_nao_apaga_pasta_que_nao_e_dele(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    escrever(demo / "meu_trabalho.txt", b"importante")
    antes = arvore_arquivos(demo)
    r = _tour(demo)
    assert r.returncode == 1
    assert "não foi criada pelo tour" in r.stderr
    assert arvore_arquivos(demo) == antes


def test_licenca_mit_sem_avisos_de_setuptools(tmp_path: Path) -> None:
    texto = (RAIZ / "LICENSE").read_text(encoding="utf-8")
    assert texto.startswith("MIT License") and "WITHOUT WARRANTY" in texto
    # Built from a copy: setuptools writes build/ and *.egg-info beside the source.
    fonte = tmp_path / "fonte"
    fonte.mkdir()
    for nome in ("pyproject.toml", "LICENSE", "README.md"):
        shutil.copy2(RAIZ / nome, fonte / nome)
    shutil.copytree(
        RAIZ / "backup_versionamento",
        fonte / "backup_versionamento",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    saida = tmp_path / "rodas"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(saida),
            str(fonte),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "deprecated" not in (r.stdout + r.stderr).lower(), r.stderr
    import zipfile

    (roda,) = saida.glob("*.whl")
    with zipfile.ZipFile(roda) as z:
        nomes = z.namelist()
        (meta,) = [n for n in nomes if n.endswith(".dist-info/METADATA")]
        metadados = z.read(meta).decode()
    assert "License-Expression: MIT" in metadados
    assert any(n.endswith("licenses/LICENSE") for n in nomes)
