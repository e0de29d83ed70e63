"""Ed25519 signatures of sidecars: signed, checked by verificar and before restore."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroConfiguracao, ErroIntegridade

from .ajuda_cifra import gravar_sidecar_json, ler_sidecar_json
from .conftest import aleatorio, cli, escrever


@pytest.fixture
def par(tmp_path: Path) -> tuple[str, str]:
    r = cli("chaves", "gerar-assinatura", "--saida", str(tmp_path / "ass"), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert oct(Path(d["chave_privada"]).stat().st_mode & 0o777) == "0o600"
    return d["chave_privada"], d["chave_publica"]


def _cfg(
    privada: str = "", publica: str = "", obrigatoria: bool = False
) -> dict[str, Any]:
    return {
        "validacao": {"modo": "desligado"},
        "seguranca": {
            "assinatura": {
                "habilitada": True,
                "chave_privada": privada,
                "chave_publica": publica,
                "obrigatoria": obrigatoria,
            }
        },
    }


def _backup(
    tmp_path: Path,
    g: GerenciadorBackupVersionamento,
    nome: str = "m.bin",
    semente: int = 0,
) -> str:
    return g.criar_backup(
        escrever(tmp_path / "src" / nome, aleatorio(300_000, semente)), "patch"
    )


def test_versao_assinada_e_conferida(tmp_path: Path, par: tuple[str, str]) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        _backup(tmp_path, g)
        sc = g.repo.ler_versao("m.bin", "1.0.0")
        assert sc.assinatura and sc.assinatura["algoritmo"] == "Ed25519"
        assert g.verificar_integridade()["ok"]
    # A restore-only machine with the public key alone checks it too.
    with GerenciadorBackupVersionamento(repo, _cfg("", par[1], True)) as g:
        g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r")
    assert (tmp_path / "r" / "m.bin").exists()


def test_sidecar_editado_falha_na_assinatura(
    tmp_path: Path, par: tuple[str, str]
) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        _backup(tmp_path, g)
    arq = repo / "modelos" / "m.bin" / "1.0.0.json"
    sc = ler_sidecar_json(arq)
    sc["descricao"] = "editada depois"
    gravar_sidecar_json(arq, sc)
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        rel = g.verificar_integridade()
        assert rel["versoes_com_problema"] == ["m.bin 1.0.0"]
        assert "assinatura Ed25519 inválida" in rel["problemas"][0]["mensagem"]
        with pytest.raises(ErroIntegridade, match="assinatura"):
            g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r")
    assert not (tmp_path / "r").exists()
    r = cli(
        "verificar",
        "--base",
        str(repo),
        "--config",
        str(_arquivo(tmp_path, _cfg(*par))),
    )
    assert r.returncode == 9


def _arquivo(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    arq = tmp_path / "cfg.json"
    arq.write_text(json.dumps(cfg))
    return arq


def test_sidecar_reaproveitado_em_outra_versao_falha(
    tmp_path: Path, par: tuple[str, str]
) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        _backup(tmp_path, g, "a.bin")
        _backup(tmp_path, g, "a.bin", 1)
    # The signed content of 1.0.0 renamed to say 1.0.1, signature kept: refused.
    v1 = ler_sidecar_json(repo / "modelos" / "a.bin" / "1.0.0.json")
    v1["versao"] = "1.0.1"
    gravar_sidecar_json(repo / "modelos" / "a.bin" / "1.0.1.json", v1)
    with (
        GerenciadorBackupVersionamento(repo, _cfg(*par)) as g,
        pytest.raises(ErroIntegridade, match="assinatura"),
    ):
        g.restaurar_backup("a.bin", "1.0.1", tmp_path / "r")


def test_sidecar_de_outro_modelo_falha(tmp_path: Path, par: tuple[str, str]) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        _backup(tmp_path, g, "a.bin")
        _backup(tmp_path, g, "b.bin", 1)
    shutil.copy(
        repo / "modelos" / "a.bin" / "1.0.0.json",
        repo / "modelos" / "b.bin" / "1.0.0.json",
    )
    with (
        GerenciadorBackupVersionamento(repo, _cfg(*par)) as g,
        pytest.raises(ErroIntegridade),
    ):
        g.restaurar_backup("b.bin", "1.0.0", tmp_path / "r")


def test_assinatura_de_outra_chave_e_obrigatoria(
    tmp_path: Path, par: tuple[str, str]
) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(
        repo, {"validacao": {"modo": "desligado"}}
    ) as g:
        _backup(tmp_path, g)  # unsigned
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r1")  # not required: fine
        _backup(tmp_path, g, semente=1)
    with (
        GerenciadorBackupVersionamento(repo, _cfg("", par[1], True)) as g,
        pytest.raises(ErroIntegridade, match="sem assinatura"),
    ):
        g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r2")
        g.restaurar_backup("m.bin", "1.0.1", tmp_path / "r3")
    outro = cli(
        "chaves", "gerar-assinatura", "--saida", str(tmp_path / "outra"), "--json"
    )
    publica_outra = json.loads(outro.stdout)["chave_publica"]
    with (
        GerenciadorBackupVersionamento(repo, _cfg("", publica_outra)) as g,
        pytest.raises(ErroIntegridade, match="outra chave"),
    ):
        g.restaurar_backup("m.bin", "1.0.1", tmp_path / "r4")


def test_configuracao_de_assinatura_validada(
    tmp_path: Path, par: tuple[str, str]
) -> None:
    with pytest.raises(ErroConfiguracao, match="sem chave"):
        GerenciadorBackupVersionamento(tmp_path / "repo", _cfg())
    outro = json.loads(
        cli(
            "chaves", "gerar-assinatura", "--saida", str(tmp_path / "o"), "--json"
        ).stdout
    )
    with pytest.raises(ErroConfiguracao, match="não formam um par"):
        GerenciadorBackupVersionamento(
            tmp_path / "repo", _cfg(par[0], outro["chave_publica"])
        )
    r = cli("chaves", "gerar-assinatura", "--saida", str(tmp_path / "ass"))
    assert r.returncode == 3 and "não é sobrescrito" in r.stderr
