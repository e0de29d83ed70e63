"""Big objects (packs) written and read around the page cache (O_DIRECT), opt-in.

On these VMs copying a backup's packs into the page cache is the largest and
least stable CPU cost of a backup: 0.15 to 1.45 s of system time per 512 MiB
between identical runs (new page-cache pages fault in the host), against ~0.1 s
for the rest of the kernel's share; a direct write costs almost no CPU and the
disk takes ~1 GB/s. Packs written so are not in the page cache afterwards, so
big reads of them are direct too: a buffered read would pay the same copy on
the way back (docs/DESEMPENHO.md has the measurements).

Nothing about durability changes: the caller still fsyncs the temp file before
renaming it (the fsync also commits the size and flushes the disk's cache).
Where the OS or the filesystem refuses O_DIRECT (tmpfs, macOS, some network
filesystems) both functions answer "not done" and the caller does buffered I/O.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import queue
import threading
from collections.abc import Sequence

from ..escrita_atomica import escrever_tudo

O_DIRECT: int = getattr(os, "O_DIRECT", 0)
# Opt-in (BACKUP_VERSIONAMENTO_O_DIRECT=1): it moves the cost to a restore that
# follows the backup, which then reads the packs from the disk instead of the
# page cache; measured on a busy machine the restore lost more than the backup
# gained (docs/DESEMPENHO.md). Read at each call, so a test or a benchmark
# can compare both ways in one process.
VARIAVEL = "BACKUP_VERSIONAMENTO_O_DIRECT"


def ligado() -> bool:
    return bool(O_DIRECT) and os.environ.get(VARIAVEL) == "1"


# Offsets, lengths and buffer addresses of direct I/O must be multiples of the
# device's logical block size (512 or 4096); a page is a multiple of both.
ALINHAMENTO = 4096
# Smaller writes and reads go through the page cache: metadata, index
# fragments, the tail of a small backup (not worth a staging buffer).
MINIMO_ESCRITA = 1 << 20
MINIMO_LEITURA = 64 << 10

# Writes are staged through a few reused buffers of this size (a pack takes
# four writes): memory stays at one buffer per thread writing at that moment.
ESTAGIO = 4 << 20
_estagios: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()
_buffers = threading.local()


def _acima(n: int) -> int:
    return -(-n // ALINHAMENTO) * ALINHAMENTO


def _buffer_leitura(n: int) -> mmap.mmap:
    """This thread's page-aligned read buffer of at least `n` bytes, reused:
    touching new memory is slow on these machines."""
    buf: mmap.mmap | None = getattr(_buffers, "leitura", None)
    if buf is None or len(buf) < n:
        buf = mmap.mmap(-1, _acima(max(n, 1 << 20)), flags=mmap.MAP_PRIVATE)
        _buffers.leitura = buf
    return buf


def _com_o_direct(fd: int) -> int | None:
    """Turn O_DIRECT on for `fd`; its previous flags, None when refused (or
    not asked for)."""
    if not ligado():
        return None
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | O_DIRECT)
    except OSError:
        return None
    return flags


def escrever_direto(fd: int, vistas: Sequence[memoryview], n: int) -> bool:
    """Write the `n` bytes of `vistas` to the empty file `fd`, around the page
    cache. False when the file refuses direct I/O: nothing is left written and
    the caller writes it the usual way."""
    if n < MINIMO_ESCRITA:
        return False
    flags = _com_o_direct(fd)
    if flags is None:
        return False
    try:
        buf = _estagios.get_nowait()
    except queue.Empty:
        buf = mmap.mmap(-1, ESTAGIO, flags=mmap.MAP_PRIVATE)
    try:
        try:
            _escrever_em_estagios(fd, vistas, buf)
        except OSError as e:
            if e.errno != errno.EINVAL:  # a stricter alignment than ours
                raise
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            return False
        os.ftruncate(fd, n)  # cuts the padding of the last block
        return True
    finally:
        _estagios.put(buf)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)


def _escrever_em_estagios(
    fd: int, vistas: Sequence[memoryview], buf: mmap.mmap
) -> None:
    """Copy the parts through `buf` (page-aligned), one aligned write per
    filling; the last one padded with zeros up to the block."""
    pos = 0
    for v in vistas:
        feito = 0
        while feito < v.nbytes:
            k = min(ESTAGIO - pos, v.nbytes - feito)
            buf[pos : pos + k] = v[feito : feito + k]
            pos += k
            feito += k
            if pos == ESTAGIO:
                escrever_tudo(fd, [memoryview(buf)])
                pos = 0
    if pos:
        alinhado = _acima(pos)
        buf[pos:alinhado] = bytes(alinhado - pos)
        escrever_tudo(fd, [memoryview(buf)[:alinhado]])


def ler_direto(fd: int, inicio: int, tamanho: int) -> bytes | None:
    """`tamanho` bytes of `fd` from `inicio`, around the page cache; None when
    not done (small read, direct I/O refused, short read): the caller reads it
    the usual way, which also reports a truncated file."""
    if tamanho < MINIMO_LEITURA:
        return None
    flags = _com_o_direct(fd)
    if flags is None:
        return None
    try:
        a = inicio // ALINHAMENTO * ALINHAMENTO
        b = _acima(inicio + tamanho)
        buf = _buffer_leitura(b - a)
        try:
            lidos = os.preadv(fd, [memoryview(buf)[: b - a]], a)
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            return None
        if lidos < inicio - a + tamanho:
            return None
        return buf[inicio - a : inicio - a + tamanho]
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)
