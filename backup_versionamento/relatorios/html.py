"""HTML of the report and of the live page, from jinja2 templates in `modelos_html/`.

Self-contained on purpose: CSS inline, charts as inline SVG, no script in the
report, and a Content-Security-Policy that forbids the browser to fetch anything.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..base.tempo import hora_local
from ..texto import tamanho_legivel
from . import graficos

# Long histories: the tables show the newest rows; the JSON holds them all.
LIMITE_VERSOES_TABELA = 15
LIMITE_LINHAS = 50


def _numero(x: Any, casas: int = 4) -> str:
    """Tiny rates (chance of 15 hits) in scientific form; no trailing zeros."""
    if x is None:
        return "-"
    if not isinstance(x, float):
        return str(x)
    if x and abs(x) < 1e-3:
        return f"{x:.{casas}g}"
    return f"{x:.{casas}f}".rstrip("0").rstrip(".")


def _svg(texto: str | None) -> Markup | None:
    # pygal escapes every label it writes; its SVG is trusted markup.
    return Markup(texto) if texto else None


_AMBIENTE = Environment(
    loader=PackageLoader("backup_versionamento.relatorios", "modelos_html"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_AMBIENTE.filters["tamanho"] = tamanho_legivel
_AMBIENTE.filters["hora"] = hora_local
_AMBIENTE.filters["numero"] = _numero


def renderizar_relatorio(relatorio: dict[str, Any]) -> str:
    """The daily report's HTML, rendered only from the report dict."""
    graf = {
        "crescimento": _svg(graficos.crescimento(relatorio["crescimento"]["dias"])),
        "versoes": _svg(graficos.versoes_por_dia(relatorio["crescimento"]["dias"])),
        "atividade": _svg(graficos.atividade(relatorio["atividade"]["dias"])),
        "metricas": {
            m["nome"]: _svg(graficos.metricas(m)) for m in relatorio["modelos"]
        },
    }
    return _AMBIENTE.get_template("relatorio.html").render(
        r=relatorio,
        graficos=graf,
        limite_versoes=LIMITE_VERSOES_TABELA,
        limite_linhas=LIMITE_LINHAS,
    )


def renderizar_painel(
    dados: dict[str, Any], *, atualizar_segundos: int | None = 15
) -> str:
    """The live page; `atualizar_segundos=None` for a file that does not reload."""
    graf = {
        "backups": _svg(
            graficos.tendencia_curta(
                [(d["dia"][5:], d["backups"]) for d in dados["dias"]],
                "Backups por dia",
            )
        ),
        "armazenado": _svg(
            graficos.tendencia_curta(
                [
                    (d["dia"][5:], round(d["bytes_acumulados"] / 2**20, 3))
                    for d in dados["dias"]
                ],
                "Armazenado (MiB)",
            )
        ),
    }
    return _AMBIENTE.get_template("painel.html").render(
        p=dados, graficos=graf, atualizar=atualizar_segundos
    )
