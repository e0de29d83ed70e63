"""The protobuf wire format, read without the protobuf package: it never executes.

Shared by the storage (ONNX initializers for tensor-aware compression) and the
validation (SavedModel, GraphDef, ONNX checks). Every length and offset is checked
against the data it was given.
"""

from __future__ import annotations

from typing import Any


class ErroLeitura(Exception):
    """The data does not follow the format."""


def varint(d: bytes | memoryview, p: int, fim: int) -> tuple[int, int]:
    valor = 0
    desloc = 0
    while True:
        if p >= fim:
            raise ErroLeitura(f"protobuf truncado (varint) na posição {p}")
        b = d[p]
        p += 1
        valor |= (b & 0x7F) << desloc
        if not b & 0x80:
            return valor, p
        desloc += 7
        if desloc > 63:
            raise ErroLeitura(f"protobuf: varint longo demais na posição {p}")


def campos_protobuf(
    d: bytes | memoryview, inicio: int = 0, fim: int | None = None
) -> list[tuple[int, int, Any]]:
    """Top-level fields: (number, wire type, int value or (start, end) slice)."""
    fim = len(d) if fim is None else fim
    p = inicio
    campos: list[tuple[int, int, Any]] = []
    while p < fim:
        chave, p = varint(d, p, fim)
        numero, tipo = chave >> 3, chave & 7
        if numero == 0:
            raise ErroLeitura(f"protobuf: campo 0 inválido na posição {p}")
        if tipo == 0:
            valor, p = varint(d, p, fim)
            campos.append((numero, tipo, valor))
        elif tipo == 1:
            if p + 8 > fim:
                raise ErroLeitura(f"protobuf truncado (fixed64) na posição {p}")
            campos.append((numero, tipo, int.from_bytes(d[p : p + 8], "little")))
            p += 8
        elif tipo == 5:
            if p + 4 > fim:
                raise ErroLeitura(f"protobuf truncado (fixed32) na posição {p}")
            campos.append((numero, tipo, int.from_bytes(d[p : p + 4], "little")))
            p += 4
        elif tipo == 2:
            n, p = varint(d, p, fim)
            if p + n > fim:
                raise ErroLeitura(
                    f"protobuf truncado: campo {numero} declara {n} "
                    f"bytes na posição {p}, restam {fim - p}"
                )
            campos.append((numero, tipo, (p, p + n)))
            p += n
        else:
            raise ErroLeitura(f"protobuf: tipo de fio {tipo} inválido na posição {p}")
    return campos
