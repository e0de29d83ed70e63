"""OS errors reach the user in Portuguese, never as English or a traceback."""

from __future__ import annotations

import errno
import json
from pathlib import Path

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.base.escrita import erro_de_os, mensagem_os
from backup_versionamento.erros import ErroArquivoNaoEncontrado, ErroPermissao

from .conftest import cli, escrever


def test_mensagem_os_em_portugues() -> None:
    e = IsADirectoryError(errno.EISDIR, "Is a directory", "/x")
    assert mensagem_os(e) == "é uma pasta, não um arquivo (EISDIR)"
    ro = OSError(errno.EROFS, "Read-only file system", "/mnt")
    assert "somente leitura" in mensagem_os(ro)
    erro = erro_de_os(ro)
    assert isinstance(erro, ErroPermissao) and str(erro).startswith("/mnt: ")
    assert "Read-only" not in str(erro)
    assert isinstance(
        erro_de_os(FileNotFoundError(2, "x", "a")), ErroArquivoNaoEncontrado
    )


def test_ajuda_e_config_sem_ingles(tmp_path: Path) -> None:
    r = cli("--help")
    assert "mostra a versão e sai" in r.stdout
    assert "show program" not in r.stdout
    r = cli("status", "--config", str(tmp_path))  # a folder given as the config
    assert r.returncode == 3, r.stderr
    assert "é uma pasta, não um arquivo" in r.stderr
    assert "Is a directory" not in r.stderr and "Errno" not in r.stderr


def test_destino_com_nome_longo_demais(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    cfg = {"validacao": {"modo": "desligado"}}
    config = escrever(tmp_path / "c.json", json.dumps(cfg).encode())
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(escrever(tmp_path / "m.h5", b"x" * 10), "patch")
    r = cli(
        "restaurar", "--base", str(repo), "--config", str(config),
        "--modelo", "m.h5", "--destino", str(tmp_path / ("n" * 300)),
    )  # fmt: skip
    assert r.returncode == 13, r.stderr
    assert "nome de arquivo longo demais" in r.stderr
    assert "Traceback" not in r.stderr and "File name too long" not in r.stderr
