"""A short-lived CLI command delivers its webhooks and mirror push before exit.

Real CLI subprocesses, a real HTTP receiver on 127.0.0.1 and a real S3 server
(moto) on loopback. Each check looks right after the process ended: nothing is
left to a thread that dies with the process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import cli, escrever
from .s3_servidor import ServidorS3, porta_livre, servidor
from .test_webhooks import Receptor


@pytest.fixture
def receptor() -> Iterator[Receptor]:
    r = Receptor()
    yield r
    r.fechar()


def _config(tmp_path: Path, nome: str, **integracao: Any) -> Path:
    arquivo = tmp_path / nome
    arquivo.write_text(
        json.dumps(
            {
                "diretorios": {"base": str(tmp_path / "repo")},
                "validacao": {"modo": "desligado"},
                "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
                "integracao": integracao,
            }
        )
    )
    return arquivo


def _eventos(receptor: Receptor) -> list[str]:
    return [json.loads(p["corpo"])["evento"] for p in receptor.pedidos]


def test_backup_pela_cli_entrega_o_webhook_antes_de_sair(
    tmp_path: Path, receptor: Receptor
) -> None:
    cfg = _config(
        tmp_path, "c.json", webhook={"habilitado": True, "url": receptor.url("/")}
    )
    modelo = escrever(tmp_path / "m.pkl", b"um")
    r = cli("backup", "--config", str(cfg), "--modelo", str(modelo))
    assert r.returncode == 0, r.stderr
    assert _eventos(receptor) == ["backup_criado"]  # already there, no waiting


def test_pendente_sai_com_qualquer_comando_com_webhooks_ligados(
    tmp_path: Path,
) -> None:
    porta = porta_livre()  # the receiver is down during the backup
    url = f"http://127.0.0.1:{porta}/"
    cfg = _config(
        tmp_path,
        "c.json",
        webhook={"habilitado": True, "url": url, "espera_ao_sair_segundos": 1},
    )
    modelo = escrever(tmp_path / "m.pkl", b"um")
    inicio = time.monotonic()
    r = cli("backup", "--config", str(cfg), "--modelo", str(modelo))
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - inicio < 15  # bounded by espera_ao_sair_segundos
    st = json.loads(cli("status", "--config", str(cfg), "--json").stdout)
    assert st["integracoes"]["webhook"]["pendentes"] == 1
    receptor = Receptor(porta)
    try:
        time.sleep(2.5)  # past the backoff of the failed attempts
        r = cli("listar", "--config", str(cfg))
        assert r.returncode == 0, r.stderr
        assert _eventos(receptor) == ["backup_criado"]
    finally:
        receptor.fechar()
    st = json.loads(cli("status", "--config", str(cfg), "--json").stdout)
    assert st["integracoes"]["webhook"]["pendentes"] == 0


def test_receptor_que_nao_responde_nao_prende_a_cli(
    tmp_path: Path, receptor: Receptor
) -> None:
    receptor.respostas = [(200, {}, 20.0)]  # holds the request for 20 s
    cfg = _config(
        tmp_path,
        "c.json",
        webhook={
            "habilitado": True,
            "url": receptor.url("/"),
            "espera_ao_sair_segundos": 1,
        },
    )
    modelo = escrever(tmp_path / "m.pkl", b"um")
    inicio = time.monotonic()
    r = cli("backup", "--config", str(cfg), "--modelo", str(modelo))
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - inicio < 10
    assert len(receptor.pedidos) == 1
    st = json.loads(cli("status", "--config", str(cfg), "--json").stdout)
    # Not acknowledged: still pending for the next process (same webhook-id).
    assert st["integracoes"]["webhook"]["pendentes"] == 1


def _chaves(srv: ServidorS3, bucket: str) -> list[str]:
    resposta = srv.cliente().list_objects_v2(Bucket=bucket)
    return [o["Key"] for o in resposta.get("Contents", [])]


def test_espelho_pendente_vai_no_proximo_comando(tmp_path: Path) -> None:
    srv = servidor()
    bucket = srv.novo_bucket()
    nuvem = {"habilitado": True, "bucket": bucket, "prefixo": "esp"}
    fora = _config(
        tmp_path,
        "fora.json",
        cloud_storage={**nuvem, "endpoint_url": f"http://127.0.0.1:{porta_livre()}"},
    )
    no_ar = _config(
        tmp_path, "no_ar.json", cloud_storage={**nuvem, "endpoint_url": srv.url}
    )
    env = srv.ambiente()
    modelo = escrever(tmp_path / "m.pkl", b"um")
    r = cli("backup", "--config", str(fora), "--modelo", str(modelo), env=env)
    assert r.returncode == 0, r.stderr
    assert _chaves(srv, bucket) == []
    # Any command with the mirror on pushes what is pending before it exits.
    r = cli("listar", "--config", str(no_ar), env=env)
    assert r.returncode == 0, r.stderr
    chaves = _chaves(srv, bucket)
    assert "esp/modelos/m.pkl/1.0.0.json" in chaves
    assert "esp/repositorio.json" in chaves
    # A CLI backup with the store up is in the bucket when the command returns.
    escrever(modelo, b"dois")
    r = cli("backup", "--config", str(no_ar), "--modelo", str(modelo), env=env)
    assert r.returncode == 0, r.stderr
    assert "esp/modelos/m.pkl/1.0.1.json" in _chaves(srv, bucket)
