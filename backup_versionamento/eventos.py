"""The event bus: typed events with a stable payload, one thread per subscriber.

Every action of the engine emits one event here (names and payloads in
docs/EVENTOS.md); the daemon, the activity journal and the integrations
subscribe. `emitir` only puts the event into each subscriber's queue, so a
subscriber that raises or hangs never fails or slows the action: it runs on its
own worker thread, and its exceptions are logged.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import queue
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .base.tempo import agora_iso
from .registro import NOME_LOGGER

log = logging.getLogger(NOME_LOGGER)

# The one list of event names (config validation and docs use it).
NOMES_EVENTOS: dict[str, str] = {
    "backup_iniciado": "um backup começou",
    "backup_criado": "uma versão nova foi gravada",
    "backup_ignorado": "conteúdo igual ao da última versão: nada gravado",
    "backup_falhou": "um backup falhou",
    "restauracao_concluida": "uma versão foi restaurada e conferida",
    "restauracao_falhou": "uma restauração falhou",
    "verificacao_concluida": "verificação de integridade sem problemas",
    "verificacao_falhou": "verificação de integridade encontrou problemas",
    "versao_fixada": "uma versão foi fixada (a retenção não a remove)",
    "versao_desafixada": "uma versão deixou de ser fixada",
    "versao_removida": "a limpeza removeu uma versão",
    "alias_definido": "um alias (ex.: producao) passou a apontar para uma versão",
    "alias_removido": "um alias deixou de apontar para uma versão",
    "limpeza_concluida": "a limpeza terminou",
    "daemon_iniciado": "o daemon começou a rodar",
    "daemon_parado": "o daemon parou",
    "espaco_baixo": "espaço livre abaixo de espaco_disco.aviso_mb",
    "chave_alterada": "uma chave do repositório foi adicionada, removida ou trocada",
    "acesso_negado": "o controle de acesso recusou uma ação",
}
EVENTOS = frozenset(NOMES_EVENTOS)

# Threads of subscribers are named "evento-<name>" (tests look for leaks).
PREFIXO_THREAD = "evento-"
LIMITE_FILA = 10_000
TEMPO_FECHAR_S = 10.0
# A worker with nothing to do for this long ends (a new one starts on demand).
OCIOSO_S = 0.5


@dataclass(frozen=True)
class Evento:
    """One thing that happened; `como_dict()` is the documented payload."""

    nome: str
    dados: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    momento: str = field(default_factory=agora_iso)

    def como_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "evento": self.nome,
            "momento": self.momento,
            "dados": self.dados,
        }


Ouvinte = Callable[[Evento], None]


class Inscricao:
    """One subscriber with its own queue and worker thread.

    The worker starts with the first queued event and ends after a short idle
    time, so a manager that is never closed leaves no thread behind.
    """

    def __init__(
        self, ouvinte: Ouvinte, nomes: frozenset[str] | None, nome: str
    ) -> None:
        self.ouvinte = ouvinte
        self.nomes = nomes
        self.nome = nome
        # Unbounded so the stop marker always fits; entregar() enforces the limit.
        self._fila: queue.SimpleQueue[Evento | None] = queue.SimpleQueue()
        self._trava = threading.Condition()
        self._thread: threading.Thread | None = None
        self._descartados = 0
        self._em_curso = 0  # queued or being handled

    def quer(self, evento: Evento) -> bool:
        return self.nomes is None or evento.nome in self.nomes

    def entregar(self, evento: Evento | None) -> None:
        with self._trava:
            if evento is not None and self._fila.qsize() >= LIMITE_FILA:
                self._descartados += 1
                if self._descartados == 1 or self._descartados % 1000 == 0:
                    log.warning(
                        "Ouvinte %s não acompanha os eventos: %d descartado(s)",
                        self.nome,
                        self._descartados,
                    )
                return
            self._fila.put(evento)
            if evento is not None:
                self._em_curso += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._laco, name=PREFIXO_THREAD + self.nome, daemon=True
                )
                self._thread.start()

    def _laco(self) -> None:
        while True:
            try:
                evento = self._fila.get(timeout=OCIOSO_S)
            except queue.Empty:
                with self._trava:  # entregar() starts a new worker after this
                    if self._fila.empty():
                        self._thread = None
                        return
                continue
            if evento is None:
                with self._trava:
                    self._thread = None
                return
            try:
                self.ouvinte(evento)
            except Exception:  # a subscriber must never break anything else
                log.exception("Ouvinte %s do evento %s falhou", self.nome, evento.nome)
            finally:
                with self._trava:
                    self._em_curso -= 1
                    self._trava.notify_all()

    def esvaziar(self, prazo: float) -> bool:
        """Wait until every queued event was handled (or the deadline passes)."""
        with self._trava:
            return self._trava.wait_for(
                lambda: self._em_curso == 0, max(0.0, prazo - time.monotonic())
            )

    def pedir_parada(self) -> None:
        """The worker stops after delivering what is already queued."""
        with self._trava:
            ativo = self._thread is not None
        if ativo:
            self.entregar(None)

    def cancelar(self, tempo_limite: float = TEMPO_FECHAR_S) -> bool:
        """Deliver what is queued, then stop; False if it did not finish in time."""
        self.pedir_parada()
        return self.aguardar(time.monotonic() + tempo_limite, tempo_limite)

    def aguardar(self, prazo: float, tempo_limite: float) -> bool:
        with self._trava:
            thread = self._thread
        if thread is None:
            return True
        thread.join(max(0.0, prazo - time.monotonic()))
        if thread.is_alive():
            log.warning(
                "Ouvinte %s não terminou em %.1f s; eventos ainda na fila dele "
                "foram abandonados",
                self.nome,
                tempo_limite,
            )
            return False
        return True


class BarramentoEventos:
    """Publish events to subscribers without ever waiting for them."""

    def __init__(self) -> None:
        self._inscricoes: list[Inscricao] = []
        self._trava = threading.Lock()
        self._fechado = False
        # Run after the last delivery (integrations finish their own sends).
        self._ao_fechar: list[Callable[[], None]] = []
        # A script that never calls fechar() still gets its events delivered.
        self._ao_sair = functools.partial(_fechar_se_vivo, weakref.ref(self))
        atexit.register(self._ao_sair)

    def inscrever(
        self,
        ouvinte: Ouvinte,
        nomes: Iterable[str] | None = None,
        *,
        nome: str | None = None,
    ) -> Inscricao:
        """Call `ouvinte(evento)` on its own thread for each event in `nomes` (all)."""
        filtro = None if nomes is None else frozenset(nomes)
        if filtro is not None and not filtro <= EVENTOS:
            raise ValueError(f"eventos desconhecidos: {sorted(filtro - EVENTOS)}")
        rotulo = nome or str(getattr(ouvinte, "__name__", type(ouvinte).__name__))
        with self._trava:
            if self._fechado:
                raise RuntimeError("barramento de eventos já fechado")
            inscricao = Inscricao(ouvinte, filtro, rotulo)
            self._inscricoes.append(inscricao)
        return inscricao

    def ao_fechar(self, acao: Callable[[], None]) -> None:
        """Call `acao()` when the bus closes, after queued events were delivered.

        Also at interpreter exit for a script that never closes its manager, so a
        short-lived process still sends what its subscribers queued.
        """
        self._ao_fechar.append(acao)

    def cancelar(
        self, inscricao: Inscricao, tempo_limite: float = TEMPO_FECHAR_S
    ) -> bool:
        """Unsubscribe after delivering what this subscriber already has queued."""
        with self._trava:
            if inscricao in self._inscricoes:
                self._inscricoes.remove(inscricao)
        return inscricao.cancelar(tempo_limite)

    def emitir(self, nome: str, **dados: Any) -> Evento:
        """Queue an event for every interested subscriber; never blocks on them."""
        if nome not in EVENTOS:
            raise ValueError(f"evento desconhecido: {nome!r}")
        # A JSON copy: the payload is what the docs promise, and nobody shares it.
        evento = Evento(nome, json.loads(json.dumps(dados, default=str)))
        with self._trava:
            alvos = [i for i in self._inscricoes if i.quer(evento)]
        for inscricao in alvos:
            inscricao.entregar(evento)
        return evento

    def esvaziar(self, tempo_limite: float = TEMPO_FECHAR_S) -> bool:
        """Wait until every event emitted so far reached its subscribers."""
        prazo = time.monotonic() + tempo_limite
        with self._trava:
            inscricoes = list(self._inscricoes)
        return all([i.esvaziar(prazo) for i in inscricoes])

    def fechar(self, tempo_limite: float = TEMPO_FECHAR_S) -> None:
        """Deliver queued events and stop every worker (at most `tempo_limite` s)."""
        with self._trava:
            if self._fechado:
                return
            self._fechado = True
            inscricoes, self._inscricoes = self._inscricoes, []
        atexit.unregister(self._ao_sair)
        prazo = time.monotonic() + tempo_limite
        for inscricao in inscricoes:
            inscricao.pedir_parada()
        for inscricao in inscricoes:
            inscricao.aguardar(prazo, tempo_limite)
        for acao in self._ao_fechar:
            try:
                acao()
            except Exception:  # closing must finish for every integration
                log.exception("Ação de fechamento %r falhou", acao)


def _fechar_se_vivo(ref: weakref.ReferenceType[BarramentoEventos]) -> None:
    barramento = ref()
    if barramento is not None:
        barramento.fechar(tempo_limite=5.0)
