"""Blobs: the unit stored inside packs and index fragments (format 2).

Layout (docs/FORMATO.md): an 8-byte header `<BBHI` = (version, flags, reserved,
plaintext length), then the payload: zstd or raw, and when encrypted
`nonce(12) || ciphertext || tag(16)` of AES-256-GCM. The header is authenticated
through the AAD, which also binds the repository id, the blob's kind and its id,
so a blob moved to another place, another chunk or another repository is
rejected. Encryption itself is turned on by the security work; the layout is
fixed now so that it needs no format change.
"""

from __future__ import annotations

import struct
import threading
from typing import Protocol

import blake3
import zstandard

from ..erros import ErroObjetoCorrompido
from .deltas import ResolvedorBases, separar, xor

VERSAO_BLOB = 1
FLAG_ZSTD = 0x01
FLAG_CIFRADO = 0x02
# Bytes grouped by their position in a float element before zstd (always with
# FLAG_ZSTD); the header's reserved field holds element size | phase << 8.
FLAG_AGRUPADO = 0x04
# A delta (armazenamento/deltas.py): the payload starts with the ids of the
# chunks whose bytes are XORed in; the rest is the XOR, encoded per the flags.
FLAG_DELTA = 0x08
ELEMENTOS = (2, 4, 8)
CABECALHO = struct.Struct("<BBHI")
TAMANHO_CABECALHO = CABECALHO.size  # 8

# Kinds of blob, bound into the AAD.
TIPO_BLOCO = 0
TIPO_TRAILER = 1
TIPO_FRAGMENTO = 2
TIPO_SIDECAR = 3
TIPO_ALIAS = 4  # an entry of an alias history (armazenamento/aliases.py)

ID_NULO = bytes(32)

# A chunk is kept raw when zstd saves less than this: float32 weights save ~8%,
# which is not worth the CPU on every backup and every restore.
ECONOMIA_MINIMA = 0.10
_AMOSTRA = 16 * 1024


def _cabecalho(flags: int, claro: int) -> bytes:
    """The 8-byte header; bits 8-23 of `flags` are the reserved field (grouping)."""
    return CABECALHO.pack(VERSAO_BLOB, flags & 0xFF, flags >> 8, claro)


def _partes_agrupadas(n: int, elemento: int, fase: int) -> tuple[int, int]:
    """(head, body) lengths: the head completes the element the chunk starts
    inside of (`fase` = chunk start minus tensor start, modulo the element size);
    the body is whole elements; what is left is the tail."""
    cabeca = min((elemento - fase) % elemento, n)
    return cabeca, (n - cabeca) // elemento * elemento


def _planos(
    dados: bytes | memoryview, elemento: int, fase: int
) -> tuple[bytes | memoryview, list[bytes], bytes | memoryview]:
    """(head, [byte 0 of every element, byte 1 ..., last byte], tail): the
    grouped layout is their concatenation. Head and tail stay separate (views)
    so no plane is copied again to prepend or append a few bytes."""
    cabeca, corpo = _partes_agrupadas(len(dados), elemento, fase)
    # Stepped slicing of bytes is a C loop (~1.5-3 GB/s); of a memoryview it is
    # not. numpy transposes ~1.5x faster, but importing it costs ~0.2 s of CPU,
    # more than it saves below ~1 GB of tensors (docs/DESEMPENHO.md).
    meio = bytes(dados[cabeca : cabeca + corpo])
    v = memoryview(dados)
    planos = [meio[i::elemento] for i in range(elemento)]
    return v[:cabeca], planos, v[cabeca + corpo :]


def agrupar(dados: bytes | memoryview, elemento: int, fase: int) -> bytes:
    """head || byte 0 of every element || byte 1 ... || tail (the float's sign
    and exponent bytes end up together, where zstd finds their repetition)."""
    cabeca, planos, cauda = _planos(dados, elemento, fase)
    return b"".join([cabeca, *planos, cauda])


