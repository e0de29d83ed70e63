"""Honest numbers in the report (issue 17, items 13 and 14)."""

from __future__ import annotations

import html as html_mod
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import time_machine

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.relatorios import gerar_relatorio
from backup_versionamento.relatorios.html import renderizar_painel
from tests.ajuda_navegador import exigir
from tests.conftest import aleatorio, escrever
from tests.test_relatorios import RAPIDO, paginas_pdf, pdf_texto, validar_esquema


def _linha_metrica(pagina: str, nome: str) -> str:
    """The text of the metrics table row of `nome`."""
    (linha,) = re.findall(rf"<tr><td[^>]*>{nome}</td>.*?</tr>", pagina, re.S)
    return html_mod.unescape(re.sub(r"<[^>]+>", " ", linha))


def _serie(relatorio: dict[str, Any], nome: str) -> dict[str, Any]:
    (m,) = relatorio["modelos"]
    (s,) = [s for s in m["metricas"] if s["nome"] == nome]
    return s


def test_supera_o_acaso_mostra_o_teste_o_p_valor_e_o_n(tmp_path: Path) -> None:
    """0.6000000000000001 vs 0.6 is not "sim"; the doc's example is, with its p."""
    with GerenciadorBackupVersionamento(tmp_path / "repo", RAPIDO) as g:
        m = tmp_path / "m.pkl"
        escrever(m, aleatorio(1000, 1))
        g.criar_backup(m, metricas={"taxa_acerto_media": 0.6000000000000001})
        escrever(m, aleatorio(1000, 2))
        # docs/METRICAS.md, "Exemplo resolvido": 13 hits beat chance, 12 do not.
        g.criar_backup(
            m,
            metricas={
                "acertos_14": 0.0,
                "acertos_13": 0.008,
                "acertos_12": 0.028,
                "acertos_11": 0.104,
                "n_sorteios": 500,
            },
        )
        escrever(m, aleatorio(1000, 3))
        arquivos = gerar_relatorio(g, tmp_path / "s", formatos=["json", "html"])
    r = json.loads(Path(arquivos["json"]).read_text(encoding="utf-8"))
    validar_esquema(r)
    pagina = Path(arquivos["html"]).read_text(encoding="utf-8")

    media = _serie(r, "taxa_acerto_media")["teste"]
    assert media["supera_acaso"] is False and media["versao"] == "1.0.0"
    assert media["decisao"].startswith("não há sorteios suficientes")
    linha = _linha_metrica(pagina, "taxa_acerto_media")
    assert " sim " not in f" {linha} "
    assert "N não informado" in linha and "não há sorteios suficientes" in linha

    treze = _serie(r, "acertos_13")["teste"]
    assert treze["supera_acaso"] is True and treze["n_sorteios"] == 500
    assert abs(treze["p_ajustado"] - 0.0255) < 5e-4
    linha = _linha_metrica(pagina, "acertos_13")
    assert "sim" in linha and "N = 500 sorteios" in linha
    assert "p ajustado (Holm) = 0.02" in linha and "binomial exato" in linha

    doze = _serie(r, "acertos_12")["teste"]
    assert doze["supera_acaso"] is False and doze["decisao"] == "não supera o acaso"
    assert "não supera o acaso" in _linha_metrica(pagina, "acertos_12")


# -- item 14: rates, chart labels, the pinned marker, the PDF page width ------------
AGORA = datetime(2026, 11, 29, 15, 0, tzinfo=timezone.utc)
NOME_LONGO = "modelo_lotofacil_com_um_nome_bem_comprido_sem_espacos_para_quebrar.pkl"


@pytest.fixture
def repositorio_de_um_dia(tmp_path: Path) -> Iterator[GerenciadorBackupVersionamento]:
    """Created this morning: 6 versions today, one pinned, a long model name."""
    with time_machine.travel(AGORA - timedelta(hours=6), tick=False):
        g = GerenciadorBackupVersionamento(tmp_path / "repo", RAPIDO)
    m = tmp_path / NOME_LONGO
    for i in range(6):
        with time_machine.travel(AGORA - timedelta(hours=5 - i), tick=False):
            escrever(m, aleatorio(2000, i))
            g.criar_backup(
                m, "patch", f"versão {i} com uma descrição de algumas palavras"
            )
    g.fixar_versao(NOME_LONGO, "1.0.2")
    yield g
    g.fechar()


