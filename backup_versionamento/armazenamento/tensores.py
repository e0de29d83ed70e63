"""Where the float tensors of a model file lie: headers only, never the data.

The chunk pipeline stores a chunk that lies (mostly) inside one of these ranges
byte-grouped (blob.FLAG_AGRUPADO). A header that lies costs only compression:
grouping is exact whatever the bytes are, and a chunk it does not pay for keeps
today's encoding. So this module trusts nothing, raises nothing, and reads at
most the file's first segment (already in memory) plus a zip's central directory.
"""

from __future__ import annotations

import ast
import bisect
import json
import mmap
import os
import re
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

# safetensors dtypes of floats -> element size.
_SAFETENSORS = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}
# numpy descr (kind 'f', or ml_dtypes' bfloat16 stored as '<V2') -> element size.
_NPY_DESCR = re.compile(r"^[<|=]?f([248])$")
_MAGICO_NPY = b"\x93NUMPY"
# ONNX TensorProto.data_type of floats -> element size.
_ONNX = {1: 4, 10: 2, 11: 8, 16: 2}
# Ranges smaller than this are not worth a lookup (headers, biases).
_MINIMO = 64 << 10


@dataclass(frozen=True, order=True)
class Faixa:
    """Bytes [inicio, fim) of the file are elements of `elemento` bytes
    starting at `inicio`."""

    inicio: int
    fim: int
    elemento: int


def _safetensors(cabeca: bytes | memoryview) -> list[Faixa]:
    return [Faixa(t.inicio, t.fim, t.elemento) for t in _safetensors_nomeados(cabeca)]


def _npy(cabeca: bytes, deslocamento: int = 0) -> list[Faixa]:
    """A .npy array (also a member of a .npz stored without compression)."""
    if not cabeca.startswith(_MAGICO_NPY) or len(cabeca) < 10:
        return []
    if cabeca[6] == 1:
        (n,) = struct.unpack_from("<H", cabeca, 8)
        inicio = 10
    else:
        if len(cabeca) < 12:
            return []
        (n,) = struct.unpack_from("<I", cabeca, 8)
        inicio = 12
    try:
        doc = ast.literal_eval(cabeca[inicio : inicio + n].decode("latin-1"))
        descr = doc["descr"]
    except (ValueError, SyntaxError, KeyError, TypeError, MemoryError, RecursionError):
        return []
    casamento = _NPY_DESCR.match(descr) if isinstance(descr, str) else None
    if casamento is None and descr not in ("<V2", "|V2"):  # bfloat16 (ml_dtypes)
        return []
    elemento = int(casamento.group(1)) if casamento else 2
    # The array's end is bounded by the member's or file's end by the caller.
    return [Faixa(deslocamento + inicio + n, 1 << 62, elemento)]


# Bytes per element of each PyTorch storage class (also used by validation).
TAMANHO_STORAGE = {
    "Double": 8,
    "Float": 4,
    "Half": 2,
    "BFloat16": 2,
    "Long": 8,
    "Int": 4,
    "Short": 2,
    "Char": 1,
    "Byte": 1,
    "Bool": 1,
    "ComplexFloat": 8,
    "ComplexDouble": 16,
    "Untyped": 1,
    "QInt8": 1,
    "QUInt8": 1,
    "QInt32": 4,
}


def _largura_torch(pickle: bytes) -> int:
    """Element size of a PyTorch archive's storages, from the names of the
    storage classes its pickle mentions (no unpickling): float32 unless only
    16- or 64-bit floats are there."""
    tipos = {
        t.decode()
        for t in re.findall(rb"(\w+)Storage", pickle)
        if TAMANHO_STORAGE.get(t.decode()) is not None
    }
    if "Float" in tipos or not tipos:
        return 4
    if tipos & {"Half", "BFloat16"}:
        return 2
    if "Double" in tipos:
        return 8
    return 4


def _zip(arquivo: BinaryIO, tamanho: int) -> list[Faixa]:
    """Stored (uncompressed) members of a zip: PyTorch's `data/N`, .npz arrays."""
    return [Faixa(t.inicio, t.fim, t.elemento) for t in _zip_nomeados(arquivo)]