def desagrupar(dados: bytes | memoryview, elemento: int, fase: int) -> bytearray:
    """The exact inverse of `agrupar`."""
    n = len(dados)
    cabeca, corpo = _partes_agrupadas(n, elemento, fase)
    m = corpo // elemento
    v = memoryview(dados)
    saida = bytearray(n)
    saida[:cabeca] = v[:cabeca]
    for i in range(elemento):
        inicio = cabeca + i * m
        saida[cabeca + i : cabeca + corpo : elemento] = v[inicio : inicio + m]
    saida[cabeca + corpo :] = v[cabeca + corpo :]
    return saida


def aad(id_repositorio: bytes, tipo: int, id_objeto: bytes, cabecalho: bytes) -> bytes:
    """Additional authenticated data of an encrypted blob (docs/FORMATO.md)."""
    return b"BV2" + id_repositorio + bytes((tipo,)) + id_objeto + cabecalho


class Cifra(Protocol):
    """What encryption must provide (implemented by the security layer)."""

    expansao: int  # bytes an encrypted payload grows by (nonce + tag)

    def cifrar(self, dados: bytes | memoryview, aad: bytes) -> list[bytes]:
        """`nonce || ciphertext || tag`, as parts ready for writev."""
        ...

    def cifrar_em(
        self, dados: bytes | memoryview, aad: bytes, destino: memoryview
    ) -> None:
        """`nonce || ciphertext || tag` written into `destino` (exactly
        len(dados) + expansao bytes): no ciphertext is allocated."""
        ...

    def decifrar(self, dados: bytes | memoryview, aad: bytes) -> bytes: ...