def test_taxas_de_um_repositorio_de_um_dia_sao_as_do_dia(
    repositorio_de_um_dia: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    with time_machine.travel(AGORA, tick=False):
        arquivos = gerar_relatorio(
            repositorio_de_um_dia, tmp_path / "s", formatos=["json", "html"]
        )
    r = json.loads(Path(arquivos["json"]).read_text(encoding="utf-8"))
    validar_esquema(r)
    c = r["crescimento"]
    armazenado = sum(d["bytes_novos"] for d in c["dias"])
    assert c["dias_taxa"] == 1
    assert c["taxa_versoes_dia"] == 6
    assert c["taxa_bytes_dia"] == pytest.approx(armazenado)
    pagina = html_mod.unescape(Path(arquivos["html"]).read_text(encoding="utf-8"))
    assert "sobre 1 dia, desde a primeira versão" in pagina
    assert "6 versões/dia" in pagina


def test_taxas_de_um_repositorio_antigo_continuam_sobre_o_periodo(
    tmp_path: Path,
) -> None:
    with GerenciadorBackupVersionamento(tmp_path / "repo", RAPIDO) as g:
        m = tmp_path / "m.bin"
        for i, dias in enumerate((120, 10, 0)):
            with time_machine.travel(AGORA - timedelta(days=dias), tick=False):
                escrever(m, aleatorio(2000, i))
                g.criar_backup(m)
        with time_machine.travel(AGORA, tick=False):
            arquivos = gerar_relatorio(g, tmp_path / "s", formatos=["json"])
    c = json.loads(Path(arquivos["json"]).read_text(encoding="utf-8"))["crescimento"]
    assert c["dias_taxa"] == 90 and 0 < c["taxa_versoes_dia"] < 1


def _rotulos_x(svg: str) -> list[str]:
    """The dates (MM-DD) written under a pygal chart's x axis, left to right."""
    return re.findall(r">(\d\d-\d\d)</text>", svg)


def test_graficos_de_dias_terminam_hoje(
    repositorio_de_um_dia: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    from backup_versionamento.relatorios.painel import Painel

    hoje = AGORA.strftime("%m-%d")
    painel = Painel(repositorio_de_um_dia)
    with time_machine.travel(AGORA, tick=False):
        pagina = renderizar_painel(painel.dados(), atualizar_segundos=None)
        arquivos = gerar_relatorio(
            repositorio_de_um_dia, tmp_path / "s", formatos=["html"]
        )
    graficos = re.findall(r"<svg.*?</svg>", pagina, re.S)
    assert len(graficos) == 2
    for svg in graficos:  # the dashboard's 14-day charts
        rotulos = _rotulos_x(svg)
        assert rotulos and rotulos[-1] == hoje, rotulos
    relatorio = Path(arquivos["html"]).read_text(encoding="utf-8")
    por_dia = [
        s for s in re.findall(r"<svg.*?</svg>", relatorio, re.S) if _rotulos_x(s)
    ]
    assert len(por_dia) == 3  # growth, versions per day, activity (90 days)
    for svg in por_dia:
        assert _rotulos_x(svg)[-1] == hoje


def _sem_fonte(texto: str) -> list[str]:
    """Characters of `texto` that no installed font can draw (a missing-glyph box)."""
    exigir("fc-list")
    faltam = []
    for c in sorted({c for c in texto if ord(c) > 0x7E}):
        r = subprocess.run(
            ["fc-list", f":charset={ord(c):x}", "family"],
            capture_output=True,
            text=True,
            check=True,
        )
        if not r.stdout.strip():
            faltam.append(f"U+{ord(c):04X}")
    return faltam


def test_marca_de_fixada_desenhada_no_html_e_no_pdf(
    repositorio_de_um_dia: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    with time_machine.travel(AGORA, tick=False):
        arquivos = gerar_relatorio(
            repositorio_de_um_dia, tmp_path / "s", formatos=["html", "pdf"]
        )
    pagina = Path(arquivos["html"]).read_text(encoding="utf-8")
    texto = html_mod.unescape(re.sub(r"<[^>]+>", " ", pagina))
    assert _sem_fonte(texto) == []
    assert re.search(r"<td>1\.0\.2 <span class=\"fixada\"[^>]*>fixada</span>", pagina)
    # In the PDF's layout the marker sits in the version cell, under "1.0.2".
    linhas = pdf_texto(Path(arquivos["pdf"])).splitlines()
    (i,) = [i for i, linha in enumerate(linhas) if linha.split()[:1] == ["1.0.2"]]
    assert linhas[i + 1].split()[0] == "fixada", linhas[i : i + 2]


def test_pdf_cabe_na_largura_da_pagina(
    repositorio_de_um_dia: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    """Nothing is drawn in the right margin (A4, 12 mm) of any page."""
    with time_machine.travel(AGORA, tick=False):
        arquivos = gerar_relatorio(
            repositorio_de_um_dia, tmp_path / "s", formatos=["pdf"]
        )
    pdf = Path(arquivos["pdf"])
    paginas = paginas_pdf(pdf, tmp_path)
    assert paginas
    for pagina in paginas:
        largura, altura, pixels = _pgm(pagina.read_bytes())
        margem = int(largura * 10 / 210)  # 10 of the 12 mm: room for antialiasing
        escuros = [
            x
            for y in range(altura)
            for x in range(largura - margem, largura)
            if pixels[y * largura + x] < 160
        ]
        assert not escuros, f"{pagina.name}: desenho na margem direita"


def _pgm(pgm: bytes) -> tuple[int, int, bytes]:
    partes = pgm.split(maxsplit=4)
    largura, altura = int(partes[1]), int(partes[2])
    return largura, altura, partes[4][: largura * altura]
