"""Streams of chunks: a file in (chunk, hash, store) and a file out (fetch, verify).

Both directions overlap I/O and CPU on a small thread pool (BLAKE3, zstd, hashlib
and file I/O release the GIL) and keep memory bounded: segment buffers are reused
from a fixed pool, so a 5 GiB model costs the same memory as a 5 MiB one.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import blake3

from ..base.padroes import BUFFER_MB, THREADS_BACKUP
from ..erros import ErroBackup
from .deltas import FonteDelta
from .escrita_atomica import escrever_tudo, iniciar_descarga
from .objetos import ArmazemObjetos, SessaoEscrita
from .pacote import Local, buffer_anonimo
from .tensores import Faixa, agrupamento, detectar

# FastCDC parameters of new repositories (each repository records its own in
# repositorio.json). pyfastcdc's real average is avg + min, ~320 KiB here: small
# enough that a fine-tune touching 10% of a 64 MiB model adds ~13%, large enough
# to keep the per-chunk costs (index entries, lookups) small.
# docs/FORMATO.md has the measurements behind the choice.
CDC_MEDIO = 256 << 10
CDC_MINIMO = 64 << 10
CDC_MAXIMO = 1 << 20

Progresso = Callable[[int], None]
log = logging.getLogger("SistemaBackup")


@dataclass
class ResultadoArquivo:
    tamanho: int
    sha256: str
    blocos: list[tuple[str, int]]
    bytes_novos: int = 0
    # BLAKE3 of the whole content (sidecar.conferencia_entrada binds it).
    blake3: bytes = b""


# Chunks are handed to the workers in segments of about this many bytes: per
# chunk the reading thread only copies bytes, so Python's per-item costs (futures,
# queues, locks, the GIL hand-offs) are paid per segment, not per chunk. A
# segment of new data becomes one pack, written straight from the segment.
SEGMENTO = 16 << 20
Corte = tuple[int, int]  # (offset in the segment, length)


def _encher(arquivo: BinaryIO, buf: mmap.mmap, cheio: int) -> tuple[int, bool]:
    """Read into `buf[cheio:]` until full or end of file: (filled, eof)."""
    vista = memoryview(buf)
    while cheio < len(buf):
        n = arquivo.readinto(vista[cheio:])  # type: ignore[attr-defined]
        if not n:
            return cheio, True
        cheio += n
    return cheio, False


class GravadorBlocos:
    """Chunks files into a write session with a bounded worker pipeline."""

    def __init__(
        self,
        sessao: SessaoEscrita,
        *,
        threads: int = THREADS_BACKUP,
        buffer_mb: int = BUFFER_MB,
        medio: int = CDC_MEDIO,
        minimo: int = CDC_MINIMO,
        maximo: int = CDC_MAXIMO,
    ) -> None:
        self.sessao = sessao
        self.id_bloco = sessao.armazem.codificador.id_bloco
        self.threads = max(1, threads)
        # lazy: startup time of restore and listing (docs/DESEMPENHO.md)
        from pyfastcdc import FastCDC

        self.cdc = FastCDC(medio, min_size=minimo, max_size=maximo)
        # In-flight segments; together they bound the pipeline's memory.
        n_segmentos = max(self.threads + 2, min(8, (buffer_mb << 20) // SEGMENTO))
        self._livres: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()
        # Several whole chunks per segment (the last cut of each is carried over).
        self._tamanho_segmento = max(SEGMENTO, 4 * maximo)
        self._n_segmentos = n_segmentos
        # Segments are allocated as the pipeline first needs them (touching new
        # memory is slow here): a small file allocates one, not the whole pool.
        self._criados = 0
        # A segment goes back to the pool when both its worker and the file's
        # SHA-256 thread are done with it.
        self._usos: dict[int, int] = {}
        self._trava_usos = threading.Lock()
        # Name of a file in the model -> its chunks in the parent version and
        # the ones before it: its float tensors may be stored as deltas of
        # those (deltas.py).
        self.pais: dict[str, list[list[tuple[str, int]]]] = {}

    def _segmento(self) -> mmap.mmap:
        """A free segment; blocks when all exist and are in use (back-pressure)."""
        try:
            return self._livres.get_nowait()
        except queue.Empty:
            if self._criados < self._n_segmentos:
                self._criados += 1
                # Only the pages a file fills are ever touched.
                return buffer_anonimo(self._tamanho_segmento)
            return self._livres.get()

    def _liberar(self, buf: mmap.mmap) -> None:
        with self._trava_usos:
            self._usos[id(buf)] -= 1
            livre = self._usos[id(buf)] == 0
        if livre:
            self._livres.put(buf)

    def _processar(
        self,
        buf: mmap.mmap,
        cortes: list[Corte],
        base: int = 0,
        faixas: list[Faixa] | None = None,
        fonte: FonteDelta | None = None,
    ) -> list[tuple[str, int]]:
        """(chunk id, bytes added) of each chunk of a segment, in order; `base`
        is the segment's offset in the file, `faixas` its float tensors."""
        try:
            vista = memoryview(buf)
            saida = []
            inicios = [f.inicio for f in faixas] if faixas else []
            with self.sessao.escritor() as gravar:
                for inicio, n in cortes:
                    bloco = vista[inicio : inicio + n]
                    id_bloco = self.id_bloco(bloco)
                    grupo = (
                        agrupamento(faixas, inicios, base + inicio, n)
                        if faixas
                        else None
                    )
                    if fonte is not None and grupo is not None:
                        delta = fonte.codificador_para(
                            id_bloco, base + inicio, n, grupo
                        )
                        escritos = gravar(id_bloco, bloco, grupo, delta)
                    else:
                        escritos = gravar(id_bloco, bloco, grupo)
                    saida.append((id_bloco, escritos))
            return saida
        finally:
            self._liberar(buf)

    def _fonte_delta(
        self, arquivo: BinaryIO, buf: mmap.mmap, cheio: int, nome: str
    ) -> FonteDelta | None:
        armazem = self.sessao.armazem
        deltas = self.sessao.deltas

        def registrar(id_bloco: str, bases: tuple[str, ...]) -> None:
            deltas[id_bloco] = bases

        try:
            return FonteDelta.preparar(
                armazem.codificador,
                armazem.bases,
                arquivo,
                memoryview(buf)[:cheio],
                os.fstat(arquivo.fileno()).st_size,
                self.pais[nome],
                registrar,
            )
        except ErroBackup as e:  # an unreadable parent only costs the deltas
            log.warning("%s: versão anterior ilegível, sem deltas (%s)", nome, e)
            return None

    def gravar_arquivo(
        self, arquivo: BinaryIO, progresso: Progresso | None = None, nome: str = ""
    ) -> ResultadoArquivo:
        """Chunk and store a file; `nome` (its path in the model) finds its
        parent version in `pais`."""
        pendentes: deque[tuple[Future[list[tuple[str, int]]], list[Corte]]] = deque()
        res = ResultadoArquivo(0, "", [])

        def colher(fut: Future[list[tuple[str, int]]], cortes: list[Corte]) -> None:
            for (id_bloco, escritos), (_inicio, n) in zip(
                fut.result(), cortes, strict=True
            ):
                res.blocos.append((id_bloco, n))
                res.bytes_novos += escritos

        def despachar(buf: mmap.mmap, tamanho: int, cortes: list[Corte]) -> None:
            with self._trava_usos:
                self._usos[id(buf)] = 1 + _Digestos.USOS
            digestos.alimentar(buf, tamanho)
            fut = pool.submit(self._processar, buf, cortes, res.tamanho, faixas, fonte)
            pendentes.append((fut, cortes))
            while pendentes and (
                pendentes[0][0].done() or len(pendentes) >= self._n_segmentos - 1
            ):
                colher(*pendentes.popleft())
            if progresso:
                progresso(tamanho)

        digestos = _Digestos(self._liberar)
        with ThreadPoolExecutor(self.threads, thread_name_prefix="bloco") as pool:
            try:
                buf = self._segmento()
                cheio = 0
                faixas: list[Faixa] | None = None
                fonte: FonteDelta | None = None
                while True:
                    cheio, fim = _encher(arquivo, buf, cheio)
                    if cheio == 0:
                        self._livres.put(buf)
                        break
                    if faixas is None:
                        # Float tensors, from the headers in the first segment
                        # (and a zip's directory): no other pass over the data.
                        faixas = detectar(arquivo, memoryview(buf)[:cheio])
                        if faixas and nome in self.pais:
                            fonte = self._fonte_delta(arquivo, buf, cheio, nome)
                    # Cut in place; the last cut of a segment is forced by its
                    # end, so those bytes start the next segment (cuts are then
                    # identical to a streaming chunker's).
                    cortes = [
                        (c.offset, c.length)
                        for c in self.cdc.cut_buf(memoryview(buf)[:cheio])
                    ]
                    if not fim:
                        cortes.pop()
                    usado = cortes[-1][0] + cortes[-1][1] if cortes else 0
                    resto = cheio - usado
                    proximo = None if fim else self._segmento()
                    if proximo is not None and resto:
                        proximo[:resto] = buf[usado:cheio]
                    despachar(buf, usado, cortes)
                    res.tamanho += usado
                    if proximo is None:
                        break
                    buf, cheio = proximo, resto
                while pendentes:
                    colher(*pendentes.popleft())
            except BaseException:
                for fut, _ in pendentes:
                    fut.cancel()
                raise
            finally:
                digestos.fechar()
        res.sha256 = digestos.sha.hexdigest()
        res.blake3 = digestos.b3.digest()
        return res


