"""A group-owned local repository: the kernel, not a config file, enforces roles.

The CLI runs for real as user nobody (forked + setuid), once inside the team's
group (nogroup, 65534) and once outside it.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento

from .conftest import aleatorio, escrever

NOBODY = 65534
FORA_DO_GRUPO = 65533
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="setuid exige root")


@pytest.fixture
def pasta() -> Iterator[Path]:
    p = Path(tempfile.mkdtemp(prefix="bv_grupo_"))
    os.chmod(p, 0o777)
    yield p
    subprocess.run(["rm", "-rf", str(p)], check=True)


def _como(pasta: Path, gid: int, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI's `main` in a forked child running as nobody with group `gid`."""
    from backup_versionamento.cli import criar_parser, main

    criar_parser()  # import every subcommand before the fork
    saida, erro = pasta / f"saida.{os.getpid()}", pasta / f"erro.{os.getpid()}"
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        codigo = 70
        try:
            os.setgid(gid)
            os.setgroups([])
            os.setuid(NOBODY)
            os.environ["XDG_CACHE_HOME"] = str(pasta / f"cache_{gid}")
            os.chdir(pasta)
            for fd, arq in ((1, saida), (2, erro)):
                alvo = os.open(arq, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                os.dup2(alvo, fd)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            logging.getLogger().handlers.clear()
            codigo = main(list(args))
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException as e:
            os.write(2, repr(e).encode())
        finally:
            os._exit(codigo)
    _, status = os.waitpid(pid, 0)
    r = subprocess.CompletedProcess(
        list(args),
        os.waitstatus_to_exitcode(status),
        saida.read_text(),
        erro.read_text(),
    )
    saida.unlink()
    erro.unlink()
    return r


def _cfg(pasta: Path, papel: str) -> tuple[dict[str, Any], Path]:
    cfg = {
        "validacao": {"modo": "desligado"},
        "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
        "retencao": {"por_quantidade": {"maximo_versoes_por_modelo": 1}},
        "seguranca": {"controle_acesso": {"grupo": "nogroup", "papel_grupo": papel}},
    }
    arq = pasta / f"cfg_{papel}.json"
    arq.write_text(json.dumps(cfg))
    os.chmod(arq, 0o644)
    return cfg, arq


def _modos(repo: Path) -> set[tuple[int, int]]:
    """(group, mode) of every file and folder, logs apart."""
    return {
        (p.stat().st_gid, stat.S_IMODE(p.stat().st_mode))
        for p in [repo, *repo.rglob("*")]
        if "logs" not in p.relative_to(repo).parts
    }


def test_leitor_e_operador_impostos_pelo_sistema(pasta: Path) -> None:
    repo = pasta / "repo"
    src = pasta / "src"
    m = escrever(src / "m.bin", aleatorio(300_000))
    subprocess.run(["chmod", "-R", "a+rX", str(src)], check=True)
    cfg, arq = _cfg(pasta, "leitor")
    with GerenciadorBackupVersionamento(repo, cfg) as g:  # root: the administrator
        g.criar_backup(m, "patch")
    assert _modos(repo) == {(NOBODY, 0o2750), (NOBODY, 0o640)}
    comum = ["--base", str(repo), "--config", str(arq)]
    restaurar = ["restaurar", "--modelo", "m.bin", "--versao", "1.0.0"]

    # Reader: lists and restores; cannot create a version.
    r = _como(pasta, NOBODY, "listar", "--modelo", "m.bin", *comum)
    assert r.returncode == 0, r.stderr
    r = _como(pasta, NOBODY, *restaurar, "--destino", str(pasta / "d1") + "/", *comum)
    assert r.returncode == 0, r.stderr
    assert (pasta / "d1" / "m.bin").read_bytes() == m.read_bytes()
    escrever(m, aleatorio(300_000, 1))
    os.chmod(m, 0o644)
    r = _como(pasta, NOBODY, "backup", "--modelo", str(m), *comum)
    assert r.returncode == 5 and "Traceback" not in r.stderr, r.stderr
    assert sorted(p.name for p in (repo / "modelos" / "m.bin").iterdir()) == [
        "1.0.0.json"
    ]
    # Not in the group: nothing at all.
    r = _como(pasta, FORA_DO_GRUPO, "listar", *comum)
    assert r.returncode == 5 and "Traceback" not in r.stderr, r.stderr

    # Operator: the administrator switches the role; members now back up...
    cfg, arq = _cfg(pasta, "operador")
    with GerenciadorBackupVersionamento(repo, cfg):
        pass
    comum = ["--base", str(repo), "--config", str(arq)]
    assert stat.S_IMODE(repo.stat().st_mode) == 0o3770
    r = _como(pasta, NOBODY, "backup", "--modelo", str(m), *comum)
    assert r.returncode == 0, r.stderr
    novo = repo / "modelos" / "m.bin" / "1.0.1.json"
    assert novo.stat().st_uid == NOBODY and novo.stat().st_gid == NOBODY
    assert stat.S_IMODE(novo.stat().st_mode) == 0o640
    # ...but cannot delete what others published (retention keeps 1: 1.0.0 goes).
    r = _como(pasta, NOBODY, "limpeza", *comum)
    assert r.returncode == 5 and "Traceback" not in r.stderr, r.stderr
    assert (repo / "modelos" / "m.bin" / "1.0.0.json").exists()
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        assert g.verificar_integridade()["ok"]
