"""Opening per-machine SQLite caches: wait when busy, drop only when damaged.

A cache is never the truth, so a damaged file (not a database, malformed) is
deleted and rebuilt; a file that another process holds locked is waited for,
never mistaken for damage; a file that cannot be opened for writing (full or
read-only disk) is replaced by a cache in memory for this run.
"""

from __future__ import annotations

import contextlib
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..erros import ErroRepositorio

log = logging.getLogger("SistemaBackup")

_DANIFICADO = {sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}
_SEM_ESCRITA = {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
}
_OCUPADO = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
ESPERA_S = 120.0


def abrir_cache(arquivo: Path, esquema: str, cache_mb: int = 64) -> sqlite3.Connection:
    """A WAL connection with `esquema` applied; a damaged file is rebuilt once.

    Switching to WAL or creating the schema can meet another process doing the
    same (SQLITE_BUSY at once, without the busy handler): waited for, retried.
    """
    prazo = time.monotonic() + ESPERA_S
    espera = 0.01
    reconstruido = False
    while True:
        try:
            conn = sqlite3.connect(
                arquivo,
                timeout=ESPERA_S,
                check_same_thread=False,
                isolation_level=None,
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
                conn.executescript(esquema)
            except BaseException:
                conn.close()
                raise
            return conn
        except sqlite3.DatabaseError as e:
            codigo = codigo_primario(e)
            if codigo in _OCUPADO and time.monotonic() < prazo:
                time.sleep(espera * (1 + random.random()))
                espera = min(espera * 2, 0.5)
                continue
            if codigo in _SEM_ESCRITA:
                # A full or unwritable disk under this machine's state: the
                # cache is never the truth, so work from one in memory rather
                # than refuse to list or restore what the repository holds.
                log.warning(
                    "Cache %s indisponível (%s); usando um cache temporário em "
                    "memória, reconstruído a partir do repositório",
                    arquivo,
                    e,
                )
                return _em_memoria(esquema, cache_mb)
            if reconstruido or codigo not in _DANIFICADO:
                raise ErroRepositorio(
                    f"{arquivo}: cache desta máquina inacessível ({e}); ele pode ser "
                    "apagado com segurança e será reconstruído"
                ) from None
            log.warning(
                "Cache %s danificado; reconstruindo a partir do repositório", arquivo
            )
            descartar_arquivo(arquivo)
            reconstruido = True


def _em_memoria(esquema: str, cache_mb: int) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
    conn.executescript(esquema)
    return conn


def codigo_primario(e: sqlite3.Error) -> int | None:
    """SQLite's primary result code (Python reports the extended one)."""
    codigo = getattr(e, "sqlite_errorcode", None)
    return None if codigo is None else codigo & 0xFF


def erro_de_escrita(e: sqlite3.Error) -> bool:
    """True for failures that only mean the cache could not be updated now."""
    return codigo_primario(e) in {
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_CANTOPEN,
    } or isinstance(e, sqlite3.OperationalError)


# Failures while using a cache that only mean "not now" (busy, disk full,
# read-only): never a reason to throw the cache away.
_PASSAGEIRO = _SEM_ESCRITA | _OCUPADO


def cache_danificado(e: BaseException) -> bool:
    """True when an error while using a cache means its content is damaged.

    SQLite reports damage found mid-query (a malformed page, a file that is no
    longer a database); a row whose values have the wrong type or shape shows up
    as TypeError/ValueError/... while decoding it. Busy or full disks are not
    damage.
    """
    if isinstance(e, sqlite3.Error):
        codigo = codigo_primario(e)
        if codigo in _DANIFICADO:
            return True
        if codigo in _PASSAGEIRO:
            return False
        return isinstance(e, sqlite3.DatabaseError) and not isinstance(
            e, sqlite3.ProgrammingError
        )
    return isinstance(e, TypeError | ValueError | AttributeError | IndexError)


def descartar_arquivo(arquivo: Path) -> None:
    """Delete a cache file and its WAL side files (closed by the caller).

    A file that cannot be deleted (read-only state folder) is left: opening it
    again reports it, or falls back to a cache in memory.
    """
    for sufixo in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            Path(f"{arquivo}{sufixo}").unlink(missing_ok=True)


T = TypeVar("T")


class CacheSqlite:
    """A per-machine SQLite cache that is never the truth.

    Damage found while using it (not only at open: a malformed page, a row of
    the wrong shape) discards the file, says so once, and the operation runs
    again on an empty cache that its owner refills from the repository.
    """

    def __init__(self, arquivo: Path, esquema: str, cache_mb: int, nome: str) -> None:
        self.arquivo = arquivo
        self.cache_mb = cache_mb
        self._esquema = esquema
        self._nome = nome  # for the warning: "blocos", "versões"
        self._trava = threading.Lock()
        self._conn = abrir_cache(arquivo, esquema, cache_mb)

    def fechar(self) -> None:
        with self._trava:
            self._conn.close()

    def _usar(
        self,
        operacao: Callable[[sqlite3.Connection], T],
        refazer: Callable[[], None] | None = None,
    ) -> T:
        """Run `operacao` under the lock; a damaged cache is discarded and retried
        (after `refazer` refills it, when given)."""
        for tentativa in range(2):
            try:
                with self._trava:
                    return operacao(self._conn)
            except Exception as e:
                if tentativa or not cache_danificado(e):
                    raise
                self.descartar(f"{type(e).__name__}: {e}")
                if refazer is not None:
                    refazer()
        raise AssertionError("inalcançável")  # pragma: no cover

    def descartar(self, motivo: str) -> None:
        """Throw the cache file away and start an empty one."""
        with self._trava:
            log.warning(
                "Cache de %s desta máquina %s danificado ou inconsistente (%s); "
                "descartado e reconstruído a partir do repositório",
                self._nome,
                self.arquivo,
                motivo,
            )
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            descartar_arquivo(self.arquivo)
            self._conn = abrir_cache(self.arquivo, self._esquema, self.cache_mb)
            self._ao_descartar()

    def _ao_descartar(self) -> None:
        """Hook, under the lock, after the file was replaced."""