class _Digestos:
    """The whole file's SHA-256 and BLAKE3, each in a thread of its own.

    Both are sequential and release the GIL: off the thread that reads and cuts.
    One thread for both made a 0.4 s chain per 512 MiB, the longest in the
    pipeline on a quiet machine (docs/DESEMPENHO.md).
    """

    USOS = 2  # each segment is released once per digest

    def __init__(self, liberar: Callable[[mmap.mmap], None]) -> None:
        self.sha = hashlib.sha256()
        self.b3 = blake3.blake3()
        self._liberar = liberar
        self._filas: list[queue.SimpleQueue[tuple[mmap.mmap, int] | None]] = [
            queue.SimpleQueue() for _ in range(self.USOS)
        ]
        self._threads = [
            threading.Thread(target=self._calcular, args=par, name=f"bloco-hash{i}")
            for i, par in enumerate(zip((self.sha, self.b3), self._filas, strict=True))
        ]
        for t in self._threads:
            t.start()

    def _calcular(self, digesto: Any, fila: queue.SimpleQueue[Any]) -> None:
        while (item := fila.get()) is not None:
            with memoryview(item[0])[: item[1]] as vista:
                digesto.update(vista)
            self._liberar(item[0])

    def alimentar(self, buf: mmap.mmap, tamanho: int) -> None:
        for fila in self._filas:
            fila.put((buf, tamanho))

    def fechar(self) -> None:
        for fila in self._filas:
            fila.put(None)
        for t in self._threads:
            t.join()


