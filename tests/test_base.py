"""The base layer's facts: one time parser, one "is it local?" (issue 20)."""

from __future__ import annotations

import errno
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.backends.memoria import BackendMemoria
from backup_versionamento.base.endereco import e_local, pasta_local
from backup_versionamento.base.escrita import erro_de_os
from backup_versionamento.base.tempo import iso_utc, ler_momento, momento_ou_none
from backup_versionamento.config import de_dicionario
from backup_versionamento.erros import (
    ErroEspacoInsuficiente,
    ErroPermissao,
    ErroRepositorio,
    ErroTransitorio,
)
from backup_versionamento.seguranca.contexto import ContextoSeguranca

from .conftest import cli
from .s3_servidor import servidor
from .test_cifra import _cfg, _config_arquivo, _modelo


def test_um_parser_de_momento() -> None:
    utc = datetime(2026, 11, 29, 17, 0, tzinfo=timezone.utc)
    for texto in (
        "2026-11-29T17:00:00Z",
        "2026-11-29T17:00:00z",
        "2026-11-29T17:00:00+00:00",
        "2026-11-29T14:00:00-03:00",
        "2026-11-29T17:00:00",  # no zone: UTC, the only zone this tool writes
    ):
        assert ler_momento(texto) == utc, texto
    assert iso_utc(ler_momento("2026-11-29T14:00:00-03:00")) == "2026-11-29T17:00:00Z"
    with pytest.raises(ValueError):
        ler_momento("ontem")
    assert momento_ou_none("ontem") is None and momento_ou_none(3) is None


def test_endereco_local_perguntado_uma_vez(tmp_path: Path) -> None:
    assert e_local(str(tmp_path)) and pasta_local(str(tmp_path)) == tmp_path
    assert not e_local("s3://b/p") and pasta_local("s3://b/p") is None
    assert pasta_local(None) is None


def test_contexto_de_seguranca_nao_faz_de_s3_uma_pasta() -> None:
    # Path("s3://b/p") is the local path 's3:/b/p': it used to count as local.
    cfg = de_dicionario({"diretorios": {"base": "s3://balde/p"}})
    ctx = ContextoSeguranca(cfg, BackendMemoria())
    assert ctx.base is None


def test_chaves_listar_num_repositorio_s3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `chaves listar` built Path("s3://...") and looked in a local folder 's3:'.
    monkeypatch.delenv("BACKUP_VERSIONAMENTO_SENHA", raising=False)
    srv = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", srv.url)
    for nome, valor in srv.ambiente().items():
        monkeypatch.setenv(nome, valor)
    base = f"s3://{srv.novo_bucket()}/equipe"
    cfg = _cfg(tmp_path)
    with GerenciadorBackupVersionamento(base, cfg) as g:
        g.criar_backup(_modelo(tmp_path), "patch")
    arquivo = str(_config_arquivo(tmp_path, cfg))
    r = cli(
        "chaves", "listar", "--base", base, "--config", arquivo, "--json",
        env=srv.ambiente(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 1


def test_uma_traducao_de_erro_de_os() -> None:
    cheio = OSError(errno.ENOSPC, "No space left on device")
    assert isinstance(erro_de_os(cheio, "x"), ErroEspacoInsuficiente)
    negado = OSError(errno.EACCES, "Permission denied")
    assert isinstance(erro_de_os(negado, "x", repositorio=True), ErroPermissao)
    eio = OSError(errno.EIO, "I/O error")
    assert isinstance(erro_de_os(eio, "x", repositorio=True), ErroRepositorio)
    intr = OSError(errno.EINTR, "Interrupted")
    assert isinstance(erro_de_os(intr, "x", repositorio=True), ErroTransitorio)
    assert "x: " in str(erro_de_os(eio, "x"))
