"""Packs: many blobs in one write-once object, with a trailer that lists them.

    blob* || trailer blob || u32 trailer length || b"BVP2"

The trailer's plaintext is a run of fixed records (chunk id, offset, length,
flags, plaintext length), so the chunk index can always be rebuilt from the
packs alone. A pack's key is the BLAKE3 of its trailer and footer (the trailer
lists every chunk id, each the hash of its content): `pacotes/<ab>/<id>`.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

import blake3

from ..erros import ErroObjetoCorrompido
from .blob import TIPO_TRAILER, Codificador

PREFIXO = "pacotes/"
MAGICA = b"BVP2"
RODAPE = struct.Struct("<I4s")
REGISTRO = struct.Struct("<32sIIBI")  # id, offset, length, flags, plaintext length
# Seal a pack once it holds this much: tens of files for a 512 MiB model, each
# big enough to make create+fsync negligible, small enough to repack cheaply.
TAMANHO_ALVO = 16 << 20


def buffer_anonimo(tamanho: int) -> mmap.mmap:
    """Private anonymous memory, zero-filled by the kernel page by page as it is
    first touched (a bytearray would write all of it up front). Private, not
    Python's default shared mapping, which is shmem-backed and slower to fault."""
    return mmap.mmap(-1, tamanho, flags=mmap.MAP_PRIVATE)


def chave_pacote(id_pacote: str) -> str:
    return f"{PREFIXO}{id_pacote[:2]}/{id_pacote}"


def id_da_chave(chave: str) -> str:
    return chave.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Local:
    """Where a chunk's blob lives."""

    pacote: str
    deslocamento: int
    tamanho: int
    flags: int
    claro: int

    def registro(self, id_bloco: str) -> tuple[bytes, bytes, int, int, int, int]:
        """The binary row (chunk id, pack id, offset, size, flags, plain size)
        that index fragments and the local index both store."""
        return (
            bytes.fromhex(id_bloco),
            bytes.fromhex(self.pacote),
            self.deslocamento,
            self.tamanho,
            self.flags,
            self.claro,
        )


class PacoteEmConstrucao:
    """Blobs gathered for one pack until sealed (one per writer thread).

    Blobs are held by reference (views into the reader's segment, or the
    encoder's own bytes) and written from there with one writev: a segment that
    fills most of a pack is never copied. Before a segment goes back to the
    pool, what still points into it is copied into the pack's own buffer
    (`materializar`). That buffer is allocated on first use, as an anonymous
    mapping, so only the pages a pack really needs are ever touched (touching
    fresh memory is slow on these machines).
    """

    def __init__(self, capacidade: int = TAMANHO_ALVO + (2 << 20)) -> None:
        self.capacidade = capacidade
        self._buf: mmap.mmap | None = None
        self.partes: list[bytes | memoryview] = []
        self.registros: list[tuple[bytes, int, int, int, int]] = []
        self.tamanho = 0
        self._proprio = 0  # bytes [0, _proprio) of the pack live in `buf`

    @property
    def buf(self) -> mmap.mmap:
        if self._buf is None:
            self._buf = buffer_anonimo(self.capacidade)
        return self._buf

    def cabe(self, n: int) -> bool:
        return self.tamanho + n <= self.capacidade

    def cheio(self) -> bool:
        return self.tamanho >= TAMANHO_ALVO

    def vazio(self) -> bool:
        return not self.registros

    def adicionar(
        self, id_bloco: str, partes: list[bytes | memoryview], claro: int
    ) -> None:
        """Append a blob (header first) by reference; no bytes are copied."""
        inicio = self.tamanho
        for p in partes:
            self.partes.append(p)
            self.tamanho += len(p)
        flags = partes[0][1]
        self.registros.append(
            (bytes.fromhex(id_bloco), inicio, self.tamanho - inicio, flags, claro)
        )

    def reservar(self, n: int) -> memoryview:
        """`n` writable bytes at the pack's end, in its own buffer; the caller
        fills them, then calls `confirmar`."""
        self.materializar()
        return memoryview(self.buf)[self.tamanho : self.tamanho + n]

    def confirmar(self, id_bloco: str, n: int, claro: int) -> None:
        """Append the blob written into the last `reservar`."""
        inicio = self.tamanho
        self.tamanho = self._proprio = inicio + n
        self.partes = [memoryview(self.buf)[: self.tamanho]]
        self.registros.append(
            (bytes.fromhex(id_bloco), inicio, n, self.buf[inicio + 1], claro)
        )

    def materializar(self) -> None:
        """Copy every blob held by reference into the pack's own buffer."""
        if self._proprio == self.tamanho:
            return
        buf = self.buf
        pos = self._proprio
        for p in self.partes[1 if self._proprio else 0 :]:
            n = len(p)
            buf[pos : pos + n] = p
            pos += n
        self._proprio = pos
        self.partes = [memoryview(buf)[:pos]]

    def selar(
        self, codificador: Codificador
    ) -> tuple[str, list[bytes | memoryview], dict[str, Local]]:
        """(pack id, parts to write, chunk id -> location); call reiniciar() after."""
        claro = b"".join(REGISTRO.pack(*r) for r in self.registros)
        trailer = codificador.codificar(claro, TIPO_TRAILER, sempre_tentar=True)
        n_trailer = sum(len(p) for p in trailer)
        rodape = [*trailer, RODAPE.pack(n_trailer, MAGICA)]
        # The trailer lists every chunk id (each a hash of its content), so its
        # hash names the pack's content without hashing 16 MiB again.
        h = blake3.blake3()
        for p in rodape:
            h.update(p)
        id_pacote = h.hexdigest()
        locais = {
            r[0].hex(): Local(id_pacote, r[1], r[2], r[3], r[4]) for r in self.registros
        }
        return id_pacote, [*self.partes, *rodape], locais

    def reiniciar(self) -> None:
        self.partes = []
        self.registros = []
        self.tamanho = 0
        self._proprio = 0