def _trechos(
    armazem: ArmazemObjetos, blocos: list[tuple[str, int]]
) -> Iterator[tuple[list[tuple[str, int]], list[Local]]]:
    """Group a chunk list into runs that are contiguous in one pack.

    A run is at most the backend's `leitura_maxima` bytes (one range read).
    """
    maximo = armazem.backend.leitura_maxima
    todos = armazem.localizar_todos([i for i, _ in blocos])
    run: list[tuple[str, int]] = []
    locs: list[Local] = []
    for id_bloco, n in blocos:
        loc = todos[id_bloco]
        if locs and (
            loc.pacote != locs[-1].pacote
            or loc.deslocamento != locs[-1].deslocamento + locs[-1].tamanho
            or loc.deslocamento + loc.tamanho - locs[0].deslocamento > maximo
        ):
            yield run, locs
            run, locs = [], []
        run.append((id_bloco, n))
        locs.append(loc)
    if run:
        yield run, locs


def ler_trechos(
    armazem: ArmazemObjetos,
    blocos: list[tuple[str, int]],
    *,
    threads: int = THREADS_BACKUP,
    janela: int = 4,
) -> Iterator[list[bytes | memoryview]]:
    """Yield verified chunk contents in order, a run at a time, prefetching ahead."""
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
                yield dados
        finally:
            for fut in fila:
                fut.cancel()


# A restore starts the disk writing every this many bytes (see iniciar_descarga).
DESCARGA = 8 << 20


@dataclass(frozen=True)
class Escrito:
    """What `escrever_blocos_conferidos` wrote: size and the digests asked for."""

    tamanho: int
    sha256: str = ""  # "" unless asked
    blake3: bytes = b""  # b"" unless asked


def escrever_blocos(
    fd: int,
    armazem: ArmazemObjetos,
    blocos: list[tuple[str, int]],
    *,
    threads: int = THREADS_BACKUP,
    progresso: Progresso | None = None,
    sha256: bool = True,
) -> tuple[int, str]:
    """Write a chunk list to an open fd; return (size, sha256) of what was written.

    The SHA-256 is the empty string when `sha256` is false.
    """
    r = escrever_blocos_conferidos(
        fd, armazem, blocos, threads=threads, progresso=progresso, sha256=sha256
    )
    return r.tamanho, r.sha256


