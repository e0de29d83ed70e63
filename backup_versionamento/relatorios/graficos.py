"""Charts as inline SVG (pygal): no script, no external font, no request.

pygal's default config links a tooltip script from a CDN; `js=[]` drops it and
the inline config script is stripped, so each chart is plain SVG that a browser,
WeasyPrint and a printer all draw alike.
A chart with no data is not drawn (the template says "sem dados" instead).
"""

from __future__ import annotations

import re
from typing import Any

import pygal
from pygal.style import Style

# Long series would make each chart slow and unreadable: the newest points only.
MAX_PONTOS = 100
_MB = 1024 * 1024

ESTILO = Style(
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#888",
    opacity=".9",
    opacity_hover="1",
    colors=(
        "#1f77b4",
        "#2ca02c",
        "#ff7f0e",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#17becf",
    ),
    font_family="sans-serif",
    title_font_size=15,
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
)


def _config(**extra: Any) -> dict[str, Any]:
    return {
        "js": [],
        "disable_xml_declaration": True,
        "style": ESTILO,
        "width": 800,
        "height": 320,
        "show_minor_x_labels": False,
        "x_label_rotation": 30,
        "legend_at_bottom": True,
        "truncate_legend": -1,
        "print_values": False,
        "max_scale": 6,
        "include_x_axis": True,
        **extra,
    }


def _rotulos_principais(rotulos: list[str], quantos: int = 10) -> list[str]:
    """About `quantos` labels, counted back from the last: the newest (today, the
    latest version) is always labelled."""
    passo = max(1, len(rotulos) // quantos)
    return rotulos[::-1][::passo][::-1]


# pygal always embeds its config as an inline <script> (for the tooltips we do not
# load); the reports carry no script at all.
# Its legend ids (for that script) repeat in every chart: invalid in one HTML page.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
_ID_LEGENDA = re.compile(r' id="activate-serie-\d+"')


def _svg(grafico: Any) -> str:
    svg = _SCRIPT.sub("", str(grafico.render(is_unicode=True)))
    return _ID_LEGENDA.sub("", svg)


def crescimento(dias: list[dict[str, Any]]) -> str | None:
    """Stored bytes (running total, MiB) per day."""
    if not any(d["bytes_acumulados"] or d["versoes_novas"] for d in dias):
        return None
    g = pygal.Line(**_config(show_dots=False, fill=True))
    g.title = "Bytes armazenados (acumulado, MiB)"
    g.x_labels = [d["dia"][5:] for d in dias]
    g.x_labels_major = _rotulos_principais(g.x_labels)
    g.add("armazenado (MiB)", [round(d["bytes_acumulados"] / _MB, 3) for d in dias])
    return _svg(g)


def versoes_por_dia(dias: list[dict[str, Any]]) -> str | None:
    if not any(d["versoes_novas"] for d in dias):
        return None
    g = pygal.Bar(**_config())
    g.title = "Versões novas por dia"
    g.x_labels = [d["dia"][5:] for d in dias]
    g.x_labels_major = _rotulos_principais(g.x_labels)
    g.add("versões", [d["versoes_novas"] for d in dias])
    return _svg(g)


def atividade(dias: list[dict[str, Any]]) -> str | None:
    """Backups per day stacked by origin, with failures on top."""
    series = ("manual", "agendado", "monitorado", "falhas")
    if not any(d[s] for d in dias for s in series):
        return None
    g = pygal.StackedBar(**_config())
    g.title = "Backups por dia (por origem) e falhas"
    g.x_labels = [d["dia"][5:] for d in dias]
    g.x_labels_major = _rotulos_principais(g.x_labels)
    for s in series:
        g.add(s, [d[s] for d in dias])
    return _svg(g)


def metricas(modelo: dict[str, Any]) -> str | None:
    """The Lotofácil metrics across versions, each with its chance baseline dashed."""
    series = [s for s in modelo["metricas"] if s["conhecida"] and s["pontos"]]
    if not series:
        return None
    versoes = [v["versao"] for v in modelo["versoes"]][-MAX_PONTOS:]
    g = pygal.Line(**_config(range=(0, 1), show_dots=len(versoes) <= 60))
    g.title = f"Métricas do Lotofácil: {modelo['nome']} (tracejado: acaso)"
    g.x_labels = versoes
    g.x_labels_major = _rotulos_principais(versoes)
    for s in series:
        valores = {p["versao"]: p["valor"] for p in s["pontos"]}
        g.add(s["nome"], [valores.get(v) for v in versoes], allow_interruptions=True)
    for s in series:
        if s["acaso"] is not None:
            g.add(
                f"acaso {s['nome']}",
                [s["acaso"]] * len(versoes),
                show_dots=False,
                stroke_style={"width": 1.5, "dasharray": "6, 4"},
            )
    return _svg(g)


def tendencia_curta(pontos: list[tuple[str, float]], titulo: str) -> str | None:
    """A small line for the live page (label, value) pairs."""
    if not pontos or not any(v for _, v in pontos):
        return None
    g = pygal.Line(**_config(height=220, show_dots=False, fill=True))
    g.title = titulo
    g.x_labels = [r for r, _ in pontos]
    g.x_labels_major = _rotulos_principais(g.x_labels, 7)
    g.add(titulo, [v for _, v in pontos])
    return _svg(g)
