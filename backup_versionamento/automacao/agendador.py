"""Scheduler: sweeps, the daily cleanup and report, on a private `schedule.Scheduler`.

`backup_automatico.horarios_execucao` (fixed "HH:MM" times) replaces the interval
when given, because `intervalo_horas` always has a value (default 6) and the user
who lists times means "at these times". A job's exception would escape
`run_pending()` and kill the thread, so every job is wrapped.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

import schedule

from ..registro import NOME_LOGGER

log = logging.getLogger(NOME_LOGGER)

ETIQUETA_VARREDURA = "varredura"
ETIQUETA_LIMPEZA = "limpeza"
ETIQUETA_RELATORIO = "relatorio"


class Agendador:
    """Runs `varrer` on the configured schedule, `limpar` and `relatorio` daily."""

    def __init__(
        self,
        config_auto: dict[str, Any],
        varrer: Callable[[], Any] | None,
        limpar: Callable[[], Any] | None = None,
        relatorio: Callable[[], Any] | None = None,
        horario_relatorio: str = "06:00",
    ) -> None:
        """`varrer=None`: no sweeps (automatic backup off), only the daily jobs.

        `relatorio`, when given, runs daily at `horario_relatorio` (HH:MM).
        """
        self.varrer = varrer
        self.limpar = limpar
        self.agenda = schedule.Scheduler()
        self._parar = threading.Event()
        self._thread: threading.Thread | None = None
        self.falhas = 0
        horarios: list[str] = list(config_auto.get("horarios_execucao") or [])
        if varrer is None:
            pass
        elif horarios:
            for h in sorted(set(horarios)):
                self.agenda.every().day.at(h).do(
                    self._protegido, "varredura", varrer
                ).tag(ETIQUETA_VARREDURA)
        else:
            horas = config_auto["intervalo_horas"]
            # schedule wants an int interval; express fractional hours in minutes.
            if float(horas).is_integer():
                trabalho = self.agenda.every(int(horas)).hours
            else:
                trabalho = self.agenda.every(max(1, round(horas * 60))).minutes
            trabalho.do(self._protegido, "varredura", varrer).tag(ETIQUETA_VARREDURA)
        if limpar is not None and config_auto.get("limpeza_automatica"):
            self.agenda.every().day.at(config_auto["horario_limpeza"]).do(
                self._protegido, "limpeza", limpar
            ).tag(ETIQUETA_LIMPEZA)
        if relatorio is not None:
            self.agenda.every().day.at(horario_relatorio).do(
                self._protegido, "relatório", relatorio
            ).tag(ETIQUETA_RELATORIO)

    def _protegido(self, nome: str, tarefa: Callable[[], Any]) -> None:
        try:
            tarefa()
        except Exception as e:
            self.falhas += 1
            log.error("Tarefa agendada '%s' falhou: %s", nome, e, exc_info=True)

    def executar_pendentes(self) -> None:
        """Run the jobs that are due now (by the wall clock `schedule` reads)."""
        self.agenda.run_pending()

    def proxima_execucao(
        self, etiqueta: str = ETIQUETA_VARREDURA
    ) -> dt.datetime | None:
        """Next run of the tagged jobs, naive local time as `schedule` keeps it."""
        proximas = [j.next_run for j in self.agenda.get_jobs(etiqueta) if j.next_run]
        return min(proximas) if proximas else None

    # -- thread --------------------------------------------------------------
    def iniciar(self, varrer_agora: bool = True) -> None:
        """Start the thread; `varrer_agora` sweeps once first (catch up on downtime)."""
        self._parar.clear()
        self._thread = threading.Thread(
            target=self._laco, args=(varrer_agora,), name="agendador", daemon=True
        )
        self._thread.start()

    def _laco(self, varrer_agora: bool) -> None:
        if varrer_agora and self.varrer is not None:
            self._protegido("varredura", self.varrer)
        while not self._parar.is_set():
            self.executar_pendentes()
            espera = self.agenda.idle_seconds
            # Short waits: wall-clock jumps (suspend, NTP) are noticed within a second.
            self._parar.wait(1.0 if espera is None else min(max(espera, 0.05), 1.0))

    def parar(self, tempo_limite: float | None = None) -> None:
        """Stop after the job in progress (a sweep checks the same stop signal)."""
        self._parar.set()
        if self._thread is not None:
            self._thread.join(tempo_limite)
            if not self._thread.is_alive():
                self._thread = None

    @property
    def sinal_parada(self) -> threading.Event:
        return self._parar
