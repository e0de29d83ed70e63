"""The one atomic-write helper for metadata and config files.

Write to a temp file in the same folder, fsync, then rename (or link, when the
target must not exist yet), then fsync the folder: a reader sees the old file or
the new one, never a torn one, and a crash leaves at worst a stray temp file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


def escrever_json_atomico(
    destino: Path, dados: Any, *, exclusivo: bool = False
) -> bool:
    texto = json.dumps(dados, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    return escrever_atomico(destino, texto.encode("utf-8"), exclusivo=exclusivo)
