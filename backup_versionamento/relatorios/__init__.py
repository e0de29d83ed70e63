"""Reports and monitoring: the daily report (JSON, HTML, PDF) and the live page.

dados                 the report dict, from the facade and the activity journal
esquema_relatorio.json  its JSON Schema (versao_esquema 1)
graficos              inline SVG charts (pygal)
html                  jinja2 templates in modelos_html/
pdf                   WeasyPrint, from the same HTML
painel                the live page and its read-only HTTP server
metricas_prometheus   /metrics in the Prometheus text format

Presentation layer, above the facade: it reads the repository only through the
facade's public methods and attributes (`config`, `pasta_saidas`, `pasta_logs`,
`pasta_estado`), and nothing below it imports this package. The CLI
(`relatorio`, `painel`) and the daemon's daily job call it with a facade.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base.escrita import erro_de_os
from ..erros import ErroBackup, ErroNaoSuportado
from ..registro import NOME_LOGGER

# lazy: startup time (docs/DESEMPENHO.md); the CLI builds its parser from FORMATOS
# without loading the report's data layer.
if TYPE_CHECKING:
    from ..automacao.daemon import Extras, Servico
    from ..gerenciador import GerenciadorBackupVersionamento
    from .dados import VERSAO_ESQUEMA, montar_relatorio

log = logging.getLogger(NOME_LOGGER)

FORMATOS = ("json", "html", "pdf")
NOME_BASE = "relatorio_diario"
PASTA_PADRAO = "relatorios"
ARQUIVO_ESQUEMA = Path(__file__).with_name("esquema_relatorio.json")


def pasta_padrao(gerenciador: GerenciadorBackupVersionamento) -> Path:
    """`<base>/relatorios`, where the spec puts the daily report.

    A repository in an object store or on a read-only mount has no such folder:
    the reports go beside its logs in this machine's state folder. So do those of
    a repository that hides names: a report names models and versions
    (`pasta_saidas` says which).
    """
    return Path(gerenciador.pasta_saidas) / PASTA_PADRAO


def gerar_relatorio(
    gerenciador: GerenciadorBackupVersionamento,
    saida: str | Path | None = None,
    *,
    formatos: Iterable[str] = FORMATOS,
    agora: datetime | None = None,
) -> dict[str, str]:
    """Write relatorio_diario.{json,html,pdf} into `saida` (default <base>/relatorios).

    Everything is rendered in memory first, then each file is written atomically:
    a failure leaves the previous day's files whole. Returns format -> path.
    """
    from ..armazenamento.escrita_atomica import escrever_atomico
    from .dados import montar_relatorio

    pedidos = list(dict.fromkeys(formatos))
    desconhecidos = [f for f in pedidos if f not in FORMATOS]
    if desconhecidos or not pedidos:
        raise ErroNaoSuportado(
            f"formato de relatório {', '.join(desconhecidos) or '(nenhum)'} não "
            f"suportado; use {', '.join(FORMATOS)}"
        )
    pasta = Path(saida) if saida is not None else pasta_padrao(gerenciador)
    relatorio = montar_relatorio(gerenciador, agora=agora)
    conteudo: dict[str, bytes] = {}
    if "json" in pedidos:
        conteudo["json"] = (
            json.dumps(relatorio, ensure_ascii=False, indent=1) + "\n"
        ).encode("utf-8")
    if "html" in pedidos or "pdf" in pedidos:
        from .html import renderizar_relatorio

        html = renderizar_relatorio(relatorio)
        if "html" in pedidos:
            conteudo["html"] = html.encode("utf-8")
        if "pdf" in pedidos:
            from .pdf import renderizar_pdf

            conteudo["pdf"] = renderizar_pdf(html)
    arquivos: dict[str, str] = {}
    try:
        for formato in FORMATOS:
            if formato in conteudo:
                destino = pasta / f"{NOME_BASE}.{formato}"
                escrever_atomico(destino, conteudo[formato])
                arquivos[formato] = str(destino)
    except OSError as e:
        raise erro_de_os(e, str(e.filename or pasta)) from e
    return arquivos


def extras_do_daemon(gerenciador: GerenciadorBackupVersionamento) -> Extras:
    """The daily report job and the dashboard server, per the `relatorios` config.

    Neither may stop backups: a dashboard that cannot start (port taken) and a
    PDF that cannot be made (no Pango) are warnings in the log.
    """
    from ..automacao.daemon import Extras  # lazy: startup time (docs/DESEMPENHO.md)

    cfg = gerenciador.config["relatorios"]
    servicos: list[Servico] = []
    if cfg["painel_porta"]:
        from .painel import Painel, ServidorPainel

        try:
            servicos.append(
                ServidorPainel(
                    Painel(gerenciador),
                    cfg["painel_endereco"],
                    cfg["painel_porta"],
                    cfg["painel_token"],
                )
            )
        except (ErroBackup, ImportError, OSError) as e:
            log.warning("Painel não iniciado: %s", e)

    def relatorio() -> None:
        try:
            arquivos = gerar_relatorio(gerenciador)
        except ErroNaoSuportado as e:  # no Pango here: JSON and HTML still help
            log.warning("Relatório diário sem PDF: %s", e)
            arquivos = gerar_relatorio(gerenciador, formatos=("json", "html"))
        log.info("Relatório diário gravado: %s", ", ".join(arquivos.values()))

    return Extras(relatorio=relatorio if cfg["habilitado"] else None, servicos=servicos)


__all__ = [
    "ARQUIVO_ESQUEMA",
    "FORMATOS",
    "VERSAO_ESQUEMA",
    "extras_do_daemon",
    "gerar_relatorio",
    "montar_relatorio",
    "pasta_padrao",
]


def __getattr__(nome: str) -> Any:
    if nome in ("VERSAO_ESQUEMA", "montar_relatorio"):
        from . import dados

        return getattr(dados, nome)
    raise AttributeError(f"module {__name__!r} has no attribute {nome!r}")
