"""Debounce: hand a model over only once its writer is done with it.

A checkpoint is often written in several steps, or to a temp name then renamed;
backing it up on the first event would store a torn file. A model is released
when (1) no write is open on it (Linux reports close-after-write), (2) no event
arrived for the quiet period, and (3) its size and mtime did not move across that
period. Then exactly one request is made for the final content.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..registro import NOME_LOGGER
from .cache import Assinatura, assinatura

log = logging.getLogger(NOME_LOGGER)


@dataclass
class _Pendente:
    ultimo_evento: float
    aberto: bool
    visto: Assinatura | None


class Estabilizador:
    """Collects change notices per model and releases each one when it has settled."""

    def __init__(
        self,
        silencio_segundos: float,
        ao_estabilizar: Callable[[Path], None],
        relogio: Callable[[], float] = time.monotonic,
    ) -> None:
        self.silencio_segundos = silencio_segundos
        self.ao_estabilizar = ao_estabilizar
        self.relogio = relogio
        self._pendentes: dict[Path, _Pendente] = {}
        self._trava = threading.Lock()
        self._parar = threading.Event()
        self._acordar = threading.Event()
        self._thread: threading.Thread | None = None

    # -- notices -------------------------------------------------------------
    def alterado(self, modelo: Path, *, escrita_aberta: bool | None = None) -> None:
        """Something changed in `modelo`.

        `escrita_aberta=True`: bytes were written and the writer has not closed yet;
        `False`: the writer closed it (or it arrived by rename, which is atomic);
        `None`: unknown, keep whatever was known.
        """
        with self._trava:
            p = self._pendentes.get(modelo)
            if p is None:
                p = self._pendentes[modelo] = _Pendente(self.relogio(), False, None)
            p.ultimo_evento = self.relogio()
            if escrita_aberta is not None:
                p.aberto = escrita_aberta
            p.visto = assinatura(modelo)
        self._acordar.set()

    def esquecer(self, modelo: Path) -> None:
        """The model is gone (deleted or renamed away): nothing to release."""
        with self._trava:
            self._pendentes.pop(modelo, None)

    def pendente(self, modelo: Path) -> bool:
        """True while `modelo` is being written or has not settled yet."""
        with self._trava:
            return modelo in self._pendentes

    def pendentes(self) -> list[Path]:
        with self._trava:
            return sorted(self._pendentes)

    # -- release -------------------------------------------------------------
    def verificar(self) -> list[Path]:
        """Release every settled model to the callback; returns them."""
        agora = self.relogio()
        prontos: list[Path] = []
        with self._trava:
            for modelo, p in list(self._pendentes.items()):
                if p.aberto or agora - p.ultimo_evento < self.silencio_segundos:
                    continue
                atual = assinatura(modelo)
                if atual is None:
                    del self._pendentes[modelo]
                elif atual != p.visto:
                    # Changed without a notice we saw (or we saw it late): wait again.
                    p.visto, p.ultimo_evento = atual, agora
                elif atual.tamanho == 0 and not atual.conteudo:
                    del self._pendentes[modelo]  # created, not written yet
                else:
                    del self._pendentes[modelo]
                    prontos.append(modelo)
        for modelo in prontos:
            try:
                self.ao_estabilizar(modelo)
            except Exception:  # a callback bug must not kill the debounce thread
                log.exception("Falha ao encaminhar %s para backup", modelo)
        return prontos

    def proximo_prazo(self) -> float | None:
        """Seconds until the earliest model may be released (None: nothing pending)."""
        with self._trava:
            prazos = [
                p.ultimo_evento + self.silencio_segundos
                for p in self._pendentes.values()
                if not p.aberto
            ]
        return None if not prazos else max(0.0, min(prazos) - self.relogio())

    # -- thread --------------------------------------------------------------
    def iniciar(self) -> None:
        self._parar.clear()
        self._thread = threading.Thread(
            target=self._laco, name="estabilizador", daemon=True
        )
        self._thread.start()

    def _laco(self) -> None:
        passo = max(0.05, min(0.5, self.silencio_segundos / 4))
        while not self._parar.is_set():
            prazo = self.proximo_prazo()
            self._acordar.wait(passo if prazo is None else min(max(prazo, 0.02), passo))
            self._acordar.clear()
            if not self._parar.is_set():
                self.verificar()

    def parar(self, tempo_limite: float | None = 5.0) -> None:
        self._parar.set()
        self._acordar.set()
        if self._thread is not None:
            self._thread.join(tempo_limite)
            self._thread = None
