"""Backup and semantic versioning of the Lotofácil project's ML models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .erros import ErroBackup

if TYPE_CHECKING:
    from .gerenciador import GerenciadorBackupVersionamento, verificar_integridade

__version__ = "1.0.0"
__all__ = ["ErroBackup", "GerenciadorBackupVersionamento", "verificar_integridade"]


def __getattr__(nome: str) -> Any:
    # lazy: startup time (docs/DESEMPENHO.md). `cli --help` and the subcommands
    # that need no repository never load the manager and the whole engine.
    if nome in ("GerenciadorBackupVersionamento", "verificar_integridade"):
        from . import gerenciador

        return getattr(gerenciador, nome)
    raise AttributeError(f"module {__name__!r} has no attribute {nome!r}")
