"""Secrets from a 0600 file or an environment variable, not in clear in the config."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.config import carregar
from backup_versionamento.erros import ErroConfiguracao
from backup_versionamento.relatorios.painel import Painel, ServidorPainel
from backup_versionamento.segredos import VARIAVEL_PAINEL, VARIAVEL_WEBHOOK

from .ajuda_automacao import esperar
from .conftest import cli, escrever
from .test_webhooks import Receptor, assinatura_esperada


def _segredo(tmp_path: Path, nome: str, texto: str, modo: int = 0o600) -> Path:
    arq = tmp_path / nome
    arq.write_text(texto + "\n")
    os.chmod(arq, modo)
    return arq


def _config(tmp_path: Path, dados: dict[str, Any], modo: int = 0o600) -> Path:
    arq = tmp_path / "config_backup.json"
    base = {
        "diretorios": {"base": str(tmp_path / "repo")},
        "validacao": {"modo": "desligado"},
        "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
    }
    arq.write_text(json.dumps({**base, **dados}))
    os.chmod(arq, modo)
    return arq


def test_segredo_do_webhook_de_um_arquivo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(VARIAVEL_WEBHOOK, raising=False)
    _segredo(tmp_path, "webhook.segredo", "segredo vindo do arquivo")
    receptor = Receptor()
    try:
        cfg = _config(
            tmp_path,
            {
                "integracao": {
                    "webhook": {
                        "habilitado": True,
                        "url": receptor.url("/a"),
                        "segredo_arquivo": "webhook.segredo",  # relative to config
                        "endpoints": [
                            {
                                "url": receptor.url("/b"),
                                "segredo_arquivo": str(tmp_path / "webhook.segredo"),
                            }
                        ],
                    }
                }
            },
        )
        with GerenciadorBackupVersionamento(config=cfg) as g:
            g.criar_backup(escrever(tmp_path / "m.pkl", b"um"), "patch")
            esperar(lambda: len(receptor.pedidos) == 2, mensagem="2 entregas")
        for p in receptor.pedidos:
            assert p["cabecalhos"]["webhook-signature"] == assinatura_esperada(
                b"segredo vindo do arquivo", p["cabecalhos"], p["corpo"]
            )
        # The environment variable wins over the file (top-level endpoint).
        receptor.pedidos.clear()
        monkeypatch.setenv(VARIAVEL_WEBHOOK, "segredo do ambiente")
        with GerenciadorBackupVersionamento(config=cfg) as g:
            g.criar_backup(escrever(tmp_path / "m.pkl", b"dois"), "patch")
            esperar(lambda: len(receptor.pedidos) == 2, mensagem="2 entregas")
        [a] = receptor.de("/a")
        assert a["cabecalhos"]["webhook-signature"] == assinatura_esperada(
            b"segredo do ambiente", a["cabecalhos"], a["corpo"]
        )
    finally:
        receptor.fechar()
    # `config` never prints it.
    r = cli("config", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "segredo vindo" not in r.stdout
    assert json.loads(r.stdout)["integracao"]["webhook"]["segredo"] == "***"


def test_arquivo_de_segredo_legivel_por_outros_e_recusado(tmp_path: Path) -> None:
    arq = _segredo(tmp_path, "token", "abc", 0o644)
    cfg = _config(
        tmp_path,
        {
            "relatorios": {
                "painel_endereco": "0.0.0.0",
                "painel_token_arquivo": str(arq),
            }
        },
    )
    r = cli("status", "--config", str(cfg))
    assert r.returncode == 3
    assert str(arq) in r.stderr and "chmod 600" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "repo").exists()
    os.chmod(arq, 0o600)
    assert carregar(cfg)["relatorios"]["painel_token"] == "abc"
    # Missing file, and both ways at once: clear errors.
    with pytest.raises(ErroConfiguracao, match="sumiu"):
        cfg.write_text(
            json.dumps(
                {"relatorios": {"painel_token_arquivo": str(tmp_path / "sumiu")}}
            )
        )
        carregar(cfg)
    cfg.write_text(
        json.dumps({"relatorios": {"painel_token": "x", "painel_token_arquivo": "t"}})
    )
    with pytest.raises(ErroConfiguracao, match="use só um"):
        carregar(cfg)


def test_token_do_painel_do_ambiente_protege_o_painel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIAVEL_PAINEL, "t0k3n-do-ambiente")
    cfg = _config(tmp_path, {"relatorios": {"painel_endereco": "0.0.0.0"}})
    with GerenciadorBackupVersionamento(config=cfg) as g:
        token = g.config["relatorios"]["painel_token"]
        assert token == "t0k3n-do-ambiente"
        s = ServidorPainel(Painel(g), "127.0.0.1", 0, token)
        s.iniciar()
        try:
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(s.url + "metrics", timeout=10)
            assert e.value.code == 401
            pedido = urllib.request.Request(
                s.url + "metrics", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(pedido, timeout=10) as resp:
                assert resp.status == 200
        finally:
            s.parar()


def test_aviso_de_segredo_em_config_legivel(tmp_path: Path) -> None:
    dados = {"integracao": {"webhook": {"segredo": "em-claro"}}}
    cfg = _config(tmp_path, dados, 0o644)
    r = cli("config", "--validar", "--config", str(cfg))
    assert r.returncode == 0
    assert "integracao.webhook.segredo em claro" in r.stderr
    assert "chmod 600" in r.stderr
    os.chmod(cfg, 0o600)
    r = cli("config", "--validar", "--config", str(cfg))
    assert r.returncode == 0 and "em claro" not in r.stderr