def _onnx(arquivo: BinaryIO) -> list[Faixa]:
    """`raw_data` of float initializers: ModelProto.graph (7) -> initializer (5)
    -> data_type (2), raw_data (9). The file is mapped, so only the pages with
    the protobuf keys are read, never the tensors."""
    from ..base.protobuf import ErroLeitura, campos_protobuf

    try:
        with (
            mmap.mmap(arquivo.fileno(), 0, access=mmap.ACCESS_READ) as mapa,
            memoryview(mapa) as m,
        ):
            faixas = []
            for num, tipo, grafo in campos_protobuf(m):
                if num != 7 or tipo != 2:
                    continue
                for n, t, ini in campos_protobuf(m, *grafo):
                    if n != 5 or t != 2:
                        continue
                    campos = campos_protobuf(m, *ini)
                    dtype = next((v for c, w, v in campos if c == 2 and w == 0), 0)
                    bruto = next((v for c, w, v in campos if c == 9 and w == 2), None)
                    if bruto and dtype in _ONNX:
                        faixas.append(Faixa(bruto[0], bruto[1], _ONNX[dtype]))
            return faixas
    except (ErroLeitura, OSError, ValueError):
        return []


def _hdf5(arquivo: BinaryIO) -> list[Faixa]:
    """Contiguous float datasets of an HDF5 file (Keras .h5), from h5py's
    metadata: only when h5py is installed (it is optional)."""
    try:
        import h5py  # optional and heavy: only for HDF5 files
    except ImportError:
        return []
    faixas: list[Faixa] = []

    def visitar(_nome: str, obj: object) -> None:
        if not isinstance(obj, h5py.Dataset) or obj.dtype.kind != "f":
            return
        inicio = obj.id.get_offset()
        if inicio is not None and obj.chunks is None and obj.compression is None:
            fim = inicio + obj.id.get_storage_size()
            faixas.append(Faixa(inicio, fim, obj.dtype.itemsize))

    pos = arquivo.tell()
    try:
        with h5py.File(arquivo, "r") as f:
            f.visititems(visitar)
        return faixas
    except Exception:  # any fault in a foreign header: no ranges
        return []
    finally:
        arquivo.seek(pos)


