"""Streams of chunks: a file in (chunk, hash, store) and a file out (fetch, verify).

Both directions overlap I/O and CPU on a small thread pool (BLAKE3, zstd, hashlib
and file I/O release the GIL) and keep memory bounded: chunk buffers are reused
from a fixed pool, so a 5 GiB model costs the same memory as a 5 MiB one.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pyfastcdc import FastCDC

from .objetos import ArmazemObjetos, SessaoEscrita
from .pacote import Local

# FastCDC parameters of new repositories (each repository records its own in
# repositorio.json). pyfastcdc's real average is avg + min, ~320 KiB here: small
# enough that a fine-tune touching 10% of a 64 MiB model adds ~13%, large enough
# to keep the per-chunk costs (index entries, lookups) small.
# docs/FORMATO.md has the measurements behind the choice.
CDC_MEDIO = 256 << 10
CDC_MINIMO = 64 << 10
CDC_MAXIMO = 1 << 20

Progresso = Callable[[int], None]


@dataclass
class ResultadoArquivo:
    tamanho: int
    sha256: str
    blocos: list[tuple[str, int]]
    bytes_novos: int = 0


class GravadorBlocos:
    """Chunks files into a write session with a bounded worker pipeline."""

    def __init__(
        self,
        sessao: SessaoEscrita,
        *,
        threads: int = 2,
        buffer_mb: int = 128,
        medio: int = CDC_MEDIO,
        minimo: int = CDC_MINIMO,
        maximo: int = CDC_MAXIMO,
    ) -> None:
        self.sessao = sessao
        self.id_bloco = sessao.armazem.codificador.id_bloco
        self.threads = max(1, threads)
        self.cdc = FastCDC(medio, min_size=minimo, max_size=maximo)
        # In-flight chunk buffers; together they bound the pipeline's memory.
        n_buffers = max(self.threads * 2, min(64, (buffer_mb << 20) // maximo))
        self._livres: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(n_buffers):
            self._livres.put(bytearray(maximo))
        self._n_buffers = n_buffers
        # A buffer goes back to the pool when both its worker and the file's
        # SHA-256 thread are done with it.
        self._usos: dict[int, int] = {}
        self._trava_usos = threading.Lock()

    def _liberar(self, buf: bytearray) -> None:
        with self._trava_usos:
            self._usos[id(buf)] -= 1
            livre = self._usos[id(buf)] == 0
        if livre:
            self._livres.put(buf)

    def _processar(self, buf: bytearray, n: int) -> tuple[str, int]:
        try:
            vista = memoryview(buf)[:n]
            id_bloco = self.id_bloco(vista)
            escritos = self.sessao.gravar(id_bloco, vista)
            return id_bloco, escritos
        finally:
            self._liberar(buf)

    def gravar_arquivo(
        self, arquivo: BinaryIO, progresso: Progresso | None = None
    ) -> ResultadoArquivo:
        sha = hashlib.sha256()
        pendentes: deque[tuple[Future[tuple[str, int]], int]] = deque()
        res = ResultadoArquivo(0, "", [])

        def colher(fut: Future[tuple[str, int]], n: int) -> None:
            id_bloco, escritos = fut.result()
            res.blocos.append((id_bloco, n))
            res.bytes_novos += escritos

        # The whole file's SHA-256 is sequential: its own thread keeps it off the
        # thread that reads and cuts (hashlib releases the GIL).
        para_hash: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()

        def calcular_hash() -> None:
            while (item := para_hash.get()) is not None:
                sha.update(memoryview(item[0])[: item[1]])
                self._liberar(item[0])

        hasher = threading.Thread(target=calcular_hash, name="bloco-sha256")
        hasher.start()
        with ThreadPoolExecutor(self.threads, thread_name_prefix="bloco") as pool:
            try:
                for bloco in self.cdc.cut_stream(arquivo):
                    n = bloco.length
                    buf = self._livres.get()  # blocks: back-pressure
                    buf[:n] = bloco.data
                    with self._trava_usos:
                        self._usos[id(buf)] = 2
                    para_hash.put((buf, n))
                    pendentes.append((pool.submit(self._processar, buf, n), n))
                    res.tamanho += n
                    while pendentes and (
                        pendentes[0][0].done() or len(pendentes) >= self._n_buffers
                    ):
                        colher(*pendentes.popleft())
                    if progresso:
                        progresso(n)
                while pendentes:
                    colher(*pendentes.popleft())
            except BaseException:
                for fut, _ in pendentes:
                    fut.cancel()
                raise
            finally:
                para_hash.put(None)
                hasher.join()
        res.sha256 = sha.hexdigest()
        return res


# Chunks stored back to back in one pack are fetched with one read of at most this.
TRECHO_MAXIMO = 8 << 20


def _trechos(
    armazem: ArmazemObjetos, blocos: list[tuple[str, int]]
) -> Iterator[tuple[list[tuple[str, int]], list[Local]]]:
    """Group a chunk list into runs that are contiguous in one pack."""
    run: list[tuple[str, int]] = []
    locs: list[Local] = []
    for id_bloco, n in blocos:
        loc = armazem.localizar(id_bloco)
        if locs and (
            loc.pacote != locs[-1].pacote
            or loc.deslocamento != locs[-1].deslocamento + locs[-1].tamanho
            or loc.deslocamento + loc.tamanho - locs[0].deslocamento > TRECHO_MAXIMO
        ):
            yield run, locs
            run, locs = [], []
        run.append((id_bloco, n))
        locs.append(loc)
    if run:
        yield run, locs


def ler_blocos(
    armazem: ArmazemObjetos,
    blocos: list[tuple[str, int]],
    *,
    threads: int = 2,
    janela: int = 4,
) -> Iterator[bytes | memoryview]:
    """Yield verified chunk contents in order, prefetching a few runs ahead."""
    if not blocos:
        return
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="leitura") as pool:
        fila: deque[Future[list[bytes | memoryview]]] = deque()
        proximos = _trechos(armazem, blocos)
        try:
            for run, locs in proximos:
                fila.append(pool.submit(armazem.ler_trecho, run, locs))
                if len(fila) >= janela:
                    break
            while fila:
                dados = fila.popleft().result()
                for run, locs in proximos:
                    fila.append(pool.submit(armazem.ler_trecho, run, locs))
                    break
                yield from dados
        finally:
            for fut in fila:
                fut.cancel()


def escrever_blocos(
    fd: int,
    armazem: ArmazemObjetos,
    blocos: list[tuple[str, int]],
    *,
    threads: int = 2,
    progresso: Progresso | None = None,
) -> tuple[int, str]:
    """Write a chunk list to an open fd; return (size, sha256) of what was written.

    SHA-256 runs here while a writer thread does the write(2) calls: both release
    the GIL, so hashing and writing overlap.
    """
    sha = hashlib.sha256()
    total = 0
    fila: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=32)
    erro: list[BaseException] = []

    def escritor() -> None:
        try:
            while (dados := fila.get()) is not None:
                vista = memoryview(dados)
                while vista:
                    vista = vista[os.write(fd, vista) :]
        except BaseException as e:  # reported to the caller below
            erro.append(e)
            while fila.get() is not None:  # drain so the producer never blocks
                pass

    t = threading.Thread(target=escritor, name="leitura-escrita", daemon=True)
    t.start()
    try:
        for dados in ler_blocos(armazem, blocos, threads=threads):
            sha.update(dados)
            fila.put(dados)
            total += len(dados)
            if erro:
                break
            if progresso:
                progresso(len(dados))
    finally:
        fila.put(None)
        t.join()
    if erro:
        raise erro[0]
    return total, sha.hexdigest()


def sha256_arquivo(caminho: Path, buffer: int = 4 << 20) -> tuple[int, str]:
    """(size, sha256) of a file, reading into one reused buffer."""
    sha = hashlib.sha256()
    buf = bytearray(buffer)
    vista = memoryview(buf)
    total = 0
    with open(caminho, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            sha.update(vista[:n])
            total += n
    return total, sha.hexdigest()
