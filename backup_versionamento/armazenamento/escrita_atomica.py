"""The atomic write lives in base/escrita.py; these names stay for the importers
that still reach it here (issue 20: to import from base.escrita directly)."""

from __future__ import annotations

from ..base.escrita import (
    SUFIXO_TEMP,
    escrever_atomico,
    escrever_json_atomico,
    escrever_tudo,
    iniciar_descarga,
    sincronizar_pasta,
)

__all__ = [
    "SUFIXO_TEMP",
    "escrever_atomico",
    "escrever_json_atomico",
    "escrever_tudo",
    "iniciar_descarga",
    "sincronizar_pasta",
]
