"""The live page and its server: loopback only, read-only, /metrics that a
Prometheus parser accepts, a token off loopback, the CLI and the daemon serving it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroConfiguracao, ErroDaemon
from backup_versionamento.relatorios.painel import (
    Painel,
    ServidorPainel,
    escrever_painel,
)

from .ajuda_automacao import DaemonPrimeiroPlano, escrever_config
from .ajuda_navegador import URL_EXTERNA, armadilha_de_rede, chromium
from .conftest import RAIZ
from .test_relatorios import RAPIDO, escrever_diario, linha


def porta_livre() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pedir(
    url: str, metodo: str = "GET", cabecalhos: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=metodo, headers=cabecalhos or {})
    # No proxy from the environment: the server is on loopback.
    abridor = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with abridor.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def metricas(texto: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, parsed by the official client's text-format parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(texto)
        for s in fam.samples
    }


def ip_nao_local() -> str | None:
    """An address of this machine that is not loopback (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only, nothing sent
            ip = str(s.getsockname()[0])
        except OSError:
            return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


@pytest.fixture
def g(tmp_path: Path) -> Iterator[GerenciadorBackupVersionamento]:
    with GerenciadorBackupVersionamento(tmp_path / "repo", RAPIDO) as ger:
        for nome, n in (("a.pkl", 3), ("b.onnx", 1)):
            for i in range(n):
                (tmp_path / nome).write_bytes(f"{nome}{i}".encode() * 500)
                ger.criar_backup(tmp_path / nome, metricas={"taxa_acerto_media": 0.6})
        agora = datetime.now(timezone.utc)
        # The journal under test is exactly these lines (the real one is tested in
        # test_eventos.py): drop what the backups above wrote.
        ger.eventos.esvaziar()
        (Path(ger.pasta_logs) / "atividade.jsonl").unlink(missing_ok=True)
        escrever_diario(
            ger,
            [
                linha(
                    "backup_criado",
                    agora,
                    modelo="a.pkl",
                    versao="1.0.2",
                    origem="agendado",
                    duracao_s=1.5,
                ),
                linha(
                    "backup_criado",
                    agora,
                    modelo="a.pkl",
                    versao="1.0.1",
                    origem="agendado",
                    duracao_s=0.5,
                ),
                linha("backup_criado", agora, modelo="b.onnx", versao="1.0.0"),
                linha("backup_falhou", agora, modelo="a.pkl", erro="arquivo sumiu"),
                linha("restauracao_concluida", agora, modelo="a.pkl", versao="1.0.0"),
                "{lixo",
            ],
        )
        yield ger


@pytest.fixture
def servidor(g: GerenciadorBackupVersionamento) -> Iterator[ServidorPainel]:
    s = ServidorPainel(Painel(g), "127.0.0.1", 0)
    s.iniciar()
    yield s
    s.parar()


def test_pagina_dados_e_metricas_no_loopback(
    g: GerenciadorBackupVersionamento, servidor: ServidorPainel
) -> None:
    assert servidor.endereco == "127.0.0.1"
    codigo, cab, corpo = pedir(servidor.url)
    assert codigo == 200 and cab["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in cab["Content-Security-Policy"]
    html = corpo.decode()
    assert '<meta http-equiv="refresh" content="15">' in html
    assert not URL_EXTERNA.search(html) and "<script" not in html
    assert "arquivo sumiu" in html and 'id="tabela-recentes"' in html

    codigo, _, corpo = pedir(servidor.url + "dados.json")
    dados = json.loads(corpo)
    assert codigo == 200 and dados["status"]["versoes"] == 4
    assert [r["versao"] for r in dados["recentes"]] == ["1.0.0", "1.0.1", "1.0.2"]
    assert dados["falhas"][0]["erro"] == "arquivo sumiu"
    assert dados["daemon"]["rodando"] is False

    codigo, cab, corpo = pedir(servidor.url + "metrics")
    assert codigo == 200 and cab["Content-Type"].startswith("text/plain; version=")
    m = metricas(corpo.decode())
    p = "backup_versionamento_"
    assert m[(p + "versoes", ())] == 4
    assert m[(p + "modelo_versoes", (("modelo", "a.pkl"),))] == 3
    assert m[(p + "modelo_versoes", (("modelo", "b.onnx"),))] == 1
    assert m[(p + "backups_total", (("modelo", "a.pkl"), ("origem", "agendado")))] == 2
    assert m[(p + "backups_total", (("modelo", "b.onnx"), ("origem", "manual")))] == 1
    assert m[(p + "falhas_backup_total", (("modelo", "a.pkl"),))] == 1
    assert m[(p + "restauracoes_total", (("resultado", "ok"),))] == 1
    assert m[(p + "backup_duracao_segundos_count", (("modelo", "a.pkl"),))] == 2
    assert m[(p + "backup_duracao_segundos_sum", (("modelo", "a.pkl"),))] == 2.0
    assert m[(p + "daemon_rodando", ())] == 0
    assert m[(p + "atividade_linhas_invalidas", ())] == 1
    ultimo = datetime.fromisoformat(g.listar_versoes("a.pkl")[-1]["criado_em"][:-1])
    assert m[(p + "ultimo_sucesso_timestamp_seconds", (("modelo", "a.pkl"),))] == (
        pytest.approx(ultimo.replace(tzinfo=timezone.utc).timestamp(), abs=1e-3)
    )
    assert (
        m[(p + "repositorio_bytes_armazenados", ())] == g.status()["tamanho_armazenado"]
    )

    # New journal lines are read on the next scrape (only what was appended).
    escrever_diario(
        g,
        [linha("backup_falhou", datetime.now(timezone.utc), modelo="b.onnx", erro="x")],
    )
    m = metricas(pedir(servidor.url + "metrics")[2].decode())
    assert m[(p + "falhas_backup_total", (("modelo", "b.onnx"),))] == 1
    assert m[(p + "falhas_backup_total", (("modelo", "a.pkl"),))] == 1
    assert pedir(servidor.url + "nada")[0] == 404


def test_escritas_recusadas_e_nada_muda(
    g: GerenciadorBackupVersionamento, servidor: ServidorPainel
) -> None:
    antes = g.status()["versoes"]
    for metodo in ("POST", "PUT", "DELETE", "PATCH"):
        for caminho in ("", "metrics", "dados.json"):
            codigo, cab, _ = pedir(servidor.url + caminho, metodo)
            assert codigo == 405, (metodo, caminho)
            assert cab["Allow"] == "GET, HEAD"
    assert pedir(servidor.url + "metrics", "HEAD")[0] == 200
    assert g.status()["versoes"] == antes


def test_so_escuta_no_loopback(servidor: ServidorPainel) -> None:
    ip = ip_nao_local()
    if ip is None:
        pytest.skip("esta máquina não tem endereço fora do loopback")
    with pytest.raises(OSError):
        socket.create_connection((ip, servidor.porta), timeout=3).close()
    socket.create_connection(("127.0.0.1", servidor.porta), timeout=3).close()


def test_fora_do_loopback_exige_token(g: GerenciadorBackupVersionamento) -> None:
    with pytest.raises(ErroConfiguracao, match="painel_token"):
        ServidorPainel(Painel(g), "0.0.0.0", 0, "")
    s = ServidorPainel(Painel(g), "127.0.0.1", 0, "s3gr3do")
    s.iniciar()
    try:
        assert pedir(s.url + "metrics")[0] == 401
        assert pedir(s.url + "metrics?token=errado")[0] == 401
        assert pedir(s.url + "metrics?token=s3gr3do")[0] == 200
        autorizado = {"Authorization": "Bearer s3gr3do"}
        assert pedir(s.url + "metrics", cabecalhos=autorizado)[0] == 200
        assert pedir(s.url, "POST", autorizado)[0] == 405
    finally:
        s.parar()


def test_porta_ocupada_e_erro_claro(
    g: GerenciadorBackupVersionamento, servidor: ServidorPainel
) -> None:
    with pytest.raises(ErroDaemon, match=str(servidor.porta)):
        ServidorPainel(Painel(g), "127.0.0.1", servidor.porta)


def test_pagina_no_chromium_pelo_servidor(
    servidor: ServidorPainel, tmp_path: Path
) -> None:
    png = tmp_path / "painel.png"
    with armadilha_de_rede() as armadilha:
        dom = chromium(
            servidor.url,
            tmp_path / "perfil",
            "--dump-dom",
            proxy=armadilha.porta,
            loopback_direto=True,
        )
        foto = chromium(
            servidor.url,
            tmp_path / "perfil",
            f"--screenshot={png}",
            "--window-size=1280,1600",
            proxy=armadilha.porta,
            loopback_direto=True,
        )
    assert dom.returncode == 0 and foto.returncode == 0, dom.stderr[-2000:]
    # The page reached its own server directly; nothing else was asked for.
    assert armadilha.da_pagina == []
    assert 'id="grafico-backups"' in dom.stdout and "a.pkl" in dom.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_painel_arquivo_e_rapido(
    g: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    inicio = time.perf_counter()
    destino = escrever_painel(g, tmp_path / "painel.html")
    assert time.perf_counter() - inicio < 1.0
    html = destino.read_text(encoding="utf-8")
    assert 'http-equiv="refresh"' not in html  # a file does not reload itself
    assert "b.onnx" in html and "Painel do backup de modelos" in html


def _cli(*args: str) -> list[str]:
    return [sys.executable, str(RAIZ / "inicializar_backup.py"), *args]


def test_cli_painel_serve_ate_sigterm_e_grava_arquivo(
    g: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    base = str(g.base)
    r = subprocess.run(
        _cli("painel", "--base", base, "--arquivo", str(tmp_path / "p.html"), "--json"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["arquivo"] == str(tmp_path / "p.html")
    assert "a.pkl" in (tmp_path / "p.html").read_text(encoding="utf-8")

    porta = porta_livre()
    proc = subprocess.Popen(
        _cli("painel", "--base", base, "--porta", str(porta), "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["url"] == f"http://127.0.0.1:{porta}/"
        codigo, _, corpo = pedir(info["url"] + "metrics")
        assert codigo == 200 and b"backup_versionamento_versoes 4.0" in corpo
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", porta), timeout=2).close()
    r = subprocess.run(
        _cli("painel", "--base", base, "--porta", "0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "porta" in r.stderr


def test_daemon_serve_o_painel_com_sua_saude(tmp_path: Path) -> None:
    pasta = tmp_path / "modelos"
    pasta.mkdir()
    porta = porta_livre()
    config = escrever_config(
        tmp_path,
        [pasta],
        extra={"relatorios": {"painel_porta": porta}},
        monitorar_tempo_real=False,
    )
    d = DaemonPrimeiroPlano(config)
    try:
        url = f"http://127.0.0.1:{porta}/"
        prazo = time.monotonic() + 20
        while True:
            try:
                _, _, corpo = pedir(url + "metrics")
                break
            except OSError:
                assert time.monotonic() < prazo, "o daemon não serviu o painel"
                time.sleep(0.2)
        m = metricas(corpo.decode())
        assert m[("backup_versionamento_daemon_rodando", ())] == 1
        assert m[("backup_versionamento_daemon_fila_pendentes", ())] == 0
        # Every metric the sample Grafana dashboard queries is really exposed.
        familias = {f.name for f in text_string_to_metric_families(corpo.decode())}
        grafana = (RAIZ / "docs" / "grafana_painel.json").read_text(encoding="utf-8")
        consultadas = {
            re.sub(r"_(total|sum|count)$", "", n)
            for n in re.findall(r"backup_versionamento_\w+", grafana)
        }
        assert consultadas and consultadas <= familias, consultadas - familias
        assert ("backup_versionamento_daemon_iniciado_timestamp_seconds", ()) in m
        dados: dict[str, Any] = json.loads(pedir(url + "dados.json")[2])
        assert dados["daemon"]["rodando"] is True and dados["daemon"]["pid"] == d.pid
        assert pedir(url, "POST")[0] == 405
        assert d.parar() == 0
    finally:
        d.fechar()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", porta), timeout=2).close()


def test_diario_substituido_recomeca_a_contagem(
    g: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    p = Painel(g)
    p.atualizar()
    assert sum(p.backups.values()) == 3
    arquivo = Path(g.pasta_logs) / "atividade.jsonl"
    novo = tmp_path / "novo.jsonl"
    novo.write_text(
        linha(
            "backup_criado",
            datetime.now(timezone.utc) - timedelta(minutes=1),
            modelo="c",
            versao="1.0.0",
        )
        + "\n",
        encoding="utf-8",
    )
    os.replace(novo, arquivo)  # rotated: a new file under the same name
    p.atualizar()
    assert dict(p.backups) == {("c", "manual"): 1}


def test_listagem_reaproveitada_so_enquanto_nada_muda(
    g: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    p = Painel(g)
    hoje = datetime.now(timezone.utc).date().isoformat()
    antes = p.dados()
    assert antes["dias"][-1]["dia"] == hoje
    assert p.modelos(g.status()) is p.modelos(g.status())  # idle: not listed again
    (tmp_path / "c.pt").write_bytes(b"novo" * 300)
    g.criar_backup(tmp_path / "c.pt")
    depois = p.dados()
    assert depois["status"]["versoes"] == antes["status"]["versoes"] + 1
    assert depois["dias"][-1]["versoes_novas"] == antes["dias"][-1]["versoes_novas"] + 1
    assert "c.pt" in p.modelos(g.status())
    g.limpeza(modelo="a.pkl")  # nothing to remove under the default policy
    g.fixar_versao("a.pkl", "1.0.0")
    assert sorted(p.modelos(g.status())) == ["a.pkl", "b.onnx", "c.pt"]
