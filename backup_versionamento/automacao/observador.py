"""Watcher: watchdog observers on the monitored folders, feeding the debouncer.

The repository's own folder is never watched, even when it lies inside a
monitored folder: the folders on the way down to it get non-recursive watches and
their other children recursive ones, so the chunks a backup writes raise no
inotify event at all (and cannot loop back as new work).

A monitored folder that does not exist yet is waited for: its nearest existing
ancestor gets a non-recursive watch, and once the folder appears it is watched
like the others and what is already inside it is looked at.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from ..registro import NOME_LOGGER
from .estabilizador import Estabilizador
from .filtro import FiltroModelos, absoluto, dentro_de

log = logging.getLogger(NOME_LOGGER)

# Events that never mean "content changed": skipping them early keeps our own
# reads of a model (during its backup) from re-triggering it.
_IGNORADOS = (FileOpenedEvent, FileClosedNoWriteEvent)


def planejar_vigias(raiz: Path, excluidos: Sequence[Path]) -> list[tuple[Path, bool]]:
    """Watches (folder, recursive) covering `raiz` minus the excluded subtrees."""
    if any(dentro_de(raiz, e) for e in excluidos):
        return []
    dentro = [e for e in excluidos if raiz in e.parents]
    if not dentro:
        return [(raiz, True)]
    vigias: list[tuple[Path, bool]] = [(raiz, False)]
    try:
        filhos = sorted(os.scandir(raiz), key=lambda d: d.name)
    except OSError as e:
        log.warning("Monitoramento: não foi possível listar %s: %s", raiz, e)
        return vigias
    for filho in filhos:
        if filho.is_dir(follow_symlinks=False):
            vigias.extend(planejar_vigias(Path(filho.path), dentro))
    return vigias


class _Tratador(FileSystemEventHandler):
    def __init__(self, observador: Observador) -> None:
        self.observador = observador

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self.observador._tratar(event)
        except Exception:  # a handler exception would kill watchdog's dispatch thread
            log.exception("Monitoramento: erro ao tratar %r", event)


class Observador:
    """Real-time watch of the monitored folders; changed models go to the debouncer."""

    def __init__(
        self,
        diretorios: Sequence[Path],
        filtro: FiltroModelos,
        estabilizador: Estabilizador,
        observador: BaseObserver | None = None,
    ) -> None:
        self.diretorios = [absoluto(d) for d in diretorios]
        self.filtro = filtro
        self.estabilizador = estabilizador
        self._observador: BaseObserver = (
            observador if observador is not None else Observer()
        )
        # Linux inotify reports close-after-write; elsewhere only the quiet period.
        self.fechamento_confiavel = type(self._observador).__name__.startswith(
            "Inotify"
        )
        self._tratador = _Tratador(self)
        self._trava = threading.Lock()
        self._nao_recursivas: set[Path] = set()
        self._vigias: dict[tuple[Path, bool], ObservedWatch] = {}
        # Missing monitored folder -> the ancestor watched while waiting for it.
        self._aguardando: dict[Path, Path] = {}
        self._vigias_espera: dict[Path, ObservedWatch] = {}
        self.eventos_recebidos = 0

    @property
    def aguardando(self) -> list[Path]:
        """Monitored folders that do not exist (yet)."""
        with self._trava:
            return sorted(self._aguardando)

    @property
    def vigias(self) -> list[tuple[Path, bool]]:
        with self._trava:
            return sorted(self._vigias)

    def iniciar(self) -> None:
        ausentes = []
        for raiz in self.diretorios:
            if not raiz.is_dir():
                ausentes.append(raiz)
                continue
            for pasta, recursiva in planejar_vigias(raiz, self.filtro.excluidos):
                self._vigiar(pasta, recursiva)
        for raiz in ausentes:
            log.warning(
                "Pasta monitorada não existe: %s; será monitorada assim que for criada",
                raiz,
            )
            self._esperar(raiz)
        try:
            self._observador.start()
        except OSError as e:
            # E.g. fs.inotify.max_user_watches reached: sweeps still cover everything.
            log.error(
                "Monitoramento em tempo real indisponível (%s); seguem só as "
                "varreduras agendadas. No Linux, aumente fs.inotify.max_user_watches.",
                e,
            )
            with self._trava:
                self._vigias.clear()
                self._nao_recursivas.clear()
                self._vigias_espera.clear()
            return
        self._conferir_aguardados()  # created between the check and the watch
        log.info(
            "Monitoramento em tempo real iniciado: %s",
            ", ".join(str(d) for d in self.diretorios),
        )

    def _vigiar(self, pasta: Path, recursiva: bool) -> None:
        with self._trava:
            if (pasta, recursiva) in self._vigias:
                return
            try:
                vigia = self._observador.schedule(
                    self._tratador, str(pasta), recursive=recursiva
                )
            except OSError as e:
                log.warning("Monitoramento: não foi possível observar %s: %s", pasta, e)
                return
            self._vigias[(pasta, recursiva)] = vigia
            if not recursiva:
                self._nao_recursivas.add(pasta)

    def _esperar(self, raiz: Path) -> None:
        """Watch the nearest existing ancestor of `raiz` for its creation."""
        ancestral = raiz.parent
        while not ancestral.is_dir() and ancestral != ancestral.parent:
            ancestral = ancestral.parent
        with self._trava:
            self._aguardando[raiz] = ancestral
            if ancestral in self._vigias_espera:
                return
            try:
                vigia = self._observador.schedule(
                    self._tratador, str(ancestral), recursive=False
                )
            except OSError as e:
                log.warning(
                    "Monitoramento: não foi possível observar %s (à espera de %s): "
                    "%s; a pasta será vista na próxima varredura",
                    ancestral,
                    raiz,
                    e,
                )
                return
            self._vigias_espera[ancestral] = vigia

    def _conferir_aguardados(self) -> None:
        """Start watching awaited folders that now exist; wait closer for the rest."""
        with self._trava:
            aguardando = dict(self._aguardando)
        for raiz, ancestral in aguardando.items():
            # Each move of the wait closer re-checks: the folder (or a parent) may
            # have been created before the new watch existed.
            for _ in range(len(raiz.parts)):
                if raiz.is_dir() or (
                    ancestral.is_dir()
                    and not any(
                        a.is_dir() for a in raiz.parents if ancestral in a.parents
                    )
                ):
                    break
                self._esperar(raiz)
                with self._trava:
                    ancestral = self._aguardando.get(raiz, ancestral)
            if raiz.is_dir():
                with self._trava:
                    self._aguardando.pop(raiz, None)
                log.info("Pasta monitorada criada, agora monitorada: %s", raiz)
                if not self.filtro.excluido(raiz):
                    for sub, recursiva in planejar_vigias(raiz, self.filtro.excluidos):
                        self._vigiar(sub, recursiva)
                    self._avisar_conteudo(raiz)
        self._soltar_esperas()

    def _soltar_esperas(self) -> None:
        with self._trava:
            usados = set(self._aguardando.values())
            soltar = [(a, v) for a, v in self._vigias_espera.items() if a not in usados]
            for a, _ in soltar:
                del self._vigias_espera[a]
        for ancestral, vigia in soltar:
            if (ancestral, False) in self._vigias or (ancestral, True) in self._vigias:
                continue  # the same watch also serves a monitored folder
            with contextlib.suppress(KeyError, OSError):
                self._observador.unschedule(vigia)

    def _avisar_conteudo(self, pasta: Path) -> None:
        """Files written before the watch existed raised no event: look now."""
        for atual, _, arquivos in os.walk(pasta):
            for nome in arquivos:
                self._avisar(Path(atual) / nome, escrita_aberta=None)

    def parar(self, tempo_limite: float | None = 5.0) -> None:
        if self._observador.is_alive():
            self._observador.stop()
            self._observador.join(tempo_limite)
        with self._trava:
            self._vigias.clear()
            self._nao_recursivas.clear()
            self._vigias_espera.clear()

    # -- events --------------------------------------------------------------
    def _tratar(self, event: FileSystemEvent) -> None:
        if isinstance(event, _IGNORADOS):
            return
        self.eventos_recebidos += 1
        origem = Path(os.fsdecode(event.src_path))
        if isinstance(event, (DirCreatedEvent, DirMovedEvent)):
            with self._trava:
                aguardando = bool(self._aguardando)
            if aguardando:
                self._conferir_aguardados()
        if isinstance(event, DirCreatedEvent):
            self._pasta_criada(origem)
            return
        if isinstance(event, (FileMovedEvent, DirMovedEvent)):
            destino = Path(os.fsdecode(event.dest_path))
            self._sumiu(origem)
            if isinstance(event, DirMovedEvent):
                self._pasta_criada(destino)
            self._avisar(destino, escrita_aberta=False)
            return
        if event.is_directory:
            return
        if isinstance(event, FileDeletedEvent):
            self._sumiu(origem)
        elif isinstance(event, FileModifiedEvent):
            self._avisar(
                origem, escrita_aberta=True if self.fechamento_confiavel else None
            )
        elif isinstance(event, FileClosedEvent):
            self._avisar(origem, escrita_aberta=False)
        elif isinstance(event, FileCreatedEvent):
            # Created by open(): a modify/close pair follows. Moved in from an
            # unwatched folder: nothing follows, and the quiet period releases it.
            self._avisar(origem, escrita_aberta=None)

    def _avisar(self, caminho: Path, *, escrita_aberta: bool | None) -> None:
        modelo = self.filtro.modelo_de(caminho, self.diretorios)
        if modelo is not None:
            self.estabilizador.alterado(modelo, escrita_aberta=escrita_aberta)

    def _sumiu(self, caminho: Path) -> None:
        modelo = self.filtro.modelo_de(caminho, self.diretorios)
        if modelo is None:
            return
        if modelo == caminho or not modelo.exists():
            self.estabilizador.esquecer(modelo)
        else:
            # A file removed from a SavedModel folder changes that model.
            self.estabilizador.alterado(modelo, escrita_aberta=None)

    def _pasta_criada(self, pasta: Path) -> None:
        """A new folder under a non-recursive watch needs a watch of its own."""
        pasta = absoluto(pasta)
        with self._trava:
            precisa = pasta.parent in self._nao_recursivas
        if precisa and not self.filtro.excluido(pasta):
            for sub, recursiva in planejar_vigias(pasta, self.filtro.excluidos):
                self._vigiar(sub, recursiva)
            self._avisar_conteudo(pasta)
        modelo = self.filtro.modelo_de(pasta, self.diretorios)
        if modelo is not None:
            self.estabilizador.alterado(modelo, escrita_aberta=None)
