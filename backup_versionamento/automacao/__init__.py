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
"""

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
