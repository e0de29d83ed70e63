"""The report as data: one dict (schema `esquema_relatorio.json`) built from the facade.

Everything the HTML and PDF show comes from this dict, so the three files never
disagree. Only the facade's public methods are used (`listar_modelos`,
`listar_versoes`, `obter_versao`, `status`, `limpeza(simular=True)`), plus the
activity journal `<pasta_logs>/atividade.jsonl` that the event bus appends to.
Days are UTC calendar days.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ..base.tempo import iso_utc, momento_ou_none
from ..erros import ErroBackup
from ..integracoes.atividade import LeitorAtividade, arquivo_atividade
from ..metricas import (
    METRICAS_CONHECIDAS,
    linha_base_aleatoria,
    teste_acaso_para_exibir,
)
from ..registro import NOME_LOGGER

if TYPE_CHECKING:
    from ..gerenciador import GerenciadorBackupVersionamento

log = logging.getLogger(NOME_LOGGER)

VERSAO_ESQUEMA = 1
DIAS_PADRAO = 90
ORIGENS = ("manual", "agendado", "monitorado")
# The daemon's queue says "monitoramento"; the journal may carry either.
_SINONIMOS_ORIGEM = {"monitoramento": "monitorado", "observador": "monitorado"}
# Random bets in the chance baseline: the usual 15-number Lotofácil bet.
TAMANHO_APOSTA_BASE = 15
# `integridade_falhou` is the facade's older name for a failed check.
_EVENTOS_VERIFICACAO = {
    "verificacao_concluida",
    "verificacao_falhou",
    "integridade_falhou",
}
LIMITE_FALHAS = 100
LIMITE_RESTAURACOES = 50
_MB = 1024 * 1024


# -- activity journal -----------------------------------------------------------------


def origem_do_evento(dados: dict[str, Any]) -> str:
    """manual | agendado | monitorado; absent or unknown counts as manual."""
    o = str(dados.get("origem") or "manual")
    o = _SINONIMOS_ORIGEM.get(o, o)
    return o if o in ORIGENS else "manual"


# -- small helpers -----------------------------------------------------------------


def _dia(texto: str) -> date | None:
    m = momento_ou_none(texto)
    return m.astimezone(timezone.utc).date() if m else None


def inclinacao(valores: list[float]) -> float:
    """Least-squares slope of `valores` against 0, 1, 2, ... (0 for < 2 points)."""
    n = len(valores)
    if n < 2:
        return 0.0
    mx = (n - 1) / 2
    my = sum(valores) / n
    num = sum((i - mx) * (y - my) for i, y in enumerate(valores))
    den = sum((i - mx) ** 2 for i in range(n))
    return num / den


def _razao(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def _projecao(restante: int, limite: int, taxa: float, hoje: date) -> dict[str, Any]:
    """When `restante` bytes run out at `taxa` bytes/day (never, if not growing)."""
    dias: float | None
    if restante <= 0:
        dias = 0.0
    elif taxa > 0:
        dias = restante / taxa
    else:
        dias = None
    data = None
    if dias is not None and dias < 365 * 100:
        data = (hoje + timedelta(days=math.ceil(dias))).isoformat()
    return {
        "limite_bytes": limite,
        "restante_bytes": restante,
        "dias": None if dias is None else round(dias, 1),
        "data": data,
    }


def _resumo_validacao(v: dict[str, Any] | None) -> dict[str, Any] | None:
    if not v:
        return None
    estr = v.get("estrutural") or {}
    det = estr.get("detalhes") or {}
    carga = v.get("carregamento") or {}
    pickle = None
    if det.get("serializacao"):
        pickle = {
            "serializacao": det.get("serializacao"),
            "protocolo": det.get("protocolo"),
            "globais": list(det.get("globais") or []),
        }
    return {
        "formato": v.get("formato"),
        "biblioteca": v.get("biblioteca"),
        "valido": bool(v.get("valido", True)),
        "problemas": [str(p) for p in v.get("problemas") or []],
        "avisos": [str(a) for a in v.get("avisos") or []],
        "carregamento": {
            "executado": bool(carga.get("executado")),
            "ok": carga.get("ok"),
            "motivo": carga.get("motivo"),
        },
        "pickle": pickle,
    }


# -- sections -------------------------------------------------------------------------


def _repositorio(
    g: GerenciadorBackupVersionamento,
    st: dict[str, Any],
    versoes: dict[str, list[dict[str, Any]]],
    cota_bytes: int | None,
) -> dict[str, Any]:
    # Unique chunk bytes split the saving into deduplication and compression.
    unicos: dict[str, int] = {}
    for modelo, lista in versoes.items():
        for v in lista:
            try:
                sc = g.obter_versao(modelo, v["versao"])
            except ErroBackup as e:
                log.warning("Relatório: %s %s ignorada (%s)", modelo, v["versao"], e)
                continue
            for ent in sc.get("entradas", []):
                for bloco in ent.get("blocos") or []:
                    unicos[bloco[0]] = bloco[1]
    logico = int(st["tamanho_logico"])
    unico = sum(unicos.values())
    armazenado = int(st["tamanho_armazenado"])
    return {
        "base": st["base"],
        "id": st["id"],
        "formato": st["formato"],
        "modelos": len(versoes),
        "versoes": sum(len(v) for v in versoes.values()),
        "tamanho_logico": logico,
        "tamanho_unico": unico,
        "tamanho_armazenado": armazenado,
        "pacotes": int(st["pacotes"]),
        "razao_deduplicacao": _razao(logico, unico),
        "razao_compressao": _razao(unico, armazenado),
        "razao_economia": _razao(logico, armazenado),
        # None: an object store (S3) has no free space to report.
        "espaco_livre": None if st["espaco_livre"] is None else int(st["espaco_livre"]),
        "cota_bytes": cota_bytes,
        # Left out of every count above: their sidecar does not read.
        "versoes_danificadas": list(st.get("versoes_danificadas") or []),
    }


def serie_crescimento(
    versoes: Iterable[dict[str, Any]], inicio: date, dias: int
) -> list[dict[str, Any]]:
    """Per day: versions and stored bytes added, and the running totals.

    Counts versions that still exist (removed ones left no sidecar behind).
    """
    novas: Counter[date] = Counter()
    bytes_novos: Counter[date] = Counter()
    antes_v = antes_b = 0
    for v in versoes:
        d = _dia(v["criado_em"])
        if d is None:
            continue
        armazenado = int(v.get("tamanho_armazenado") or 0)
        if d < inicio:
            antes_v += 1
            antes_b += armazenado
        else:
            novas[d] += 1
            bytes_novos[d] += armazenado
    saida = []
    acum_v, acum_b = antes_v, antes_b
    for i in range(dias):
        d = inicio + timedelta(days=i)
        acum_v += novas[d]
        acum_b += bytes_novos[d]
        saida.append(
            {
                "dia": d.isoformat(),
                "versoes_novas": novas[d],
                "bytes_novos": bytes_novos[d],
                "versoes_acumuladas": acum_v,
                "bytes_acumulados": acum_b,
            }
        )
    return saida


def _serie_do_ajuste(
    serie: list[dict[str, Any]], todas: list[dict[str, Any]], inicio: date
) -> list[dict[str, Any]]:
    """The days the rate is fitted on: the real span of a young repository.

    The days before its first version are not days of no growth (it did not
    exist): fitting them turned 6 versions today into "0 versões/dia". A young
    repository is fitted from the eve of its first version (nothing stored yet)
    to today, so one day with 6 versions reads 6 per day.
    """
    dias = [d for d in (_dia(v["criado_em"]) for v in todas) if d is not None]
    primeiro = min(dias, default=None)
    if primeiro is None or primeiro <= inicio:
        return serie
    vespera = {"bytes_acumulados": 0, "versoes_acumuladas": 0}
    return [vespera, *(d for d in serie if d["dia"] >= primeiro.isoformat())]


def _crescimento(
    todas: list[dict[str, Any]], repo: dict[str, Any], hoje: date, dias: int
) -> dict[str, Any]:
    inicio = hoje - timedelta(days=dias - 1)
    serie = serie_crescimento(todas, inicio, dias)
    ajuste = _serie_do_ajuste(serie, todas, inicio)
    taxa_b = inclinacao([float(d["bytes_acumulados"]) for d in ajuste])
    taxa_v = inclinacao([float(d["versoes_acumuladas"]) for d in ajuste])
    livre = repo["espaco_livre"]
    projecao: dict[str, Any] = {
        "disco": None
        if livre is None
        else _projecao(livre, livre + repo["tamanho_armazenado"], taxa_b, hoje),
        "cota": None,
    }
    if repo["cota_bytes"]:
        cota = repo["cota_bytes"]
        projecao["cota"] = _projecao(
            cota - repo["tamanho_armazenado"], cota, taxa_b, hoje
        )
    return {
        "dias": serie,
        "taxa_bytes_dia": round(taxa_b, 3),
        "taxa_versoes_dia": round(taxa_v, 4),
        "dias_taxa": dias if ajuste is serie else len(ajuste) - 1,
        "projecao": projecao,
    }


def resumo_atividade(
    eventos: list[dict[str, Any]], inicio: date, dias: int
) -> dict[str, Any]:
    """Backups per day by origin, failures and restores, the last integrity check."""
    fim = inicio + timedelta(days=dias - 1)
    por_dia: dict[date, Counter[str]] = {}
    totais: Counter[str] = Counter()
    falhas: list[dict[str, Any]] = []
    restauracoes: list[dict[str, Any]] = []
    ultima_verificacao = None
    for ev in eventos:
        nome, dados, m = ev["evento"], ev["dados"], ev["momento"]
        d = m.astimezone(timezone.utc).date()
        if nome in _EVENTOS_VERIFICACAO:
            if ultima_verificacao is None or m >= ultima_verificacao["_m"]:
                ultima_verificacao = {
                    "_m": m,
                    "momento": iso_utc(m),
                    "ok": nome == "verificacao_concluida"
                    and bool(dados.get("ok", True)),
                    "problemas": _quantos(dados.get("problemas")),
                    "versoes_verificadas": dados.get("versoes_verificadas"),
                }
            continue
        if not inicio <= d <= fim:
            continue
        conta = por_dia.setdefault(d, Counter())
        if nome == "backup_criado":
            origem = origem_do_evento(dados)
            conta[origem] += 1
            totais[origem] += 1
        elif nome == "backup_ignorado":
            totais["ignorados"] += 1
        elif nome == "backup_falhou":
            conta["falhas"] += 1
            totais["falhas"] += 1
            falhas.append(
                {
                    "momento": iso_utc(m),
                    "modelo": str(dados.get("modelo") or dados.get("caminho") or ""),
                    "origem": origem_do_evento(dados),
                    "erro": str(dados.get("erro") or "motivo não registrado"),
                }
            )
        elif nome in ("restauracao_concluida", "restauracao_falhou"):
            ok = nome == "restauracao_concluida"
            conta["restauracoes"] += 1
            totais["restauracoes" if ok else "restauracoes_falhas"] += 1
            restauracoes.append(
                {
                    "momento": iso_utc(m),
                    "modelo": str(dados.get("modelo") or ""),
                    "versao": str(dados.get("versao") or ""),
                    "ok": ok,
                    "erro": None if ok else str(dados.get("erro") or ""),
                }
            )
    if ultima_verificacao is not None:
        del ultima_verificacao["_m"]
    falhas.sort(key=lambda f: f["momento"], reverse=True)
    restauracoes.sort(key=lambda r: r["momento"], reverse=True)
    serie = []
    for i in range(dias):
        d = inicio + timedelta(days=i)
        c = por_dia.get(d, Counter())
        serie.append(
            {
                "dia": d.isoformat(),
                **{o: c[o] for o in ORIGENS},
                "falhas": c["falhas"],
                "restauracoes": c["restauracoes"],
            }
        )
    return {
        "dias": serie,
        "totais": {
            "backups": {o: totais[o] for o in ORIGENS},
            "ignorados": totais["ignorados"],
            "falhas": totais["falhas"],
            "restauracoes": totais["restauracoes"],
            "restauracoes_falhas": totais["restauracoes_falhas"],
        },
        "falhas": falhas[:LIMITE_FALHAS],
        "restauracoes": restauracoes[:LIMITE_RESTAURACOES],
        "ultima_verificacao": ultima_verificacao,
    }


def _quantos(x: Any) -> int | None:
    if isinstance(x, list):
        return len(x)
    if isinstance(x, int) and not isinstance(x, bool):
        return x
    return None


def _teste_acaso(
    nome: str, versoes: list[dict[str, Any]], pontos: list[dict[str, Any]]
) -> dict[str, Any] | None:
    if nome not in METRICAS_CONHECIDAS or not pontos:
        return None
    versao = pontos[-1]["versao"]
    metricas = next(v["metricas"] for v in versoes if v["versao"] == versao)
    teste = teste_acaso_para_exibir(metricas, TAMANHO_APOSTA_BASE).get(nome)
    return {**teste, "versao": versao} if teste else None


def series_metricas(versoes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each metric across versions; known ones carry their chance baseline."""
    base = linha_base_aleatoria(TAMANHO_APOSTA_BASE)
    nomes: list[str] = []
    for v in versoes:
        for nome in v.get("metricas") or {}:
            if nome not in nomes:
                nomes.append(nome)
    conhecidas = [n for n in METRICAS_CONHECIDAS if n in nomes]
    proprias = sorted(n for n in nomes if n not in METRICAS_CONHECIDAS)
    saida = []
    for nome in conhecidas + proprias:
        pontos = [
            {"versao": v["versao"], "valor": v["metricas"][nome]}
            for v in versoes
            if isinstance((v.get("metricas") or {}).get(nome), (int, float))
        ]
        acaso = base.get(nome) if nome in METRICAS_CONHECIDAS else None
        saida.append(
            {
                "nome": nome,
                "descricao": METRICAS_CONHECIDAS.get(nome, "métrica própria"),
                "conhecida": nome in METRICAS_CONHECIDAS,
                "acaso": acaso if isinstance(acaso, float) else None,
                "pontos": pontos,
                # The test behind "supera o acaso", on the last version measured.
                "teste": _teste_acaso(nome, versoes, pontos),
            }
        )
    return saida


