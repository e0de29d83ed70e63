"""SIGTERM (timeout, systemd, CI) behaves like Ctrl+C: cleanup and exit 143."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backup_versionamento.erros import CODIGOS_SAIDA

from .conftest import RAIZ, cli, escrever

MiB = 1024 * 1024
CFG = {"validacao": {"modo": "desligado"}}


def _grande(caminho: Path, n: int) -> Path:
    """Random bytes (nothing to deduplicate or compress), written in 8 MiB steps."""
    caminho.parent.mkdir(parents=True, exist_ok=True)
    with open(caminho, "wb") as f:
        for _ in range(n // (8 * MiB)):
            f.write(os.urandom(8 * MiB))
    return caminho


def _iniciar(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(RAIZ / "inicializar_backup.py"), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _esperar(condicao, proc: subprocess.Popen[str], limite: float = 60) -> None:
    prazo = time.monotonic() + limite
    while not condicao():
        if proc.poll() is not None:
            pytest.fail(f"o processo terminou antes do sinal: {proc.communicate()}")
        if time.monotonic() > prazo:
            proc.kill()
            pytest.fail("tempo esgotado esperando o trabalho começar")
        time.sleep(0.002)


@pytest.fixture
def repo_grande(tmp_path: Path) -> tuple[Path, Path]:
    config = escrever(tmp_path / "c.json", json.dumps(CFG).encode())
    m = _grande(tmp_path / "m.h5", 240 * MiB)
    r = cli("backup", "--base", str(tmp_path / "repo"), "--config", str(config),
            "--modelo", str(m))  # fmt: skip
    assert r.returncode == 0, r.stderr
    m.unlink()
    return tmp_path / "repo", config


def test_sigterm_no_meio_da_restauracao_limpa_o_temporario(
    tmp_path: Path, repo_grande: tuple[Path, Path]
) -> None:
    repo, config = repo_grande
    dest = tmp_path / "dest"
    proc = _iniciar(
        "restaurar", "--base", str(repo), "--config", str(config),
        "--modelo", "m.h5", "--destino", f"{dest}/", cwd=tmp_path,
    )  # fmt: skip
    _esperar(lambda: any(dest.glob(".m.h5.*.restaurando")), proc)
    proc.send_signal(signal.SIGTERM)
    _, erro = proc.communicate(timeout=60)
    assert proc.returncode == 143, erro
    assert "Traceback" not in erro and "SIGTERM" in erro
    assert list(dest.iterdir()) == []  # no temp file, no half-written model
    assert 143 in CODIGOS_SAIDA


def test_sigterm_em_qualquer_momento_da_restauracao_sem_traceback(
    tmp_path: Path, repo_grande: tuple[Path, Path]
) -> None:
    # The signal lands at a different point of the restore each round (the
    # writer thread starting, writing, being stopped): never a traceback from
    # any thread, and never a half-written model.
    repo, config = repo_grande
    for i in range(12):
        dest = tmp_path / f"dest{i}"
        proc = _iniciar(
            "restaurar", "--base", str(repo), "--config", str(config),
            "--modelo", "m.h5", "--destino", f"{dest}/", cwd=tmp_path,
        )  # fmt: skip
        _esperar(lambda d=dest: any(d.glob(".m.h5.*.restaurando")), proc)
        time.sleep(i * 0.002)
        proc.send_signal(signal.SIGTERM)
        _, erro = proc.communicate(timeout=60)
        assert "Traceback" not in erro and "Exception in thread" not in erro, erro
        if proc.returncode == 143:
            assert list(dest.iterdir()) == []
        else:  # finished before the signal: the whole model is there
            assert proc.returncode == 0, erro
            assert [p.name for p in dest.iterdir()] == ["m.h5"]


def test_sigterm_no_meio_do_backup_nao_deixa_temporarios(
    tmp_path: Path, repo_grande: tuple[Path, Path]
) -> None:
    repo, config = repo_grande
    antes = {p for p in repo.rglob("*") if p.is_file()}
    novo = _grande(tmp_path / "novo.h5", 240 * MiB)
    proc = _iniciar(
        "backup", "--base", str(repo), "--config", str(config),
        "--modelo", str(novo), cwd=tmp_path,
    )  # fmt: skip

    def escrevendo() -> bool:  # a new data file (format 1 object, format 2 pack)
        return any(
            p not in antes and p.relative_to(repo).parts[0] in ("objetos", "pacotes")
            for p in repo.rglob("*")
            if p.is_file()
        )

    _esperar(escrevendo, proc)
    proc.send_signal(signal.SIGTERM)
    _, erro = proc.communicate(timeout=60)
    assert proc.returncode == 143, erro
    assert "Traceback" not in erro
    assert not [
        p for p in repo.rglob("*") if ".tmp" in p.name or "restaurando" in p.name
    ]
    assert not (repo / "modelos" / "novo.h5").exists() or not list(
        (repo / "modelos" / "novo.h5").glob("*.json")
    )
