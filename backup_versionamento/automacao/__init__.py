"""Automation: the daemon that backs models up on a schedule and as they are saved.

filtro         which paths are models (extensions, ignore patterns, SavedModel)
cache          stat cache: what each model looked like at its last backup
varredura      sweep of the monitored folders against the cache
estabilizador  debounce: release a model once its writer is done
observador     watchdog observers feeding the debouncer
fila           one backup queue, one worker thread
agendador      schedule.Scheduler of our own: sweeps and the daily cleanup
arquivo_pid    flock'ed PID file
daemon         the wiring, the process (foreground or detached) and its state
configuracao   the `backup_automatico` configuration section (schema only)

The names below load the daemon on first use (PEP 562): config.py imports
`configuracao` on every command, and that must not bring watchdog or schedule in
(docs/DESEMPENHO.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .daemon import (
        Daemon,
        executar_primeiro_plano,
        iniciar_segundo_plano,
        ler_estado_daemon,
        parar_daemon,
    )

__all__ = [
    "Daemon",
    "executar_primeiro_plano",
    "iniciar_segundo_plano",
    "ler_estado_daemon",
    "parar_daemon",
]


def __getattr__(nome: str) -> Any:
    if nome in __all__:
        from . import daemon

        return getattr(daemon, nome)
    raise AttributeError(f"module {__name__!r} has no attribute {nome!r}")