def _modelo(
    nome: str, versoes: list[dict[str, Any]], aliases: dict[str, str] | None = None
) -> dict[str, Any]:
    linhas = [
        {
            "versao": v["versao"],
            "criado_em": v["criado_em"],
            "tipo_mudanca": v.get("tipo_mudanca") or "",
            "incremento": v.get("incremento") or "",
            "descricao": v.get("descricao") or "",
            "tamanho": int(v["tamanho"]),
            "tamanho_adicionado": int(v.get("tamanho_armazenado") or 0),
            "arquivos": int(v.get("arquivos") or 0),
            "fixada": bool(v.get("fixada")),
            "metricas": dict(v.get("metricas") or {}),
            "validacao": _resumo_validacao(v.get("validacao")),
        }
        for v in versoes
    ]
    ultima = linhas[-1] if linhas else None
    return {
        "nome": nome,
        "versoes_total": len(linhas),
        "tamanho_logico": sum(v["tamanho"] for v in linhas),
        "tamanho_adicionado": sum(v["tamanho_adicionado"] for v in linhas),
        "ultima_versao": ultima["versao"] if ultima else None,
        "aliases": dict(aliases or {}),
        "ultimo_backup": ultima["criado_em"] if ultima else None,
        "tamanho_aposta_base": TAMANHO_APOSTA_BASE,
        "metricas": series_metricas(versoes),
        "validacoes_falhas": sum(
            1 for v in linhas if v["validacao"] and not v["validacao"]["valido"]
        ),
        "versoes": linhas,
    }


