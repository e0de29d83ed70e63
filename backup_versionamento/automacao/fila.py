"""Backup queue: the scheduler, the watcher and manual requests meet here.

One worker thread, so two backups never compete for the disk; a request for a
path already waiting is merged into it; a failed backup is logged, counted and
counted, and the queue goes on. Stopping finishes the backup in progress and
drops the rest: the next sweep finds them again from the stat cache. The queue
emits nothing itself: the manager puts every backup on the event bus, with the
request's origin.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..erros import ErroBackup
from ..registro import NOME_LOGGER
from .cache import CacheVarredura, assinatura

if TYPE_CHECKING:
    from ..gerenciador import ResultadoBackup

log = logging.getLogger(NOME_LOGGER)

ORIGENS = ("agendado", "monitoramento", "manual")


class Gerenciador(Protocol):
    pasta_estado: Path

    def criar_backup(
        self,
        caminho: str,
        tipo_mudanca: str = ...,
        descricao: str = ...,
        *,
        origem_pedido: str = ...,
    ) -> ResultadoBackup: ...


@dataclass(frozen=True)
class Pedido:
    caminho: Path
    origem: str
    pedido_em: float


class FilaBackup:
    """Deduplicating FIFO of backup requests served by a single worker thread."""

    def __init__(
        self,
        gerenciador: Gerenciador,
        *,
        tipo_mudanca: str = "retreino",
        cache: CacheVarredura | None = None,
        falhas_ja_registradas: bool = False,
        adiar: Callable[[Path], bool] | None = None,
    ) -> None:
        """`falhas_ja_registradas`: the manager itself logs its ErroBackup failures
        (the real facade does), so the queue does not log them a second time."""
        self.falhas_ja_registradas = falhas_ja_registradas
        # Asked again right before each backup: True means the file is still being
        # written and whoever knows that (the debouncer) will ask again later.
        self.adiar = adiar
        self.gerenciador = gerenciador
        self.tipo_mudanca = tipo_mudanca
        self.cache = cache
        self._itens: deque[Pedido] = deque()
        self._pendentes: set[Path] = set()
        self._cond = threading.Condition()
        self._parar = threading.Event()
        self._thread: threading.Thread | None = None
        self.em_andamento: Pedido | None = None
        self.concluidos = 0
        self.falhas = 0
        self.descartados = 0
        self.adiados = 0

    # -- producers -----------------------------------------------------------
    def enfileirar(self, caminho: Path, origem: str = "manual") -> bool:
        """Ask for a backup; False when merged into a waiting request or stopping."""
        if origem not in ORIGENS:
            raise ValueError(f"origem desconhecida: {origem!r}")
        with self._cond:
            if self._parar.is_set() or caminho in self._pendentes:
                return False
            self._pendentes.add(caminho)
            self._itens.append(Pedido(caminho, origem, time.monotonic()))
            self._cond.notify_all()
        return True

    def pendentes(self) -> list[Path]:
        with self._cond:
            return [p.caminho for p in self._itens]

    # -- worker --------------------------------------------------------------
    def iniciar(self) -> None:
        self._parar.clear()
        self._thread = threading.Thread(
            target=self._laco, name="fila-backup", daemon=True
        )
        self._thread.start()

    def _laco(self) -> None:
        while True:
            with self._cond:
                while not self._itens and not self._parar.is_set():
                    self._cond.wait()
                if self._parar.is_set():
                    return
                pedido = self._itens.popleft()
                self._pendentes.discard(pedido.caminho)
                self.em_andamento = pedido
                self._cond.notify_all()
            try:
                if self.adiar is not None and self.adiar(pedido.caminho):
                    log.debug("Backup de %s adiado: ainda em escrita", pedido.caminho)
                    self.adiados += 1
                else:
                    self.processar(pedido)
            except Exception:  # a faulty hook must not kill the worker
                log.exception("Erro ao decidir o backup de %s", pedido.caminho)
            finally:
                with self._cond:
                    self.em_andamento = None
                    self._cond.notify_all()

    def processar(self, pedido: Pedido) -> str | None:
        """Run one backup; never raises (a failure is data, not a crash)."""
        caminho = pedido.caminho
        antes = assinatura(caminho)
        try:
            resultado = self.gerenciador.criar_backup(
                str(caminho),
                tipo_mudanca=self.tipo_mudanca,
                descricao=f"backup automático ({pedido.origem})",
                origem_pedido=pedido.origem,
            )
        except (ErroBackup, OSError) as e:
            self._falhou(pedido, e)
            return None
        except Exception as e:  # a bug in one backup must not stop the daemon
            log.exception("Erro inesperado no backup de %s", caminho)
            self._falhou(pedido, e)
            return None
        self.concluidos += 1
        versao = resultado.versao
        depois = assinatura(caminho)
        if self.cache is not None and antes is not None and antes == depois:
            # Only when nothing moved during the backup: otherwise the next look
            # at this path must see it as changed.
            self.cache.registrar(caminho, antes)
            try:
                self.cache.salvar()
            except OSError as e:
                log.warning("Não foi possível gravar o cache de varredura: %s", e)
        nova = resultado.nova_versao
        log.info(
            "Backup automático (%s): %s -> %s%s",
            pedido.origem,
            caminho,
            versao,
            "" if nova else " (sem mudanças)",
        )
        return versao

    def _falhou(self, pedido: Pedido, erro: BaseException) -> None:
        self.falhas += 1
        if isinstance(erro, ErroBackup) and self.falhas_ja_registradas:
            log.info(
                "Backup automático (%s) de %s não concluído; será tentado de novo "
                "na próxima varredura",
                pedido.origem,
                pedido.caminho,
            )
        else:
            log.error("Backup falhou: %s: %s", pedido.caminho, erro)

    # -- waiting and stopping ------------------------------------------------
    def aguardar_ociosa(self, tempo_limite: float | None = None) -> bool:
        """Block until nothing is waiting or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._itens and self.em_andamento is None, tempo_limite
            )

    def parar(self, tempo_limite: float | None = None) -> int:
        """Finish the backup in progress, drop the rest; returns the dropped count."""
        with self._cond:
            self._parar.set()
            descartados = len(self._itens)
            if descartados:
                log.info(
                    "Parando: %d pedido(s) de backup descartado(s); a próxima "
                    "varredura os encontrará",
                    descartados,
                )
            self._itens.clear()
            self._pendentes.clear()
            self.descartados += descartados
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(tempo_limite)
            if not self._thread.is_alive():
                self._thread = None
        return descartados
