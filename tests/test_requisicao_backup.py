"""The backup request: validated once, the source walked once (issue 20)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.arvore import leitura
from backup_versionamento.erros import (
    ErroArgumento,
    ErroArquivoNaoEncontrado,
    ErroTipoMudanca,
    ErroValidacao,
)
from backup_versionamento.servicos.requisicao import RequisicaoBackup
from tests.conftest import cli_json, escrever

CFG = {"validacao": {"modo": "desligado"}}


def _pasta_modelo(raiz: Path) -> Path:
    pasta = raiz / "modelo_pasta"
    escrever(pasta / "saved_model.pb", b"grafo" * 200)
    escrever(pasta / "variables" / "variables.data", b"pesos" * 500)
    escrever(pasta / "variables" / "variables.index", b"idx" * 10)
    return pasta


@pytest.fixture
def passeios(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every os.walk started by the backup's reading module (a counter only)."""
    feitos: list[str] = []
    walk = os.walk

    def contando(top: Any, *a: Any, **k: Any) -> Any:
        feitos.append(os.fspath(top))
        return walk(top, *a, **k)

    monkeypatch.setattr(leitura.os, "walk", contando)
    return feitos


def test_pasta_percorrida_uma_vez_no_backup(
    tmp_path: Path, passeios: list[str]
) -> None:
    pasta = _pasta_modelo(tmp_path)
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        assert g.criar_backup(pasta, "minor") == "1.0.0"
        assert passeios == [str(pasta)]
        # The unchanged second backup is skipped from the same single walk.
        passeios.clear()
        assert g.criar_backup(pasta, "minor").nova_versao is False
        assert passeios == [str(pasta)]
        # A changed folder: one walk serves the skip check and the write.
        passeios.clear()
        escrever(pasta / "variables" / "variables.data", b"novos" * 500)
        assert g.criar_backup(pasta, "minor") == "1.1.0"
        assert passeios == [str(pasta)]
        restaurada = Path(g.restaurar_backup(pasta.name, "1.1.0", tmp_path / "r"))
    assert (restaurada / "variables" / "variables.data").read_bytes() == (
        b"novos" * 500
    )


def test_requisicao_pronta_e_a_mesma_que_a_da_api(tmp_path: Path) -> None:
    pasta = _pasta_modelo(tmp_path)
    req = RequisicaoBackup.de(
        pasta, "minor", "primeira", {"acertos_13": 0.5}, nome_modelo="rede"
    )
    assert (req.modelo, req.incremento, req.descricao) == ("rede", "minor", "primeira")
    assert req.listagem.tipo == "diretorio"
    assert req.listagem.tamanho == 5 * 200 + 5 * 500 + 3 * 10
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        r = g.criar_backup(req)
        assert (r.modelo, r.versao, r.nova_versao) == ("rede", "1.0.0", True)
        info = g.obter_versao("rede", "1.0.0")
        assert info["descricao"] == "primeira"
        assert info["metricas"] == {"acertos_13": 0.5}
        # The same request again: content unchanged, nothing new.
        assert g.criar_backup(req).nova_versao is False


def test_requisicao_pronta_nao_aceita_outros_campos(tmp_path: Path) -> None:
    arq = escrever(tmp_path / "m.pkl", b"abc")
    req = RequisicaoBackup.de(arq)
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        with pytest.raises(ErroArgumento, match="vêm dela"):
            g.criar_backup(req, "major")
        with pytest.raises(ErroArgumento, match="vêm dela"):
            g.criar_backup(req, forcar=True)
        assert g.listar_modelos() == []


def test_requisicao_invalida_nao_cria_nada(tmp_path: Path) -> None:
    with pytest.raises(ErroArquivoNaoEncontrado):
        RequisicaoBackup.de(tmp_path / "nao_existe.h5")
    arq = escrever(tmp_path / "m.pkl", b"abc")
    with pytest.raises(ErroTipoMudanca):
        RequisicaoBackup.de(arq, "enorme")
    with pytest.raises(ErroArgumento):
        RequisicaoBackup.de(arq, descricao="x" * 5000)
    with pytest.raises(ErroArgumento):
        RequisicaoBackup.de(arq, forcar="sim")  # type: ignore[arg-type]
    with pytest.raises(ErroValidacao):
        RequisicaoBackup.de(arq, metricas={"acertos_13": 7})
    with pytest.raises(ErroArgumento, match="nome de modelo"):
        RequisicaoBackup.de(arq, nome_modelo="a/b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pkl"]


def test_cli_e_api_guardam_o_mesmo(tmp_path: Path) -> None:
    pasta = _pasta_modelo(tmp_path)
    repo_cli, repo_api = tmp_path / "rc", tmp_path / "ra"
    saida = cli_json(
        "backup",
        "--base",
        str(repo_cli),
        "--modelo",
        str(pasta),
        "--tipo-mudanca",
        "minor",
        "--descricao",
        "d",
    )
    assert (saida["versao"], saida["nova_versao"]) == ("1.0.0", True)
    with GerenciadorBackupVersionamento(repo_api, {}) as g:
        assert g.criar_backup(pasta, "minor", "d") == "1.0.0"
        api = g.obter_versao(pasta.name, "1.0.0")
    with GerenciadorBackupVersionamento(repo_cli, {}) as g:
        via_cli = g.obter_versao(pasta.name, "1.0.0")
    for campo in ("sha256", "tamanho", "tipo", "descricao", "incremento", "origem"):
        assert via_cli[campo] == api[campo], campo