class Codificador:
    """Encode and decode blobs; one zstd context per thread (they are not shared)."""

    def __init__(
        self,
        id_repositorio: str,
        nivel: int = 1,
        cifra: Cifra | None = None,
        economia_minima: float = ECONOMIA_MINIMA,
        chave_ids: bytes | None = None,
    ) -> None:
        self.id_repositorio = bytes.fromhex(id_repositorio)
        # Keyed chunk ids (a repository header property): ids reveal nothing.
        self.chave_ids = chave_ids
        self.nivel = nivel
        self.cifra = cifra
        self.economia_minima = economia_minima
        self._local = threading.local()
        # Reads the bases of delta chunks (set by the object store).
        self.bases: ResolvedorBases | None = None

    def _c(self) -> zstandard.ZstdCompressor:
        c = getattr(self._local, "c", None)
        if c is None:
            c = self._local.c = zstandard.ZstdCompressor(level=self.nivel)
        return c

    def _cg(self) -> zstandard.ZstdCompressor:
        """zstd for byte planes: almost no match finding (minimum match 7, a
        64-entry hash table), so the sign/exponent plane is just entropy coded,
        like ZipNN's Huffman: 3-4x faster than level 1 and smaller (0.33 vs
        0.38 of the plane; docs/DESEMPENHO.md). Decoding is plain zstd."""
        c = getattr(self._local, "cg", None)
        if c is None:
            c = self._local.cg = zstandard.ZstdCompressor(
                compression_params=zstandard.ZstdCompressionParameters(
                    strategy=zstandard.STRATEGY_FAST,
                    min_match=7,
                    hash_log=6,
                    window_log=17,
                    search_log=1,
                    target_length=0,
                )
            )
        return c

    def _d(self) -> zstandard.ZstdDecompressor:
        d = getattr(self._local, "d", None)
        if d is None:
            d = self._local.d = zstandard.ZstdDecompressor()
        return d

    def id_bloco(self, dados: bytes | memoryview) -> str:
        if self.chave_ids is None:
            return blake3.blake3(dados).hexdigest()
        return blake3.blake3(dados, key=self.chave_ids).hexdigest()

    def comprimir_se_compensa(
        self, dados: bytes | memoryview, sempre_tentar: bool = False
    ) -> tuple[int, bytes | memoryview]:
        """(flags, payload): zstd only when it saves at least `economia_minima`."""
        n = len(dados)
        c = self._c()
        if n > 2 * _AMOSTRA and not sempre_tentar:
            # A sample predicts the whole chunk's ratio closely on weights (within
            # 0.1% on float32): skip zstd on chunks that would be stored raw.
            amostra = c.compress(dados[:_AMOSTRA])
            if len(amostra) > _AMOSTRA * (1 - self.economia_minima):
                return 0, dados
        comprimido = c.compress(dados)
        if len(comprimido) <= n * (1 - self.economia_minima):
            return FLAG_ZSTD, comprimido
        return 0, dados

    def comprimir_agrupado(
        self, dados: bytes | memoryview, elemento: int, fase: int
    ) -> tuple[int, bytes | memoryview]:
        """Like `comprimir_se_compensa`, for a chunk of float elements: bytes
        grouped by position, then zstd; today's path when grouping does not pay.

        The returned flags carry the element size and phase in bits 8-23 (the
        header's reserved field).
        """
        n = len(dados)
        if elemento not in ELEMENTOS or not 0 <= fase < elemento or n < 4 * elemento:
            return self.comprimir_se_compensa(dados)
        c = self._cg()
        limite = 1 - self.economia_minima
        if n > 4 * _AMOSTRA:
            # Each byte plane of a sample alone: mixed in one small zstd block
            # the incompressible planes hide what the exponent plane saves.
            amostra = bytes(dados[:_AMOSTRA])[(elemento - fase) % elemento :]
            comprimida = sum(
                len(c.compress(amostra[i::elemento])) for i in range(elemento)
            )
            if comprimida > len(amostra) * limite:
                return self.comprimir_se_compensa(dados)
        # One zstd frame, a block boundary after each plane: a block mixing two
        # planes would share one entropy table (FP32 chunks: 0.87 vs 0.84).
        # Head and tail are fed around the planes (the frame is the same as for
        # the concatenated planes; no plane is copied to join them).
        z = c.compressobj(size=n)
        cabeca, planos, cauda = _planos(dados, elemento, fase)
        partes = [z.compress(cabeca)]
        for i, plano in enumerate(planos):
            partes.append(z.compress(plano))
            if i == len(planos) - 1:
                partes.append(z.compress(cauda))
            partes.append(z.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
        partes.append(z.flush())
        comprimido = b"".join(partes)
        if len(comprimido) <= n * limite:
            flags = FLAG_ZSTD | FLAG_AGRUPADO | (elemento << 8) | (fase << 16)
            return flags, comprimido
        return self.comprimir_se_compensa(dados)

    def codificar(
        self,
        dados: bytes | memoryview,
        tipo: int = TIPO_BLOCO,
        id_objeto: bytes = ID_NULO,
        *,
        sempre_tentar: bool = False,
    ) -> list[bytes | memoryview]:
        """Header + payload, as parts ready for writev (no extra copy)."""
        flags, payload = self.comprimir_se_compensa(dados, sempre_tentar)
        return self.montar(flags, payload, len(dados), tipo, id_objeto)

    def montar(
        self,
        flags: int,
        payload: bytes | memoryview,
        claro: int,
        tipo: int = TIPO_BLOCO,
        id_objeto: bytes = ID_NULO,
    ) -> list[bytes | memoryview]:
        """The blob of an already compressed (or kept raw) payload, as parts."""
        if self.cifra is None:
            return [_cabecalho(flags, claro), payload]
        flags |= FLAG_CIFRADO
        cab = _cabecalho(flags, claro)
        cifrado = self.cifra.cifrar(
            payload, aad(self.id_repositorio, tipo, id_objeto, cab)
        )
        return [cab, *cifrado]

    def tamanho_montado(self, n_payload: int) -> int:
        """Bytes `montar` yields for a payload of `n_payload` bytes."""
        return (
            TAMANHO_CABECALHO + n_payload + (self.cifra.expansao if self.cifra else 0)
        )

    def cifrar_em(
        self,
        destino: memoryview,
        flags: int,
        payload: bytes | memoryview,
        claro: int,
        tipo: int = TIPO_BLOCO,
        id_objeto: bytes = ID_NULO,
    ) -> None:
        """The encrypted blob `montar` would give, written into `destino`
        (exactly `tamanho_montado` bytes): the ciphertext lands in the pack's
        buffer instead of a fresh allocation per chunk (new memory is slow)."""
        if self.cifra is None:
            raise ValueError("cifrar_em num repositório sem criptografia")
        flags |= FLAG_CIFRADO
        cab = _cabecalho(flags, claro)
        destino[:TAMANHO_CABECALHO] = cab
        self.cifra.cifrar_em(
            payload,
            aad(self.id_repositorio, tipo, id_objeto, cab),
            destino[TAMANHO_CABECALHO:],
        )

    def decodificar(
        self,
        bruto: bytes | memoryview,
        tipo: int = TIPO_BLOCO,
        id_objeto: bytes = ID_NULO,
        nome: str = "",
    ) -> bytes | memoryview:
        """Check the header, decrypt, decompress; ErroObjetoCorrompido on any fault.

        The caller checks the content hash (chunk ids) where there is one.
        """
        nome = nome or id_objeto.hex()
        if len(bruto) < TAMANHO_CABECALHO:
            raise ErroObjetoCorrompido(f"{nome}: blob truncado", nome)
        versao, flags, reservado, claro = CABECALHO.unpack_from(bruto)
        elemento, fase = reservado & 0xFF, reservado >> 8
        if (
            versao != VERSAO_BLOB
            or flags & ~(FLAG_ZSTD | FLAG_CIFRADO | FLAG_AGRUPADO | FLAG_DELTA)
            or (
                flags & FLAG_AGRUPADO
                and (
                    not flags & FLAG_ZSTD
                    or elemento not in ELEMENTOS
                    or fase >= elemento
                )
            )
        ):
            raise ErroObjetoCorrompido(
                f"{nome}: cabeçalho de blob inválido (corrompido)", nome
            )
        payload: bytes | memoryview = memoryview(bruto)[TAMANHO_CABECALHO:]
        if flags & FLAG_CIFRADO:
            if self.cifra is None:
                raise ErroObjetoCorrompido(
                    f"{nome}: está criptografado, mas o repositório não tem chave",
                    nome,
                )
            cab = bytes(memoryview(bruto)[:TAMANHO_CABECALHO])
            payload = self.cifra.decifrar(
                payload, aad(self.id_repositorio, tipo, id_objeto, cab)
            )
        elif self.cifra is not None:
            raise ErroObjetoCorrompido(
                f"{nome}: blob sem criptografia num repositório criptografado "
                "(recusado: pode ter sido trocado)",
                nome,
            )
        refs = None
        if flags & FLAG_DELTA:
            refs, payload = separar(payload, nome)
        if flags & FLAG_ZSTD:
            try:
                payload = self._d().decompress(payload, max_output_size=claro)
            except zstandard.ZstdError:
                raise ErroObjetoCorrompido(
                    f"{nome}: dados comprimidos corrompidos (o zstd os recusou)", nome
                ) from None
        if len(payload) != claro:
            raise ErroObjetoCorrompido(
                f"{nome}: tamanho não confere com o cabeçalho (corrompido)", nome
            )
        if flags & FLAG_AGRUPADO:
            payload = memoryview(desagrupar(payload, elemento, fase))
        if refs is not None:
            if tipo != TIPO_BLOCO or self.bases is None:
                raise ErroObjetoCorrompido(f"{nome}: delta fora de um bloco", nome)
            return xor(payload, self.bases.base(id_objeto.hex(), refs, claro))
        return payload

    def decodificar_bloco(
        self, id_bloco: str, bruto: bytes | memoryview
    ) -> bytes | memoryview:
        """Decode a chunk blob and check it against its own id."""
        dados = self.decodificar(bruto, TIPO_BLOCO, bytes.fromhex(id_bloco), id_bloco)
        if self.id_bloco(dados) != id_bloco:
            raise ErroObjetoCorrompido(
                f"bloco {id_bloco}: conteúdo não confere com o hash (corrompido)",
                id_bloco,
            )
        return dados
