"""The daily report: JSON (schema + the repository's own numbers), HTML in a real
headless Chromium, PDF through poppler, and the CLI, daemon job and config."""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import time_machine

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroConfiguracao
from backup_versionamento.relatorios import (
    ARQUIVO_ESQUEMA,
    extras_do_daemon,
    gerar_relatorio,
)
from backup_versionamento.relatorios.dados import LeitorAtividade

from .ajuda_navegador import (
    URL_EXTERNA,
    armadilha_de_rede,
    chromium,
    exigir,
    pixels_escuros,
)
from .conftest import cli

RAPIDO = {"validacao": {"modo": "desligado"}}
AGORA = datetime(2026, 11, 29, 15, 0, tzinfo=timezone.utc)


# -- helpers ------------------------------------------------------------------------


def momento(m: datetime) -> str:
    return m.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def linha(evento: str, quando: datetime, **dados: Any) -> str:
    """One journal line, in the event bus's schema."""
    return json.dumps(
        {
            "id": os.urandom(8).hex(),
            "evento": evento,
            "momento": momento(quando),
            "dados": dados,
        }
    )


def escrever_diario(g: GerenciadorBackupVersionamento, linhas: list[str]) -> Path:
    arquivo = Path(g.pasta_logs) / "atividade.jsonl"
    arquivo.parent.mkdir(parents=True, exist_ok=True)
    with open(arquivo, "a", encoding="utf-8") as f:
        for texto in linhas:
            f.write(texto + "\n")
    return arquivo


def backup_em(
    g: GerenciadorBackupVersionamento,
    quando: datetime,
    arquivo: Path,
    conteudo: bytes,
    **kwargs: Any,
) -> str:
    arquivo.write_bytes(conteudo)
    with time_machine.travel(quando, tick=False):
        return g.criar_backup(arquivo, **kwargs)


def validar_esquema(relatorio: dict[str, Any]) -> None:
    esquema = json.loads(ARQUIVO_ESQUEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(esquema)
    jsonschema.Draft202012Validator(esquema).validate(relatorio)


def sidecars(repo: Path) -> list[dict[str, Any]]:
    """Every version's sidecar, read straight from the repository folder."""
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((repo / "modelos").glob("*/*.json"))
    ]


def inclinacao_numpy(valores: list[int]) -> float:
    import numpy as np

    return float(np.polyfit(np.arange(len(valores)), np.array(valores, float), 1)[0])


def pdf_texto(pdf: Path) -> str:
    exigir("pdftotext")
    r = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return r.stdout


def paginas_pdf(pdf: Path, pasta: Path) -> list[Path]:
    exigir("pdftoppm")
    subprocess.run(
        ["pdftoppm", "-gray", "-r", "30", str(pdf), str(pasta / "pagina")], check=True
    )
    return sorted(pasta.glob("pagina*.pgm"))