def ler_trailer(
    codificador: Codificador, id_pacote: str, dados_finais: bytes, tamanho_pacote: int
) -> dict[str, Local]:
    """Parse a pack's trailer given its last bytes (at least trailer + footer)."""
    if len(dados_finais) < RODAPE.size:
        raise ErroObjetoCorrompido(f"pacote {id_pacote}: truncado", id_pacote)
    n_trailer, magica = RODAPE.unpack_from(
        dados_finais, len(dados_finais) - RODAPE.size
    )
    if magica != MAGICA or n_trailer + RODAPE.size > tamanho_pacote:
        raise ErroObjetoCorrompido(
            f"pacote {id_pacote}: rodapé inválido (truncado ou corrompido)", id_pacote
        )
    fim = len(dados_finais) - RODAPE.size
    if n_trailer > fim:
        raise ValueError("dados_finais curto demais para o trailer")
    # The pack's name is the hash of its trailer and footer: a flipped byte in
    # a raw (uncompressed) trailer would otherwise yield wrong offsets silently.
    if (
        blake3.blake3(memoryview(dados_finais)[fim - n_trailer :]).hexdigest()
        != id_pacote
    ):
        raise ErroObjetoCorrompido(
            f"pacote {id_pacote}: trailer não confere com o nome do pacote "
            "(corrompido)",
            id_pacote,
        )
    claro = codificador.decodificar(
        memoryview(dados_finais)[fim - n_trailer : fim],
        TIPO_TRAILER,
        nome=f"pacote {id_pacote} (trailer)",
    )
    if len(claro) % REGISTRO.size:
        raise ErroObjetoCorrompido(f"pacote {id_pacote}: trailer malformado", id_pacote)
    limite = tamanho_pacote - RODAPE.size - n_trailer
    locais = {}
    for i, deslocamento, tamanho, flags, n_claro in REGISTRO.iter_unpack(claro):
        if deslocamento + tamanho > limite:
            raise ErroObjetoCorrompido(
                f"pacote {id_pacote}: trailer aponta para fora do pacote", id_pacote
            )
        locais[i.hex()] = Local(id_pacote, deslocamento, tamanho, flags, n_claro)
    return locais
