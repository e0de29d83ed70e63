"""Webhooks: a real HTTP receiver on loopback, real processes, real signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroArquivoNaoEncontrado, ErroConfiguracao

from .ajuda_automacao import esperar
from .conftest import RAIZ, cli, escrever

SEGREDO_BYTES = b"segredo de teste com 32 bytes!!!"
SEGREDO = "whsec_" + base64.b64encode(SEGREDO_BYTES).decode()


def assinatura_esperada(chave: bytes, cabecalhos: dict[str, str], corpo: bytes) -> str:
    """Standard Webhooks, written here independently of the code under test."""
    assinado = (
        cabecalhos["webhook-id"].encode()
        + b"."
        + cabecalhos["webhook-timestamp"].encode()
        + b"."
        + corpo
    )
    mac = hmac.new(chave, assinado, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class Receptor:
    """ThreadingHTTPServer on 127.0.0.1 that records requests and plays answers.

    `respostas` is a list of (status, headers, delay); when empty, 200 at once.
    """

    def __init__(self, porta: int = 0) -> None:
        self.pedidos: list[dict[str, Any]] = []
        self.respostas: list[tuple[int, dict[str, str], float]] = []
        self.trava = threading.Lock()
        receptor = self

        class Tratador(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                corpo = self.rfile.read(int(self.headers["content-length"]))
                with receptor.trava:
                    receptor.pedidos.append(
                        {
                            "caminho": self.path,
                            "cabecalhos": {
                                k.lower(): v for k, v in self.headers.items()
                            },
                            "corpo": corpo,
                            "em": time.monotonic(),
                        }
                    )
                    status, extras, atraso = (
                        receptor.respostas.pop(0)
                        if receptor.respostas
                        else (200, {}, 0)
                    )
                time.sleep(atraso)
                self.send_response(status)
                for k, v in extras.items():
                    self.send_header(k, v)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.servidor = ThreadingHTTPServer(("127.0.0.1", porta), Tratador)
        self.servidor.daemon_threads = True
        self.porta = self.servidor.server_address[1]
        self.thread = threading.Thread(target=self.servidor.serve_forever)
        self.thread.start()

    def url(self, caminho: str = "/") -> str:
        return f"http://127.0.0.1:{self.porta}{caminho}"

    def fechar(self) -> None:
        self.servidor.shutdown()
        self.servidor.server_close()
        self.thread.join(10)

    def de(self, caminho: str) -> list[dict[str, Any]]:
        with self.trava:
            return [p for p in self.pedidos if p["caminho"] == caminho]


@pytest.fixture
def receptor() -> Iterator[Receptor]:
    r = Receptor()
    yield r
    r.fechar()


def porta_livre() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(tmp_path: Path, **webhook: Any) -> dict[str, Any]:
    return {
        "diretorios": {"base": str(tmp_path / "repo")},
        "validacao": {"modo": "desligado"},
        "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
        "integracao": {"webhook": {"habilitado": True, **webhook}},
    }


def test_eventos_assinados_para_cada_destino(
    tmp_path: Path, receptor: Receptor
) -> None:
    cfg = config(
        tmp_path,
        url=receptor.url("/principal"),
        segredo=SEGREDO,
        endpoints=[
            {
                "url": receptor.url("/outro?token=abc"),
                "eventos": ["verificacao_concluida"],
                "segredo": "texto simples",
            },
            {"url": receptor.url("/sem-segredo"), "eventos": ["backup_criado"]},
        ],
    )
    modelo = escrever(tmp_path / "m.pkl", b"um")
    with GerenciadorBackupVersionamento(config=cfg) as g:
        g.criar_backup(modelo, "melhoria", "primeira")
        with pytest.raises(ErroArquivoNaoEncontrado):
            g.criar_backup(tmp_path / "sumiu.pkl", "patch")
        g.verificar_integridade()
        esperar(lambda: len(receptor.pedidos) == 4, mensagem="4 entregas")
        assert g.eventos.esvaziar(10)
        esperar(lambda: g.status()["integracoes"]["webhook"]["pendentes"] == 0)
        st = g.status()["integracoes"]["webhook"]
    principal = receptor.de("/principal")
    assert [json.loads(p["corpo"])["evento"] for p in principal] == [
        "backup_criado",
        "backup_falhou",
    ]
    for p in receptor.pedidos:
        cab, corpo = p["cabecalhos"], p["corpo"]
        carga = json.loads(corpo)
        assert set(carga) == {"id", "evento", "momento", "dados"}
        assert cab["webhook-id"] == "msg_" + carga["id"]
        assert abs(int(cab["webhook-timestamp"]) - time.time()) < 60
        assert cab["content-type"] == "application/json"
    criado = json.loads(principal[0]["corpo"])["dados"]
    assert criado["modelo"] == "m.pkl" and criado["versao"] == "1.0.0"
    assert criado["descricao"] == "primeira" and criado["origem"] == "api"
    falhou = json.loads(principal[1]["corpo"])["dados"]
    assert "sumiu.pkl" in falhou["erro"] and falhou["tipo_erro"]
    for p in principal:
        assert p["cabecalhos"]["webhook-signature"] == assinatura_esperada(
            SEGREDO_BYTES, p["cabecalhos"], p["corpo"]
        )
    [outro] = receptor.de("/outro?token=abc")
    assert json.loads(outro["corpo"])["evento"] == "verificacao_concluida"
    assert outro["cabecalhos"]["webhook-signature"] == assinatura_esperada(
        b"texto simples", outro["cabecalhos"], outro["corpo"]
    )
    # a forged body does not verify
    assert outro["cabecalhos"]["webhook-signature"] != assinatura_esperada(
        b"texto simples", outro["cabecalhos"], outro["corpo"] + b" "
    )
    [sem] = receptor.de("/sem-segredo")
    assert "webhook-signature" not in sem["cabecalhos"]
    # the same event to two endpoints is the same message
    assert sem["cabecalhos"]["webhook-id"] == principal[0]["cabecalhos"]["webhook-id"]
    assert st["pendentes"] == 0 and st["falhas_definitivas"] == 0
    assert "token" not in json.dumps(st)  # URLs in status hide query strings
    assert "HTTP 200" in st["ultimo_sucesso"]["mensagem"]


def test_receptor_lento_nao_atrasa_o_backup(tmp_path: Path, receptor: Receptor) -> None:
    receptor.respostas = [(200, {}, 2.0)]  # the first POST takes 2 s
    cfg = config(tmp_path, url=receptor.url("/lento"))
    with GerenciadorBackupVersionamento(config=cfg) as g:
        duracoes = []
        for i in range(3):
            m = escrever(tmp_path / "m.pkl", f"versao {i}".encode())
            inicio = time.monotonic()
            g.criar_backup(m, "patch")
            duracoes.append(time.monotonic() - inicio)
        # three backups while the receiver holds the first delivery for 2 s
        assert sum(duracoes) < 1.5, duracoes
        esperar(lambda: len(receptor.pedidos) >= 1, mensagem="primeira entrega")
        inicio = time.monotonic()
        g.criar_backup(escrever(tmp_path / "m.pkl", b"durante"), "patch")
        assert time.monotonic() - inicio < 0.5  # even while a POST hangs
        assert g.eventos.esvaziar(10)
        esperar(
            lambda: g.status()["integracoes"]["webhook"]["pendentes"] == 0,
            tempo_limite=30,
            mensagem="entregas concluídas",
        )
    assert len(receptor.pedidos) == 4


def test_receptor_mais_lento_que_o_tempo_limite_e_tentado_de_novo(
    tmp_path: Path, receptor: Receptor
) -> None:
    receptor.respostas = [(200, {}, 1.5)]  # answers after the 0.5 s timeout
    cfg = config(tmp_path, url=receptor.url("/lento"), tempo_limite_segundos=0.5)
    with GerenciadorBackupVersionamento(config=cfg) as g:
        g.criar_backup(escrever(tmp_path / "m.pkl", b"um"), "patch")
        assert g.eventos.esvaziar(10)
        esperar(
            lambda: g.status()["integracoes"]["webhook"]["pendentes"] == 0,
            tempo_limite=20,
        )
        st = g.status()["integracoes"]["webhook"]
    assert "ReadTimeout" in st["ultimo_erro"]["mensagem"]
    assert "tentativa 1 de 8" in st["ultimo_erro"]["mensagem"]
    assert len(receptor.pedidos) == 2
    ids = {p["cabecalhos"]["webhook-id"] for p in receptor.pedidos}
    assert len(ids) == 1
    # the retry waited the backoff (2 s with jitter: 1 to 2 s) after the timeout
    assert receptor.pedidos[1]["em"] - receptor.pedidos[0]["em"] >= 1.4


def test_500_depois_200_respeita_retry_after(
    tmp_path: Path, receptor: Receptor
) -> None:
    receptor.respostas = [
        (500, {"Retry-After": "1"}, 0),
        (503, {"Retry-After": "1"}, 0),
    ]
    cfg = config(tmp_path, url=receptor.url("/instavel"), segredo=SEGREDO)
    modelo = escrever(tmp_path / "m.pkl", b"um")
    with GerenciadorBackupVersionamento(config=cfg) as g:
        inicio = time.monotonic()
        g.criar_backup(modelo, "patch")
        assert time.monotonic() - inicio < 0.5
        esperar(lambda: len(receptor.pedidos) == 3, tempo_limite=20)
        assert g.eventos.esvaziar(10)
        esperar(lambda: g.status()["integracoes"]["webhook"]["pendentes"] == 0)
        st = g.status()["integracoes"]["webhook"]
    p = receptor.pedidos
    assert len({x["cabecalhos"]["webhook-id"] for x in p}) == 1  # same message
    assert {x["corpo"] for x in p} == {p[0]["corpo"]}
    assert p[1]["em"] - p[0]["em"] >= 0.9 and p[2]["em"] - p[1]["em"] >= 0.9
    for x in p:  # each attempt signed with its own timestamp
        assert x["cabecalhos"]["webhook-signature"] == assinatura_esperada(
            SEGREDO_BYTES, x["cabecalhos"], x["corpo"]
        )
    assert "HTTP 503" in st["ultimo_erro"]["mensagem"]
    assert st["ultimo_sucesso"]["em"] > st["ultimo_erro"]["em"]
    log = (tmp_path / "repo" / "logs" / "backup_system.log").read_text()
    assert "Webhook não entregue" in log and "HTTP 500 (tentativa 1 de 8" in log


def test_desiste_apos_as_tentativas_e_mostra_no_status(
    tmp_path: Path, receptor: Receptor
) -> None:
    receptor.respostas = [(500, {"Retry-After": "0"}, 0)] * 5
    cfg = config(tmp_path, url=receptor.url("/quebrado"), tentativas=2)
    arquivo = tmp_path / "config.json"
    arquivo.write_text(json.dumps(cfg))
    with GerenciadorBackupVersionamento(config=cfg) as g:
        g.criar_backup(escrever(tmp_path / "m.pkl", b"um"), "patch")
        esperar(lambda: g.status()["integracoes"]["webhook"]["falhas_definitivas"])
        st = g.status()["integracoes"]["webhook"]
    assert len(receptor.pedidos) == 2 and st["pendentes"] == 0
    assert "desistência" in st["ultimo_erro"]["mensagem"]
    log = (tmp_path / "repo" / "logs" / "backup_system.log").read_text()
    assert "ERROR - Webhook descartado após 2 tentativa(s)" in log
    r = cli("status", "--config", str(arquivo))
    assert r.returncode == 0, r.stderr
    assert (
        "Webhooks:           AVISO, 1 destino(s), 0 entrega(s) pendente(s), "
        in r.stdout
    )
    assert "1 desistência(s)" in r.stdout


_PROCESSO = """
import sys, time
sys.path.insert(0, {raiz!r})
from backup_versionamento import GerenciadorBackupVersionamento
cfg = {cfg!r}
with GerenciadorBackupVersionamento(config=cfg) as g:
    if sys.argv[1] == "backup":
        inicio = time.monotonic()
        g.criar_backup({modelo!r}, "patch")
        print(time.monotonic() - inicio)
        time.sleep(0.5)  # a few attempts against a receiver that is down
    else:
        prazo = time.monotonic() + 30
        while g.status()["integracoes"]["webhook"]["pendentes"]:
            assert time.monotonic() < prazo, "entrega pendente não saiu"
            time.sleep(0.1)