def abrir_no_chromium(html: Path, perfil: Path) -> tuple[str, Path, list[str]]:
    """DOM and a screenshot of `html`, and the hosts the page tried to reach."""
    png = html.with_suffix(".png")
    with armadilha_de_rede() as armadilha:
        dom = chromium(
            html.as_uri(),
            perfil,
            "--dump-dom",
            "--virtual-time-budget=3000",
            proxy=armadilha.porta,
        )
        foto = chromium(
            html.as_uri(),
            perfil,
            f"--screenshot={png}",
            "--window-size=1280,2400",
            proxy=armadilha.porta,
        )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert foto.returncode == 0, foto.stderr[-2000:]
    return dom.stdout, png, armadilha.da_pagina


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture
def povoado(tmp_path: Path) -> Iterator[GerenciadorBackupVersionamento]:
    """Two models over several days, shared content (dedup), metrics, a journal."""
    cfg = {
        **RAPIDO,
        "retencao": {"por_quantidade": {"maximo_versoes_por_modelo": 3}},
        "relatorios": {"cota_mb": 50},
    }
    g = GerenciadorBackupVersionamento(tmp_path / "repo", cfg)
    comum = os.urandom(3_000_000)
    a, b = tmp_path / "lotofacil_rf.pkl", tmp_path / "lotofacil_nn.h5"
    for i in range(6):
        quando = AGORA - timedelta(days=40 - 7 * i, hours=i)
        backup_em(
            g,
            quando,
            a,
            comum + os.urandom(20_000 * (i + 1)),
            tipo_mudanca="minor" if i % 2 else "patch",
            descricao=f"retreino <{i}>",
            metricas={
                "taxa_acerto_media": 0.58 + 0.01 * i,
                "acertos_11": 0.07 + 0.01 * i,
                "perda": 1.5 - 0.1 * i,
            },
        )
    for i in range(3):
        backup_em(
            g,
            AGORA - timedelta(days=3 - i),
            b,
            comum + bytes([i]) * 5000,
            tipo_mudanca="major" if i == 2 else "minor",
        )
    hoje = AGORA - timedelta(hours=2)
    # The journal under test is exactly the lines below (the real one is tested
    # in test_eventos.py): drop what the backups above wrote.
    g.eventos.esvaziar()
    (Path(g.pasta_logs) / "atividade.jsonl").unlink(missing_ok=True)
    escrever_diario(
        g,
        [
            linha(
                "backup_criado",
                hoje,
                modelo="lotofacil_rf.pkl",
                versao="1.3.0",
                origem="agendado",
            ),
            linha(
                "backup_criado",
                hoje,
                modelo="lotofacil_nn.h5",
                versao="2.0.0",
                origem="monitorado",
            ),
            linha(
                "backup_criado",
                hoje - timedelta(days=1),
                modelo="lotofacil_nn.h5",
                versao="1.1.0",
            ),  # no origem: manual
            linha("backup_ignorado", hoje, modelo="lotofacil_rf.pkl", versao="1.3.0"),
            linha(
                "backup_falhou",
                hoje - timedelta(days=2),
                modelo="lotofacil_rf.pkl",
                erro="espaço em disco insuficiente",
                origem="agendado",
            ),
            '{"evento": "backup_criado", "momento": "quebrado"',  # torn line
            "isto não é json",
            linha(
                "restauracao_concluida", hoje, modelo="lotofacil_rf.pkl", versao="1.0.0"
            ),
            linha(
                "restauracao_falhou",
                hoje,
                modelo="lotofacil_nn.h5",
                versao="9.9.9",
                erro="versão não encontrada",
            ),
            linha("verificacao_falhou", hoje - timedelta(days=5), problemas=["x"]),
            linha(
                "verificacao_concluida",
                hoje - timedelta(hours=1),
                ok=True,
                problemas=[],
                versoes_verificadas=9,
            ),
            linha(
                "backup_criado",
                AGORA - timedelta(days=200),
                modelo="velho",
                versao="1.0.0",
            ),  # outside the 90 days
        ],
    )
    yield g
    g.fechar()


# -- the JSON ---------------------------------------------------------------------