class _EscritaConferida:
    """State shared by the producer and writer threads of one
    `escrever_blocos_conferidos` call (the caller only waits on a pipe)."""

    def __init__(self, sha256: bool, digest_blake3: bool) -> None:
        self.sha = hashlib.sha256() if sha256 else None
        self.b3 = blake3.blake3() if digest_blake3 else None
        self.total = 0
        # (parts, their total size): the writer does not count them again.
        self.fila: queue.Queue[tuple[list[bytes | memoryview], int] | None]
        self.fila = queue.Queue(maxsize=8)
        self.erro: list[BaseException] = []
        self.parar = threading.Event()

    def produzir(
        self,
        armazem: ArmazemObjetos,
        blocos: list[tuple[str, int]],
        threads: int,
        progresso: Progresso | None,
    ) -> None:
        """Read, verify (`ler_trechos`) and hash; hand the parts to the writer."""
        try:
            for partes in ler_trechos(armazem, blocos, threads=threads):
                if self.parar.is_set() or self.erro:
                    break
                n = 0
                for dados in partes:
                    if self.sha is not None:
                        self.sha.update(dados)
                    if self.b3 is not None:
                        self.b3.update(dados)
                    n += len(dados)
                self.fila.put((partes, n))
                self.total += n
                if progresso:
                    progresso(n)
        except BaseException as e:  # reported to the caller
            self.erro.append(e)
        finally:
            self.fila.put(None)

    def escrever(self, fd_escritor: int, pronto_escritor: int) -> None:
        """writev(2) what the producer hands over; owns both descriptors and
        signals the caller's pipe when done."""
        try:
            inicio = pos = os.lseek(fd_escritor, 0, os.SEEK_CUR)
            while (item := self.fila.get()) is not None:
                if self.parar.is_set() or self.erro:
                    continue  # drain so the producer never blocks
                partes, n = item
                escrever_tudo(fd_escritor, partes)
                pos += n
                if pos - inicio >= DESCARGA:
                    iniciar_descarga(fd_escritor, inicio, pos - inicio)
                    inicio = pos
        except BaseException as e:  # reported to the caller
            self.erro.append(e)
            while self.fila.get() is not None:
                pass
        finally:
            os.close(fd_escritor)
            # OSError: the caller gave up waiting and closed its end.
            with contextlib.suppress(OSError):
                os.write(pronto_escritor, b".")
            os.close(pronto_escritor)


def escrever_blocos_conferidos(
    fd: int,
    armazem: ArmazemObjetos,
    blocos: list[tuple[str, int]],
    *,
    threads: int = THREADS_BACKUP,
    progresso: Progresso | None = None,
    sha256: bool = False,
    digest_blake3: bool = False,
) -> Escrito:
    """Write a chunk list to an open fd, hashing the whole file as asked.

    Every chunk is checked against its id on the way (`ler_trechos`). A producer
    thread reads, verifies and hashes (the whole file's SHA-256 and/or BLAKE3)
    while a writer thread does the writev(2) calls: both release the GIL, so
    they overlap. The calling thread only waits on a pipe: a signal handler
    that raises there (Ctrl+C, the CLI's SIGTERM) can never interrupt a lock or
    a queue that the two workers share.
    """
    e = _EscritaConferida(sha256, digest_blake3)
    # The writer owns its descriptors (a duplicate of `fd`, the pipe's write
    # end): an interrupted caller may close `fd` while the writer still runs.
    fd_escritor = os.dup(fd)
    pronto, pronto_escritor = os.pipe()
    t_escritor = threading.Thread(
        target=e.escrever,
        args=(fd_escritor, pronto_escritor),
        name="leitura-escrita",
        daemon=True,
    )
    t_produtor = threading.Thread(
        target=e.produzir,
        args=(armazem, blocos, threads, progresso),
        name="leitura-produtor",
        daemon=True,
    )
    try:
        t_escritor.start()
        t_produtor.start()
        os.read(pronto, 1)
    except BaseException:
        e.parar.set()
        if t_produtor.ident is None:  # never ran: the writer must still end
            e.fila.put(None)
        if t_escritor.ident is not None:
            os.read(pronto, 1)  # it stops at its next item (EOF once it ended)
        raise
    finally:
        os.close(pronto)
    t_produtor.join()
    t_escritor.join()
    if e.erro:
        raise e.erro[0]
    return Escrito(
        e.total,
        e.sha.hexdigest() if e.sha is not None else "",
        e.b3.digest() if e.b3 is not None else b"",
    )


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