"""


def test_entrega_pendente_sai_no_proximo_processo_com_o_mesmo_id(
    tmp_path: Path,
) -> None:
    porta = porta_livre()  # nobody listens there yet
    cfg = config(tmp_path, url=f"http://127.0.0.1:{porta}/depois", segredo=SEGREDO)
    modelo = escrever(tmp_path / "m.pkl", b"um")
    script = _PROCESSO.format(raiz=str(RAIZ), cfg=cfg, modelo=str(modelo))

    r = subprocess.run(
        [sys.executable, "-c", script, "backup"], capture_output=True, timeout=120
    )
    assert r.returncode == 0, r.stderr.decode()
    assert float(r.stdout) < 1.0  # the receiver being down cost the backup nothing
    with GerenciadorBackupVersionamento(config={**cfg, "integracao": {}}) as g:
        pasta = g.pasta_estado / "webhooks"
    pendentes = sorted(pasta.glob("*.json"))
    assert len(pendentes) == 1
    entrega = json.loads(pendentes[0].read_text())
    assert entrega["tentativas"] >= 1 and "ConnectError" in entrega["ultimo_erro"]

    receptor = Receptor(porta)
    try:
        r = subprocess.run(
            [sys.executable, "-c", script, "esperar"], capture_output=True, timeout=120
        )
        assert r.returncode == 0, r.stderr.decode()
        [pedido] = receptor.pedidos
    finally:
        receptor.fechar()
    assert pedido["cabecalhos"]["webhook-id"] == entrega["webhook_id"]
    assert pedido["corpo"].decode() == entrega["corpo"]
    assert json.loads(pedido["corpo"])["evento"] == "backup_criado"
    assert pedido["cabecalhos"]["webhook-signature"] == assinatura_esperada(
        SEGREDO_BYTES, pedido["cabecalhos"], pedido["corpo"]
    )
    assert not list(pasta.glob("*.json"))


@pytest.mark.parametrize(
    ("webhook", "mensagem"),
    [
        ({"habilitado": True}, "integracao.webhook: habilitado, mas sem destino"),
        ({"url": "ftp://x"}, "integracao.webhook.url: 'ftp://x' não é uma URL"),
        ({"segredo": "whsec_%%%"}, "integracao.webhook.segredo: começa com 'whsec_'"),
        ({"tentativas": 0}, "integracao.webhook.tentativas: deve estar entre 1"),
        ({"tempo_limite_segundos": 0}, "integracao.webhook.tempo_limite_segundos"),
        (
            {"endpoints": [{"url": "http://a", "eventos": ["nada"], "x": 1}]},
            "integracao.webhook.endpoints: item 0: chaves desconhecidas ['x']",
        ),
        ({"endpoints": [{"eventos": []}]}, "item 0.url: obrigatória"),
        ({"endpoints": ["http://a"]}, "item 0: esperado objeto"),
        ({"eventos": ["integridade_falhou"]}, "eventos desconhecidos"),
        (
            {"url": "http://a/", "endpoints": [{"url": "http://a/"}]},
            "integracao.webhook: URL repetida ['http://a/']",
        ),
    ],
)
def test_configuracao_invalida(
    tmp_path: Path, webhook: dict[str, Any], mensagem: str
) -> None:
    cfg = {"diretorios": {"base": str(tmp_path / "repo")}}
    cfg["integracao"] = {"webhook": webhook}  # type: ignore[assignment]
    with pytest.raises(ErroConfiguracao) as e:
        GerenciadorBackupVersionamento(config=cfg)
    assert mensagem in str(e.value)
    assert not (tmp_path / "repo").exists()


def test_o_receptor_da_documentacao_confere_a_assinatura(tmp_path: Path) -> None:
    """The ten-line receiver of docs/EVENTOS.md, run as written (port changed)."""
    texto = (RAIZ / "docs" / "EVENTOS.md").read_text(encoding="utf-8")
    codigo = texto.split("<!-- receptor")[1].split("```python\n")[1].split("```")[0]
    porta = porta_livre()
    codigo = codigo.replace("8000", str(porta))
    chave = re.search(r'b64decode\("([^"]+)"\)', codigo)
    assert chave is not None
    proc = subprocess.Popen(
        [sys.executable, "-c", codigo],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{porta}/"
        esperar(lambda: _aceita(porta), mensagem="receptor da documentação no ar")
        falsa = httpx.post(
            url,
            content=b'{"evento": "backup_criado"}',
            headers={
                "webhook-id": "msg_x",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,AAAA",
            },
        )
        assert falsa.status_code == 401
        cfg = config(tmp_path, url=url, segredo="whsec_" + chave.group(1))
        with GerenciadorBackupVersionamento(config=cfg) as g:
            g.criar_backup(escrever(tmp_path / "m.pkl", b"um"), "patch")
            assert g.eventos.esvaziar(10)
            esperar(lambda: g.status()["integracoes"]["webhook"]["pendentes"] == 0)
            st = g.status()["integracoes"]["webhook"]
        assert "HTTP 200" in st["ultimo_sucesso"]["mensagem"]
        assert st["ultimo_erro"] is None
    finally:
        proc.terminate()
        saida, _ = proc.communicate(timeout=10)
    assert saida.startswith("backup_criado msg_")


def _aceita(porta: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", porta), timeout=0.2).close()
    except OSError:
        return False
    return True
