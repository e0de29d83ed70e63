"""Access control: the CLI run for real as another OS user (forked + setuid 65534)."""

from __future__ import annotations

import json
import logging
import os
import pwd
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroConfiguracao

from .conftest import aleatorio, escrever

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="setuid exige root")


@pytest.fixture
def pasta() -> Iterator[Path]:
    # Outside pytest's 0700 tmp folders: the other user must reach it.
    p = Path(tempfile.mkdtemp(prefix="bv_acesso_"))
    os.chmod(p, 0o777)
    yield p
    subprocess.run(["rm", "-rf", str(p)], check=True)


def _abrir(p: Path) -> None:
    """The shared-group setup of a team, for a test user outside root's group."""
    subprocess.run(["chmod", "-R", "a+rwX", str(p)], check=True)


def _como_nobody(pasta: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI's `main` in a forked child that became user nobody.

    Forked, not exec'd: the interpreter lives under /root, which nobody cannot
    enter; everything the CLI imports is already loaded here.
    """
    from backup_versionamento.cli import criar_parser, main

    criar_parser()  # import every subcommand before the fork
    saida, erro = pasta / f"saida.{os.getpid()}", pasta / f"erro.{os.getpid()}"
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        codigo = 70
        try:
            os.setgid(NOBODY)
            os.setgroups([])
            os.setuid(NOBODY)
            os.environ["XDG_CACHE_HOME"] = str(pasta / "cache_nobody")
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


def _preparar(pasta: Path, usuarios: Any) -> tuple[Path, Path, Path]:
    nome = pwd.getpwuid(NOBODY).pw_name
    if isinstance(usuarios, dict):
        usuarios = {nome if k == "NOBODY" else k: v for k, v in usuarios.items()}
    else:
        usuarios = [nome if u == "NOBODY" else u for u in usuarios]
    cfg = {
        "validacao": {"modo": "desligado"},
        "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
        "retencao": {"carencia_coleta_minutos": 0},
        "seguranca": {
            "controle_acesso": {"habilitado": True, "usuarios_autorizados": usuarios}
        },
    }
    arq_cfg = pasta / "cfg.json"
    arq_cfg.write_text(json.dumps(cfg))
    repo = pasta / "repo"
    m = escrever(pasta / "src" / "m.bin", aleatorio(100_000))
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(m, "patch")
    escrever(m, aleatorio(100_000, 1))
    _abrir(pasta)
    return repo, arq_cfg, m


def _acoes(repo: Path, cfg: Path, m: Path, pasta: Path) -> dict[str, list[str]]:
    comum = ["--base", str(repo), "--config", str(cfg)]
    return {
        "backup": ["backup", "--modelo", str(m), *comum],
        "restaurar": [
            "restaurar", "--modelo", "m.bin", "--versao", "1.0.0",
            "--destino", str(pasta / "dest") + "/", *comum,
        ],
        "limpeza": ["limpeza", *comum],
        "admin": ["fixar", "--modelo", "m.bin", "--versao", "1.0.0", *comum],
    }  # fmt: skip


@pytest.mark.parametrize("papel", ["backup", "restaurar", "limpeza"])
def test_cada_papel_so_faz_o_seu(pasta: Path, papel: str) -> None:
    repo, cfg, m = _preparar(pasta, {"root": ["admin"], "NOBODY": [papel]})
    acoes = _acoes(repo, cfg, m, pasta)
    for acao, argv in acoes.items():
        r = _como_nobody(pasta, *argv)
        if acao == papel:
            assert r.returncode == 0, (acao, r.stderr)
        else:
            assert r.returncode == 17, (papel, acao, r.returncode, r.stderr)
            assert "acesso negado" in r.stderr and "Traceback" not in r.stderr
            assert pwd.getpwuid(NOBODY).pw_name in r.stderr
    # Reading (listar) needs any role.
    assert (
        _como_nobody(
            pasta, "listar", "--base", str(repo), "--config", str(cfg)
        ).returncode
        == 0
    )
    # Every denial is in the audit log, with the user and the result.
    entradas = [
        json.loads(x)
        for x in (repo / "logs" / "auditoria.jsonl").read_text().splitlines()
    ]
    negadas = [e for e in entradas if e["resultado"] == "negado"]
    assert len(negadas) == 3
    assert {e["usuario"] for e in negadas} == {pwd.getpwuid(NOBODY).pw_name}
    assert {e["alvo"] for e in negadas} == set(acoes) - {papel}


def test_usuario_fora_da_lista_nao_faz_nada(pasta: Path) -> None:
    repo, cfg, m = _preparar(pasta, ["root"])
    for acao, argv in _acoes(repo, cfg, m, pasta).items():
        r = _como_nobody(pasta, *argv)
        assert r.returncode == 17, (acao, r.stderr)
    r = _como_nobody(pasta, "listar", "--base", str(repo), "--config", str(cfg))
    assert r.returncode == 17 and "papéis dele: nenhum" in r.stderr
    assert not (pasta / "dest").exists()


def test_lista_simples_permite_tudo(pasta: Path) -> None:
    repo, cfg, m = _preparar(pasta, ["root", "NOBODY"])
    for acao, argv in _acoes(repo, cfg, m, pasta).items():
        r = _como_nobody(pasta, *argv)
        assert r.returncode == 0, (acao, r.stderr)


def test_papeis_invalidos_na_configuracao(tmp_path: Path) -> None:
    cfg = {
        "seguranca": {
            "controle_acesso": {
                "habilitado": True,
                "usuarios_autorizados": {"ana": ["backup", "dono"]},
            }
        }
    }
    with pytest.raises(ErroConfiguracao, match="papéis inválidos"):
        GerenciadorBackupVersionamento(tmp_path / "repo", cfg)


def test_repositorio_sem_acesso_para_outros(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    usuario = pwd.getpwuid(os.geteuid()).pw_name
    cfg = {
        "validacao": {"modo": "desligado"},
        "seguranca": {
            "controle_acesso": {"habilitado": True, "usuarios_autorizados": [usuario]}
        },
    }
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(escrever(tmp_path / "m.bin", aleatorio(50_000)), "patch")
    criados = [repo, *repo.rglob("*")]
    assert any(p.is_file() and "pacotes" in p.parts for p in criados)
    for p in criados:
        if p.name.endswith(".log") or "logs" in p.parts:
            continue  # the logs keep their own modes (group-shared journal)
        assert p.stat().st_mode & 0o007 == 0, (p, oct(p.stat().st_mode))
