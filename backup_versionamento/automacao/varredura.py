"""Sweep: walk the monitored folders, list the models changed since their backup.

The scheduler runs it every few hours and once at start, so work missed while the
daemon was down (or dropped at a graceful stop) is found again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..registro import NOME_LOGGER
from .cache import Assinatura, CacheVarredura, assinatura
from .filtro import MARCADOR_SAVEDMODEL, FiltroModelos, absoluto, dentro_de

log = logging.getLogger(NOME_LOGGER)


@dataclass
class ResultadoVarredura:
    """What one sweep found: models to back up now, and ones still being written."""

    alterados: list[Path] = field(default_factory=list)
    adiados: list[Path] = field(default_factory=list)
    examinados: int = 0
    interrompida: bool = False


class Varredura:
    """Recursive walk of the monitored folders, filtered and compared with the cache."""

    def __init__(
        self,
        diretorios: Sequence[Path],
        filtro: FiltroModelos,
        cache: CacheVarredura,
        silencio_segundos: float = 0.0,
    ) -> None:
        self.diretorios = [absoluto(d) for d in diretorios]
        self.filtro = filtro
        self.cache = cache
        self.silencio_segundos = silencio_segundos

    def modelos(self, parar: threading.Event | None = None) -> Iterator[Path]:
        """Every model under the monitored folders, in a stable (sorted) order."""
        for raiz in self.diretorios:
            if not raiz.is_dir():
                log.warning("Diretório monitorado não encontrado: %s", raiz)
                continue
            if self.filtro.excluido(raiz):
                continue
            for pasta, subpastas, arquivos in os.walk(raiz, onerror=self._erro_walk):
                if parar is not None and parar.is_set():
                    return
                atual = Path(pasta)
                if MARCADOR_SAVEDMODEL in arquivos:
                    # A SavedModel folder is one model; its files are not models.
                    subpastas.clear()
                    if not self.filtro.ignorado(atual.name):
                        yield atual
                    continue
                subpastas[:] = sorted(
                    s
                    for s in subpastas
                    if not self.filtro.excluido(absoluto(atual / s))
                    and not os.path.islink(atual / s)
                )
                for nome in sorted(arquivos):
                    caminho = atual / nome
                    if self.filtro.arquivo_aceito(caminho) and not caminho.is_symlink():
                        yield caminho

    @staticmethod
    def _erro_walk(erro: OSError) -> None:
        log.warning(
            "Varredura: não foi possível ler %s: %s", erro.filename, erro.strerror
        )

    def executar(
        self, parar: threading.Event | None = None, agora: float | None = None
    ) -> ResultadoVarredura:
        """Compare every model with the cache.

        A model modified less than the quiet period ago is reported as `adiados`
        (it may still be being written); the caller waits for it to settle.
        """
        resultado = ResultadoVarredura()
        momento = time.time() if agora is None else agora
        limite_ns = int((momento - self.silencio_segundos) * 1e9)
        for caminho in self.modelos(parar):
            resultado.examinados += 1
            atual = assinatura(caminho)
            if atual is None or not self.cache.mudou(caminho, atual):
                continue
            if atual.tamanho == 0 and not atual.conteudo:
                continue  # an empty file is a save that has not started yet
            if _recente(atual, limite_ns):
                resultado.adiados.append(caminho)
            else:
                resultado.alterados.append(caminho)
        if parar is not None and parar.is_set():
            resultado.interrompida = True
        log.info(
            "Varredura concluída: %d modelos examinados, %d alterados, %d adiados",
            resultado.examinados,
            len(resultado.alterados),
            len(resultado.adiados),
        )
        return resultado

    def contem(self, caminho: Path) -> bool:
        return any(dentro_de(caminho, d) for d in self.diretorios)


def _recente(a: Assinatura, limite_ns: int) -> bool:
    return a.mtime_ns > limite_ns