def test_json_segue_o_esquema_e_confere_com_o_repositorio(
    povoado: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    g = povoado
    saida = tmp_path / "saida"
    with time_machine.travel(AGORA, tick=False):
        arquivos = gerar_relatorio(g, saida)
    assert set(arquivos) == {"json", "html", "pdf"}
    r = json.loads(Path(arquivos["json"]).read_text(encoding="utf-8"))
    validar_esquema(r)
    assert r["versao_esquema"] == 1
    assert r["gerado_em"] == "2026-11-29T15:00:00Z"

    # Repository numbers, recomputed from the sidecars on disk.
    scs = sidecars(g.base)
    logico = sum(s["tamanho"] for s in scs)
    blocos = {
        b[0]: b[1] for s in scs for e in s["entradas"] for b in e.get("blocos", [])
    }
    repo = r["repositorio"]
    assert repo["versoes"] == len(scs) == 9
    assert repo["modelos"] == 2
    assert repo["tamanho_logico"] == logico
    assert repo["tamanho_unico"] == sum(blocos.values())
    assert repo["tamanho_unico"] < logico  # the shared 3 MB deduplicated
    assert repo["razao_deduplicacao"] == pytest.approx(
        logico / sum(blocos.values()), abs=1e-3
    )
    assert repo["tamanho_armazenado"] == g.status()["tamanho_armazenado"]
    assert repo["razao_compressao"] == pytest.approx(
        sum(blocos.values()) / repo["tamanho_armazenado"], abs=1e-3
    )
    assert repo["cota_bytes"] == 50 * 1024 * 1024

    # Growth: per UTC day over 90 days, and the least-squares slope.
    dias = r["crescimento"]["dias"]
    assert len(dias) == 90 and dias[-1]["dia"] == "2026-11-29"
    assert dias[0]["dia"] == (date(2026, 11, 29) - timedelta(days=89)).isoformat()
    por_dia_v: Counter[str] = Counter()
    por_dia_b: Counter[str] = Counter()
    for s in scs:
        d = s["criado_em"][:10]
        por_dia_v[d] += 1
        por_dia_b[d] += s["tamanho_armazenado"]
    for d in dias:
        assert d["versoes_novas"] == por_dia_v[d["dia"]], d
        assert d["bytes_novos"] == por_dia_b[d["dia"]], d
    assert dias[-1]["versoes_acumuladas"] == 9
    assert dias[-1]["bytes_acumulados"] == sum(s["tamanho_armazenado"] for s in scs)
    # The repository is younger than the 90 days: the rate is fitted from the eve
    # of its first version (nothing stored) to today, not over days it did not exist.
    primeiro = next(i for i, d in enumerate(dias) if d["versoes_acumuladas"])
    taxa = inclinacao_numpy([0] + [d["bytes_acumulados"] for d in dias[primeiro:]])
    assert r["crescimento"]["dias_taxa"] == len(dias) - primeiro
    assert r["crescimento"]["taxa_bytes_dia"] == pytest.approx(taxa, rel=1e-6)
    disco = r["crescimento"]["projecao"]["disco"]
    assert disco["restante_bytes"] == repo["espaco_livre"]
    assert disco["dias"] == pytest.approx(repo["espaco_livre"] / taxa, rel=1e-3)
    cota = r["crescimento"]["projecao"]["cota"]
    restante = 50 * 1024 * 1024 - repo["tamanho_armazenado"]
    assert cota["restante_bytes"] == restante
    assert cota["dias"] == pytest.approx(restante / taxa, rel=1e-3)
    assert (
        cota["data"]
        == (date(2026, 11, 29) + timedelta(days=math.ceil(restante / taxa))).isoformat()
    )

    # Activity, from the journal lines written above.
    at = r["atividade"]
    assert at["disponivel"] and at["linhas_invalidas"] == 2
    assert at["totais"]["backups"] == {"manual": 1, "agendado": 1, "monitorado": 1}
    assert at["totais"]["ignorados"] == 1
    assert at["totais"]["falhas"] == 1
    assert (
        at["totais"]["restauracoes"] == 1 and at["totais"]["restauracoes_falhas"] == 1
    )
    assert at["falhas"] == [
        {
            "momento": momento(AGORA - timedelta(hours=2, days=2))[:19] + "Z",
            "modelo": "lotofacil_rf.pkl",
            "origem": "agendado",
            "erro": "espaço em disco insuficiente",
        }
    ]
    hoje = next(d for d in at["dias"] if d["dia"] == "2026-11-29")
    assert (hoje["agendado"], hoje["monitorado"], hoje["manual"]) == (1, 1, 0)
    assert hoje["restauracoes"] == 2
    assert sum(d["manual"] for d in at["dias"]) == 1  # the 200-day-old one is out
    assert at["ultima_verificacao"]["ok"] is True
    assert at["ultima_verificacao"]["versoes_verificadas"] == 9

    # Models: history, what each version added, metrics with the chance baseline.
    modelos = {m["nome"]: m for m in r["modelos"]}
    rf = modelos["lotofacil_rf.pkl"]
    por_versao = {s["versao"]: s for s in scs if s["modelo"] == "lotofacil_rf.pkl"}
    assert [v["versao"] for v in rf["versoes"]] == sorted(
        por_versao, key=lambda v: tuple(int(x) for x in v.split("."))
    )
    for v in rf["versoes"]:
        s = por_versao[v["versao"]]
        assert v["tamanho"] == s["tamanho"]
        assert v["tamanho_adicionado"] == s["tamanho_armazenado"]
        assert v["tipo_mudanca"] == s["tipo_mudanca"]
        assert v["descricao"] == s["descricao"]
        assert v["validacao"] is None
    series = {s["nome"]: s for s in rf["metricas"]}
    assert series["taxa_acerto_media"]["acaso"] == pytest.approx(15 / 25)
    assert series["acertos_11"]["acaso"] == pytest.approx(286_650 / 3_268_760)
    assert series["perda"]["acaso"] is None and not series["perda"]["conhecida"]
    assert [p["valor"] for p in series["taxa_acerto_media"]["pontos"]] == [
        pytest.approx(0.58 + 0.01 * i) for i in range(6)
    ]

    # Retention: keep at most 3 per model, so the 3 oldest rf versions go.
    removidas = {(x["modelo"], x["versao"]) for x in r["retencao"]["remover"]}
    assert {v for m, v in removidas if m == "lotofacil_rf.pkl"} == set(
        [v["versao"] for v in rf["versoes"]][:3]
    )
    assert all(x["motivos"] for x in r["retencao"]["remover"])
    assert r["retencao"]["mantidas"] == 9 - len(removidas)
    assert len(sidecars(g.base)) == 9  # only simulated


# -- HTML in a real browser, and the PDF ----------------------------------------------


def test_html_no_chromium_sem_rede_com_graficos_e_tabelas(
    povoado: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    with time_machine.travel(AGORA, tick=False):
        arquivos = gerar_relatorio(povoado, tmp_path / "saida", formatos=["html"])
    html = Path(arquivos["html"])
    texto = html.read_text(encoding="utf-8")
    assert not URL_EXTERNA.search(texto), URL_EXTERNA.search(texto)
    assert "<script" not in texto
    assert "retreino &lt;5&gt;" in texto  # user text escaped
    dom, png, hosts = abrir_no_chromium(html, tmp_path / "perfil")
    assert hosts == [], f"a página tentou acessar a rede: {hosts}"
    for marca in (
        'id="grafico-crescimento"',
        'id="grafico-atividade"',
        'class="grafico grafico-metricas"',
        'id="tabela-modelos"',
        'id="tabela-falhas"',
        'id="tabela-retencao"',
        "lotofacil_rf.pkl",
        "lotofacil_nn.h5",
        "espaço em disco insuficiente",
    ):
        assert marca in dom, marca
    assert dom.count("<svg") == 4  # growth, versions, activity, rf metrics
    assert "acaso taxa_acerto_media" in dom
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 30_000


def test_a_armadilha_de_rede_pega_uma_pagina_que_busca_fora(tmp_path: Path) -> None:
    """Control: the tripwire used above does catch a page that loads a resource."""
    pagina = tmp_path / "fora.html"
    pagina.write_text(
        '<html><body><img src="http://cdn.exemplo.invalid/x.png">'
        '<link rel="stylesheet" href="https://fonts.exemplo.invalid/a.css"></body></html>'
    )
    assert URL_EXTERNA.search(pagina.read_text())
    _, _, hosts = abrir_no_chromium(pagina, tmp_path / "perfil")
    assert {"cdn.exemplo.invalid", "fonts.exemplo.invalid"} <= set(hosts)


def test_pdf_tem_o_conteudo_e_paginas_desenhadas(
    povoado: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    with time_machine.travel(AGORA, tick=False):
        arquivos = gerar_relatorio(povoado, tmp_path / "saida", formatos=["pdf"])
    assert set(arquivos) == {"pdf"}
    pdf = Path(arquivos["pdf"])
    assert pdf.read_bytes()[:5] == b"%PDF-"
    texto = pdf_texto(pdf)
    for trecho in (
        "Relatório diário de backup dos modelos",
        "Crescimento e tendência",
        "lotofacil_rf.pkl",
        "lotofacil_nn.h5",
        "Métricas do Lotofácil",
        "taxa_acerto_media",
        "espaço em disco insuficiente",
        "Retenção: a próxima limpeza",
        "1.2.0",
    ):
        assert trecho in texto, trecho
    paginas = paginas_pdf(pdf, tmp_path)
    assert len(paginas) >= 3
    escuros, total = pixels_escuros(paginas[1].read_bytes())
    assert 0.005 < escuros / total < 0.6  # drawn, not blank nor black


def test_repositorio_vazio_gera_os_tres(tmp_path: Path) -> None:
    with GerenciadorBackupVersionamento(tmp_path / "repo", RAPIDO) as g:
        arquivos = gerar_relatorio(g)
    pasta = tmp_path / "repo" / "relatorios"
    assert arquivos == {
        f: str(pasta / f"relatorio_diario.{f}") for f in ("json", "html", "pdf")
    }
    r = json.loads((pasta / "relatorio_diario.json").read_text(encoding="utf-8"))
    validar_esquema(r)
    assert r["modelos"] == [] and r["repositorio"]["versoes"] == 0
    assert r["repositorio"]["razao_economia"] is None
    assert r["crescimento"]["taxa_bytes_dia"] == 0
    assert r["crescimento"]["projecao"]["disco"]["dias"] is None
    assert r["atividade"]["disponivel"] is False
    dom, _, hosts = abrir_no_chromium(pasta / "relatorio_diario.html", tmp_path / "p")
    assert hosts == []
    assert "O repositório ainda não tem modelos." in dom
    assert "Relatório diário" in pdf_texto(pasta / "relatorio_diario.pdf")


def test_um_modelo_com_uma_versao(tmp_path: Path) -> None:
    with GerenciadorBackupVersionamento(tmp_path / "repo", RAPIDO) as g:
        (tmp_path / "m.onnx").write_bytes(b"modelo" * 100)
        g.criar_backup(tmp_path / "m.onnx", descricao="primeira")
        arquivos = gerar_relatorio(g, tmp_path / "s")
    r = json.loads(Path(arquivos["json"]).read_text(encoding="utf-8"))
    validar_esquema(r)
    (m,) = r["modelos"]
    assert m["versoes_total"] == 1 and m["ultima_versao"] == "1.0.0"
    assert m["metricas"] == []
    assert "primeira" in Path(arquivos["html"]).read_text(encoding="utf-8")
    texto = pdf_texto(Path(arquivos["pdf"]))
    assert "m.onnx" in texto and "1.0.0" in texto


def test_centenas_de_versoes(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with GerenciadorBackupVersionamento(tmp_path / "repo", RAPIDO) as g:

        def backup(i: int) -> None:
            # Distinct files, one model: backups overlap (fsyncs are the cost).
            arq = tmp_path / f"f{i}.pkl"
            arq.write_bytes(i.to_bytes(4, "big") * 64)
            g.criar_backup(
                arq,
                "patch",
                metricas={"taxa_acerto_media": (i % 50) / 100},
                nome_modelo="grande.pkl",
            )

        with ThreadPoolExecutor(8) as ex:
            list(ex.map(backup, range(200)))
        arquivos = gerar_relatorio(g, tmp_path / "s")
    r = json.loads(Path(arquivos["json"]).read_text(encoding="utf-8"))
    validar_esquema(r)
    (m,) = r["modelos"]
    assert m["versoes_total"] == 200 and len(m["versoes"]) == 200
    assert m["ultima_versao"] == "1.0.199"
    assert len(m["metricas"][0]["pontos"]) == 200
    html = Path(arquivos["html"]).read_text(encoding="utf-8")
    assert "Mostrando as 15 versões mais recentes de 200" in html
    tabela = html[html.index('class="tabela-versoes"') :]
    tabela = tabela[: tabela.index("</table>")]
    assert tabela.count("<tr>") == 16  # header + 15 rows
    assert ">1.0.199<" in tabela and ">1.0.184<" not in tabela
    texto = pdf_texto(Path(arquivos["pdf"]))
    assert "1.0.199" in texto and "Mostrando as 15 versões" in texto


def test_relatorio_de_validacao_com_modelo_real(tmp_path: Path) -> None:
    from . import modelos_reais as mr

    arq = mr.salvar_pickle(mr.floresta(), tmp_path / "floresta.joblib")
    with GerenciadorBackupVersionamento(tmp_path / "repo", {}) as g:
        g.criar_backup(arq, "minor", metricas={"acertos_12": 0.02})
        arquivos = gerar_relatorio(g, tmp_path / "s", formatos=("json", "html"))
    r = json.loads(Path(arquivos["json"]).read_text(encoding="utf-8"))
    validar_esquema(r)
    val = r["modelos"][0]["versoes"][0]["validacao"]
    assert val["valido"] is True and val["formato"] == "joblib"
    assert val["carregamento"]["executado"] and val["carregamento"]["ok"] is True
    assert "sklearn.ensemble._forest.RandomForestClassifier" in val["pickle"]["globais"]
    html = Path(arquivos["html"]).read_text(encoding="utf-8")
    assert "RandomForestClassifier" in html and "protocolo 4" in html


# -- the journal reader ---------------------------------------------------------------


def test_leitor_do_diario_tolera_linhas_ruins_e_le_so_o_novo(tmp_path: Path) -> None:
    arquivo = tmp_path / "atividade.jsonl"
    agora = datetime.now(timezone.utc)
    arquivo.write_text(
        linha("backup_criado", agora, modelo="a", versao="1.0.0")
        + "\n\n"
        + '{"evento": 3, "momento": "2026-01-01T00:00:00Z", "dados": {}}\n'
        + '{"evento": "x", "momento": "ontem", "dados": {}}\n'
        + '{"evento": "x", "momento": "2026-01-01T00:00:00Z", "dados": []}\n'
        + "\xff\xfe lixo\n"
        + linha("backup_falhou", agora, modelo="a", erro="e")[:30],  # torn, no newline
        encoding="utf-8",
    )
    leitor = LeitorAtividade(arquivo)
    assert [e["evento"] for e in leitor.novos()] == ["backup_criado"]
    assert leitor.linhas_invalidas == 4
    with open(arquivo, "a", encoding="utf-8") as f:  # the writer finishes its line
        f.write(linha("backup_falhou", agora, modelo="a", erro="e")[30:] + "\n")
    assert [e["evento"] for e in leitor.novos()] == ["backup_falhou"]
    assert leitor.novos() == []
    arquivo.write_text(linha("daemon_iniciado", agora) + "\n", encoding="utf-8")
    assert [e["evento"] for e in leitor.novos()] == ["daemon_iniciado"]
    assert leitor.recomecou
    assert LeitorAtividade(tmp_path / "nao_existe.jsonl").novos() == []


# -- CLI, API errors, config, daemon job -------------------------------------------


def test_cli_relatorio_json_saida_e_erros(
    povoado: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    povoado.fechar()
    base = str(tmp_path / "repo")
    r = cli(
        "relatorio",
        "--base",
        base,
        "--saida",
        str(tmp_path / "cli"),
        "--formatos",
        "json,html",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    arquivos = json.loads(r.stdout)["arquivos"]
    assert sorted(arquivos) == ["html", "json"]
    assert not (tmp_path / "cli" / "relatorio_diario.pdf").exists()
    validar_esquema(json.loads(Path(arquivos["json"]).read_text(encoding="utf-8")))
    r = cli("relatorio", "--base", base, "--formatos", "docx")
    assert r.returncode == 2 and "docx" in r.stderr
    r = cli("relatorio", "--base", str(tmp_path / "nao_ha"))
    assert r.returncode == 8, r.stderr
    (tmp_path / "arquivo_comum").write_text("x")
    r = cli("relatorio", "--base", base, "--saida", str(tmp_path / "arquivo_comum"))
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "arquivo_comum" in r.stderr


def test_falha_no_pdf_nao_deixa_arquivo_pela_metade(
    gerenciador: GerenciadorBackupVersionamento,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from backup_versionamento.relatorios import pdf

    saida = tmp_path / "s"
    gerar_relatorio(gerenciador, saida, formatos=["json"])
    antes = (saida / "relatorio_diario.json").read_bytes()

    def quebrar(_html: str) -> bytes:
        raise RuntimeError("falhou no meio")

    monkeypatch.setattr(pdf, "renderizar_pdf", quebrar)
    with pytest.raises(RuntimeError):
        gerar_relatorio(gerenciador, saida)
    assert (saida / "relatorio_diario.json").read_bytes() == antes
    assert sorted(p.name for p in saida.iterdir()) == ["relatorio_diario.json"]


def test_config_painel_fora_do_loopback_exige_token(tmp_path: Path) -> None:
    with pytest.raises(ErroConfiguracao, match="painel_token"):
        GerenciadorBackupVersionamento(
            tmp_path / "r", {"relatorios": {"painel_endereco": "0.0.0.0"}}
        )
    with pytest.raises(ErroConfiguracao, match=r"relatorios\.horario"):
        GerenciadorBackupVersionamento(
            tmp_path / "r", {"relatorios": {"horario": "25:00"}}
        )
    with GerenciadorBackupVersionamento(
        tmp_path / "r",
        {"relatorios": {"painel_endereco": "0.0.0.0", "painel_token": "segredo"}},
    ) as g:
        assert g.config["relatorios"]["painel_token"] == "segredo"


def test_daemon_agenda_o_relatorio_diario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from backup_versionamento.automacao import Daemon

    cfg = {
        **RAPIDO,
        "backup_automatico": {
            "habilitado": False,
            "limpeza_automatica": True,
            "diretorios_monitorados": [],
        },
        "relatorios": {"horario": "05:45", "painel_porta": 0},
    }
    with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
        extras = extras_do_daemon(g)
        assert extras.servicos == []  # painel_porta 0: no dashboard
        d = Daemon(g, g.config, relatorio=extras.relatorio)
        (job,) = d.agendador.agenda.get_jobs("relatorio")
        assert job.at_time is not None and job.at_time.strftime("%H:%M") == "05:45"
        d.iniciar()
        try:
            estado = json.loads((g.pasta_estado / "daemon_estado.json").read_text())
            assert estado["proximo_relatorio"] is not None
            job.run()  # the daily job, now instead of at 05:45
        finally:
            d.parar()
        pasta = g.base / "relatorios"
        assert sorted(p.name for p in pasta.iterdir()) == [
            "relatorio_diario.html",
            "relatorio_diario.json",
            "relatorio_diario.pdf",
        ]
        # Without WeasyPrint's system libraries the daily job still writes JSON
        # and HTML (and says why there is no PDF).
        from backup_versionamento.erros import ErroNaoSuportado
        from backup_versionamento.relatorios import pdf

        def sem_pango(_html: str) -> bytes:
            raise ErroNaoSuportado("PDF indisponível: sem Pango")

        for p in pasta.iterdir():
            p.unlink()
        monkeypatch.setattr(pdf, "renderizar_pdf", sem_pango)
        assert extras.relatorio is not None
        extras.relatorio()
        assert sorted(p.name for p in pasta.iterdir()) == [
            "relatorio_diario.html",
            "relatorio_diario.json",
        ]
        assert "Relatório diário sem PDF: PDF indisponível" in caplog.text
        desligado = dict(
            g.config, relatorios={**g.config["relatorios"], "habilitado": False}
        )
        g.config = desligado
        assert extras_do_daemon(g).relatorio is None