def _retencao(g: GerenciadorBackupVersionamento) -> dict[str, Any]:
    try:
        plano = g.limpeza(simular=True)
    except ErroBackup as e:
        return {"remover": [], "mantidas": 0, "erro": str(e)}
    remover = [
        {"modelo": m, "versao": d["versao"], "motivos": list(d["motivos"])}
        for m, decisoes in plano["modelos"].items()
        for d in decisoes
        if not d["manter"]
    ]
    return {
        "remover": remover,
        "mantidas": int(plano["versoes_mantidas"]),
        "erro": None,
    }


# -- the whole report -----------------------------------------------------------------


def montar_relatorio(
    g: GerenciadorBackupVersionamento,
    *,
    agora: datetime | None = None,
    dias: int = DIAS_PADRAO,
    cota_mb: int | None = None,
) -> dict[str, Any]:
    """The report dict (see `esquema_relatorio.json`), at `agora` (default now)."""
    agora = agora or datetime.now(timezone.utc)
    hoje = agora.astimezone(timezone.utc).date()
    inicio = hoje - timedelta(days=dias - 1)
    if cota_mb is None:
        cota_mb = int(g.config.get("relatorios", {}).get("cota_mb", 0))
    st = g.status()
    versoes = {m: g.listar_versoes(m) for m in g.listar_modelos()}
    repo = _repositorio(g, st, versoes, cota_mb * _MB if cota_mb else None)
    todas = [v for lista in versoes.values() for v in lista]
    leitor = LeitorAtividade(arquivo_atividade(g.pasta_logs))
    eventos = leitor.novos()
    atividade = resumo_atividade(eventos, inicio, dias)
    atividade["arquivo"] = str(leitor.arquivo)
    atividade["disponivel"] = leitor.arquivo.is_file()
    atividade["linhas_invalidas"] = leitor.linhas_invalidas
    return {
        "versao_esquema": VERSAO_ESQUEMA,
        "gerado_em": iso_utc(agora),
        "periodo": {
            "dias": dias,
            "inicio": inicio.isoformat(),
            "fim": hoje.isoformat(),
            "fuso": "UTC",
        },
        "repositorio": repo,
        "crescimento": _crescimento(todas, repo, hoje, dias),
        "atividade": atividade,
        "modelos": [_modelo(m, lista, g.aliases(m)) for m, lista in versoes.items()],
        "retencao": _retencao(g),
    }
