"""PDF of the report: WeasyPrint lays out the same HTML with its print CSS.

Imported lazily (WeasyPrint needs Pango from the system), and with a URL fetcher
that refuses everything except inline `data:` URLs, so a PDF never waits on, or
leaks to, the network.
"""

from __future__ import annotations

from typing import Any

from ..erros import ErroNaoSuportado


def _buscar(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    if url.startswith("data:"):
        from weasyprint.urls import default_url_fetcher

        resposta: dict[str, Any] = default_url_fetcher(url, *args, **kwargs)
        return resposta
    raise ValueError(f"recurso externo recusado no PDF: {url}")


def renderizar_pdf(html: str) -> bytes:
    """The PDF bytes of `html` (A4, print CSS)."""
    try:
        import weasyprint
    except (ImportError, OSError) as e:
        raise ErroNaoSuportado(
            f"PDF indisponível: o WeasyPrint não carregou ({e}). Instale com "
            "`pip install weasyprint` e as bibliotecas do sistema (Debian: "
            "`apt-get install libpango-1.0-0 libpangoft2-1.0-0`), ou gere só "
            "JSON e HTML com `relatorio --formatos json,html`"
        ) from e
    documento = weasyprint.HTML(string=html, url_fetcher=_buscar)
    pdf: bytes = documento.write_pdf()
    return pdf
