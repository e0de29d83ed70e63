"""Content-addressed chunk objects: encode, store write-once, read and verify.

Object layout (format v1): byte 0 = format (1), byte 1 = flags (bit 0: zstd,
bit 1: encrypted), then the payload. The id is the BLAKE3 hex digest of the
plaintext, so every read can be checked against its own name.
"""

from __future__ import annotations

import threading

import blake3
import zstandard

from ..erros import ErroObjetoCorrompido
from .backend import Backend

FORMATO_OBJETO = 1
FLAG_ZSTD = 0x01
FLAG_CRIPTO = 0x02
PREFIXO = "objetos"

# A chunk is stored raw when zstd saves less than this fraction: float32
# weights barely compress, and decompressing them would only cost time.
ECONOMIA_MINIMA = 0.03
_AMOSTRA = 64 * 1024


def id_do_bloco(dados: bytes | memoryview) -> str:
    return blake3.blake3(dados).hexdigest()


def chave_objeto(id_bloco: str) -> str:
    return f"{PREFIXO}/{id_bloco[:2]}/{id_bloco}"


class ArmazemObjetos:
    """Write-once store of chunk objects over a backend."""

    def __init__(
        self,
        backend: Backend,
        nivel_compressao: int = 1,
        threads_compressao: int = 2,
    ) -> None:
        self.backend = backend
        self.nivel = nivel_compressao
        self._local = threading.local()
        # More pipeline threads than cores overlap fsync waits; this caps how
        # many of them compress at once (performance.threads_compressao).
        self._compressao = threading.BoundedSemaphore(max(1, threads_compressao))

    def _compressor(self) -> zstandard.ZstdCompressor:
        # ZstdCompressor objects are not thread-safe: one per worker thread.
        c = getattr(self._local, "c", None)
        if c is None:
            c = self._local.c = zstandard.ZstdCompressor(level=self.nivel)
        return c

    def _descompressor(self) -> zstandard.ZstdDecompressor:
        d = getattr(self._local, "d", None)
        if d is None:
            d = self._local.d = zstandard.ZstdDecompressor()
        return d

    def codificar(self, dados: memoryview) -> tuple[int, bytes | memoryview]:
        """Return (flags, payload): zstd only when it pays off."""
        c = self._compressor()
        n = len(dados)
        with self._compressao:
            if n > 2 * _AMOSTRA:
                amostra = c.compress(dados[:_AMOSTRA])
                if len(amostra) > _AMOSTRA * (1 - ECONOMIA_MINIMA / 2):
                    return 0, dados
            comprimido = c.compress(dados)
        if len(comprimido) <= n * (1 - ECONOMIA_MINIMA):
            return FLAG_ZSTD, comprimido
        return 0, dados

    def gravar(self, id_bloco: str, dados: memoryview) -> int:
        """Store a chunk unless present; return bytes written (0 for a dedup hit).

        The folder fsync is left to the caller (one per folder per backup).
        """
        chave = chave_objeto(id_bloco)
        if self.backend.existe(chave):
            return 0
        flags, payload = self.codificar(dados)
        cabecalho = bytes((FORMATO_OBJETO, flags))
        self.backend.gravar_objeto(chave, [cabecalho, payload])
        return len(cabecalho) + len(payload)

    def ler(self, id_bloco: str, tamanho: int | None = None) -> bytes | memoryview:
        """Read, decode and verify one chunk; raise ErroObjetoCorrompido naming it."""
        chave = chave_objeto(id_bloco)
        try:
            bruto = self.backend.ler(chave)
        except FileNotFoundError:
            raise ErroObjetoCorrompido(
                f"objeto {id_bloco} ausente do repositório", id_bloco
            ) from None
        return self.decodificar(id_bloco, bruto, tamanho)

    def decodificar(
        self, id_bloco: str, bruto: bytes, tamanho: int | None
    ) -> bytes | memoryview:
        if len(bruto) < 2 or bruto[0] != FORMATO_OBJETO:
            raise ErroObjetoCorrompido(
                f"objeto {id_bloco}: cabeçalho inválido "
                "(arquivo truncado ou corrompido)",
                id_bloco,
            )
        flags = bruto[1]
        if flags & FLAG_CRIPTO:
            raise ErroObjetoCorrompido(
                f"objeto {id_bloco}: está criptografado, mas este repositório não tem "
                "chave",
                id_bloco,
            )
        payload = memoryview(bruto)[2:]
        dados: bytes | memoryview = payload
        if flags & FLAG_ZSTD:
            try:
                dados = self._descompressor().decompress(payload)
            except zstandard.ZstdError as e:
                raise ErroObjetoCorrompido(
                    f"objeto {id_bloco}: dados comprimidos corrompidos ({e})", id_bloco
                ) from None
        if (tamanho is not None and len(dados) != tamanho) or id_do_bloco(
            dados
        ) != id_bloco:
            raise ErroObjetoCorrompido(
                f"objeto {id_bloco}: conteúdo não confere com o hash (corrompido)",
                id_bloco,
            )
        return dados