def detectar(arquivo: BinaryIO, cabeca: bytes | memoryview) -> list[Faixa]:
    """Float ranges of `arquivo`, sorted and clipped to the file; `cabeca` is
    its first bytes (the pipeline's first segment). [] when unknown."""
    try:
        tamanho = os.fstat(arquivo.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        return []
    inicio = bytes(cabeca[:4096])
    if inicio.startswith(b"PK\x03\x04"):
        faixas = _zip(arquivo, tamanho)
    elif inicio.startswith(_MAGICO_NPY):
        faixas = _npy(inicio)
    elif inicio.startswith(b"\x89HDF\r\n\x1a\n"):
        faixas = _hdf5(arquivo)
    elif str(getattr(arquivo, "name", "")).lower().endswith(".onnx"):
        faixas = _onnx(arquivo)
    else:
        faixas = _safetensors(cabeca)
    limpas = sorted(
        Faixa(f.inicio, min(f.fim, tamanho), f.elemento)
        for f in faixas
        if 0 <= f.inicio < tamanho and f.fim - f.inicio >= 4 * f.elemento
    )
    # Adjacent tensors of one dtype in phase (safetensors) become one range,
    # so chunks crossing their boundary group correctly.
    juntas: list[Faixa] = []
    for f in limpas:
        if juntas and f.inicio < juntas[-1].fim:
            continue  # overlapping ranges: a lying header, keep the first
        ant = juntas[-1] if juntas else None
        if (
            ant
            and ant.fim == f.inicio
            and ant.elemento == f.elemento
            and (f.inicio - ant.inicio) % f.elemento == 0
        ):
            juntas[-1] = Faixa(ant.inicio, f.fim, f.elemento)
        else:
            juntas.append(f)
    return [f for f in juntas if f.fim - f.inicio >= _MINIMO]


def agrupamento(
    faixas: Sequence[Faixa], inicios: Sequence[int], inicio: int, n: int
) -> tuple[int, int] | None:
    """(element size, phase) for the chunk [inicio, inicio + n) when at least
    half of it lies in one float range; `inicios` = [f.inicio for f in faixas]."""
    i = bisect.bisect_right(inicios, inicio + n // 2) - 1
    if i < 0:
        return None
    f = faixas[i]
    dentro = min(f.fim, inicio + n) - max(f.inicio, inicio)
    if 2 * dentro < n:
        return None
    return f.elemento, (inicio - f.inicio) % f.elemento


@dataclass(frozen=True)
class Tensor:
    """A float tensor of a model file: `chave` names it across versions (its
    name, dtype and shape, or what stands for them), [inicio, fim) its bytes."""

    chave: str
    inicio: int
    fim: int
    elemento: int


def _safetensors_nomeados(cabeca: bytes | memoryview) -> list[Tensor]:
    if len(cabeca) < 9:
        return []
    (n,) = struct.unpack_from("<Q", cabeca)
    if not 2 <= n <= len(cabeca) - 8 or cabeca[8] != ord("{"):
        return []
    try:
        doc = json.loads(bytes(cabeca[8 : 8 + n]))
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    saida = []
    for nome, t in doc.items():
        if nome == "__metadata__" or not isinstance(t, dict):
            continue
        elemento = _SAFETENSORS.get(str(t.get("dtype")))
        ofs = t.get("data_offsets")
        if (
            elemento
            and isinstance(ofs, list)
            and len(ofs) == 2
            and all(isinstance(o, int) for o in ofs)
        ):
            chave = json.dumps([nome, t.get("dtype"), t.get("shape")])
            saida.append(Tensor(chave, 8 + n + ofs[0], 8 + n + ofs[1], elemento))
    return saida


def _zip_nomeados(arquivo: BinaryIO) -> list[Tensor]:
    """Stored members of a zip (PyTorch's `data/N`, .npz arrays): the member's
    name and size stand for the tensor's name, dtype and shape."""
    try:
        pos = arquivo.tell()
        try:
            z = zipfile.ZipFile(arquivo)
            membros = z.infolist()
            largura = 4
            pkl = [m for m in membros if m.filename.endswith("data.pkl")]
            if pkl and pkl[0].file_size <= 16 << 20:
                largura = _largura_torch(z.read(pkl[0]))
            saida = []
            for m in membros:
                if m.compress_type != zipfile.ZIP_STORED or m.file_size < _MINIMO:
                    continue
                arquivo.seek(m.header_offset)
                local = arquivo.read(30 + 256)
                if len(local) < 30 or local[:4] != b"PK\x03\x04":
                    continue
                # The data starts after the local header (its own name/extra
                # lengths may differ from the central directory's).
                n_nome, n_extra = struct.unpack_from("<HH", local, 26)
                inicio = m.header_offset + 30 + n_nome + n_extra
                fim = inicio + m.file_size
                # torch.save prefixes members with the file's stem: the same
                # model saved under another name keeps its storages' keys.
                nome = m.filename
                if "/data/" in nome and not nome.endswith(".npy"):
                    nome = "data/" + nome.split("/data/", 1)[1]
                chave = json.dumps([nome, m.file_size])
                if m.filename.endswith(".npy"):
                    arquivo.seek(inicio)
                    for f in _npy(arquivo.read(4096), inicio):
                        saida.append(Tensor(chave, f.inicio, fim, f.elemento))
                elif "/data/" in m.filename or m.filename.startswith("data/"):
                    saida.append(Tensor(chave, inicio, fim, largura))
            return saida
        finally:
            arquivo.seek(pos)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
        return []


def tensores_nomeados(
    arquivo: BinaryIO, cabeca: bytes | memoryview, tamanho: int
) -> list[Tensor]:
    """The float tensors of a model file with the keys that match them across
    versions (safetensors, PyTorch zips, .npz, .npy); [] when unknown. Like
    `detectar`, trusts nothing: a wrong key only costs compression (deltas
    are exact whatever the bytes). `arquivo` needs only read/seek/tell."""
    inicio = bytes(cabeca[:4096])
    if inicio.startswith(b"PK\x03\x04"):
        tensores = _zip_nomeados(arquivo)
    elif inicio.startswith(_MAGICO_NPY):
        tensores = [
            Tensor(json.dumps(["npy", tamanho]), f.inicio, tamanho, f.elemento)
            for f in _npy(inicio)
        ]
    else:
        tensores = _safetensors_nomeados(cabeca)
    return sorted(
        (
            Tensor(t.chave, t.inicio, min(t.fim, tamanho), t.elemento)
            for t in tensores
            if 0 <= t.inicio < tamanho and t.fim - t.inicio >= _MINIMO
        ),
        key=lambda t: t.inicio,
    )
