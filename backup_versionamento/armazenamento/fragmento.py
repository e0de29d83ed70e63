"""Index fragments: immutable lists of chunk id -> location, one per backup.

Plaintext = b"BVI2" || records of (chunk id, pack id, offset, length, flags,
plaintext length), stored as one blob (zstd, encryptable) under
`indices/<BLAKE3 of the stored bytes>`. Written after their packs and before any
sidecar that needs them; merged by the garbage collection (new fragment first,
then the old ones deleted).
"""

from __future__ import annotations

import struct

import blake3

from ..erros import ErroObjetoCorrompido
from .blob import TIPO_FRAGMENTO, Codificador
from .pacote import Local

PREFIXO = "indices/"
MAGICA = b"BVI2"
REGISTRO = struct.Struct("<32s32sIIBI")


def chave_fragmento(id_fragmento: str) -> str:
    return f"{PREFIXO}{id_fragmento}"


def codificar_fragmento(
    codificador: Codificador, locais: dict[str, Local]
) -> tuple[str, list[bytes | memoryview]]:
    """(fragment id, parts to write) for a set of chunk locations."""
    claro = MAGICA + b"".join(
        REGISTRO.pack(*loc.registro(i)) for i, loc in sorted(locais.items())
    )
    partes = codificador.codificar(claro, TIPO_FRAGMENTO, sempre_tentar=True)
    h = blake3.blake3()
    for p in partes:
        h.update(p)
    return h.hexdigest(), partes


def decodificar_fragmento(
    codificador: Codificador, id_fragmento: str, bruto: bytes
) -> dict[str, Local]:
    nome = f"índice {id_fragmento}"
    if blake3.blake3(bruto).hexdigest() != id_fragmento:
        raise ErroObjetoCorrompido(
            f"{nome}: conteúdo não confere com o nome (corrompido)", id_fragmento
        )
    claro = codificador.decodificar(bruto, TIPO_FRAGMENTO, nome=nome)
    if bytes(claro[:4]) != MAGICA or (len(claro) - 4) % REGISTRO.size:
        raise ErroObjetoCorrompido(f"{nome}: formato inválido", id_fragmento)
    return {
        i.hex(): Local(p.hex(), d, t, f, c)
        for i, p, d, t, f, c in REGISTRO.iter_unpack(memoryview(claro)[4:])
    }
