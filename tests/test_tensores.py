"""Byte-grouped compression of float tensors (issue 22 part 1): exact restores,
real files of the real libraries, lying headers, and the bytes it saves."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.blob import (
    CABECALHO,
    FLAG_AGRUPADO,
    FLAG_ZSTD,
    Codificador,
    agrupar,
    desagrupar,
)
from backup_versionamento.armazenamento.tensores import Faixa, agrupamento, detectar
from backup_versionamento.erros import ErroObjetoCorrompido

from .conftest import aleatorio, escrever

# Encryption on: the grouping flag lives in the header the AAD covers.
from .conftest import cfg_cifrado as _cfg

MiB = 1 << 20


def _pesos(n: int, semente: int = 0) -> np.ndarray:
    return np.random.default_rng(semente).normal(0, 0.05, n).astype(np.float32)


def _bf16(pesos: np.ndarray) -> bytes:
    return (pesos.view(np.uint32) >> 16).astype(np.uint16).tobytes()


def _safetensors(tensores: dict[str, tuple[str, bytes]], preenchimento: int) -> bytes:
    """The safetensors layout (u64 header length, JSON, data), written here
    because the `safetensors` package is not a dependency; `preenchimento`
    spaces shift the data so it starts at any offset modulo the element size."""
    cab: dict[str, Any] = {}
    pos = 0
    for nome, (dtype, dados) in tensores.items():
        largura = {"F32": 4, "F16": 2, "BF16": 2}[dtype]
        cab[nome] = {
            "dtype": dtype,
            "shape": [len(dados) // largura],
            "data_offsets": [pos, pos + len(dados)],
        }
        pos += len(dados)
    js = json.dumps(cab).encode() + b" " * preenchimento
    return struct.pack("<Q", len(js)) + js + b"".join(d for _, d in tensores.values())


def _backup_restaura(
    tmp_path: Path, arquivo: Path
) -> tuple[int, list[tuple[int, int, int]]]:
    """Back up, restore, compare bytes; (bytes in packs, (flags, element,
    phase) of each chunk blob)."""
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        g.criar_backup(arquivo, "patch")
        g.restaurar_backup(arquivo.name, "1.0.0", tmp_path / "r")
        assert g.verificar_integridade(completa=True)["ok"]
        cabecalhos = []
        for id_bloco, _n in g.repo.ler_versao(arquivo.name, "1.0.0").blocos():
            _v, flags, res, _claro = CABECALHO.unpack_from(
                g.repo.objetos.ler_bruto(id_bloco)
            )
            cabecalhos.append((flags, res & 0xFF, res >> 8))
    restaurado = next(p for p in (tmp_path / "r").rglob(arquivo.name) if p.is_file())
    assert restaurado.read_bytes() == arquivo.read_bytes()
    guardado = sum(p.stat().st_size for p in (repo / "pacotes").rglob("*"))
    return guardado, cabecalhos


@pytest.mark.parametrize("preenchimento", [0, 1, 3])
def test_safetensors_fp32_bf16_fp16_exato_cifrado_e_menor(
    tmp_path: Path, preenchimento: int
) -> None:
    pesos = _pesos(3 * MiB // 4)
    arquivo = escrever(
        tmp_path / "src" / "modelo.safetensors",
        _safetensors(
            {
                "a.weight": ("F32", pesos[: MiB // 2].tobytes()),
                "b.weight": ("BF16", _bf16(pesos[MiB // 2 :])),
                "c.weight": ("F16", pesos[: MiB // 4].astype(np.float16).tobytes()),
            },
            preenchimento,
        ),
    )
    guardado, cabecalhos = _backup_restaura(tmp_path, arquivo)
    agrupados = [c for c in cabecalhos if c[0] & FLAG_AGRUPADO]
    assert agrupados and all(c[0] & FLAG_ZSTD for c in agrupados)
    assert {c[1] for c in agrupados} == {2, 4}
    # CDC cuts fall anywhere: chunks starting mid-element group with a phase.
    assert any(c[2] for c in agrupados)
    # Plain zstd keeps ~92% of FP32 and ~78% of BF16; grouped ~85% and ~69%.
    assert guardado < 0.86 * arquivo.stat().st_size


def test_fp32_normal_guarda_menos_de_90_por_cento(tmp_path: Path) -> None:
    arquivo = escrever(
        tmp_path / "src" / "pesos.safetensors",
        _safetensors({"w": ("F32", _pesos(MiB).tobytes())}, 0),
    )
    guardado, _ = _backup_restaura(tmp_path, arquivo)
    assert guardado < 0.9 * arquivo.stat().st_size


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_torch_save_exato_e_menor(tmp_path: Path, dtype: str) -> None:
    torch = pytest.importorskip("torch")
    pesos = torch.from_numpy(_pesos(MiB)).to(getattr(torch, dtype))
    arquivo = tmp_path / "src" / "modelo.pt"
    arquivo.parent.mkdir(parents=True)
    torch.save({"w": pesos, "passos": torch.tensor(7)}, arquivo)
    assert detectar_arquivo(arquivo)[0].elemento == pesos.element_size()
    guardado, cabecalhos = _backup_restaura(tmp_path, arquivo)
    assert any(c[0] & FLAG_AGRUPADO for c in cabecalhos)
    assert guardado < 0.9 * arquivo.stat().st_size


def detectar_arquivo(arquivo: Path) -> list[Faixa]:
    with open(arquivo, "rb") as f:
        return detectar(f, f.read(1 << 20))


def test_npy_e_npz_exatos(tmp_path: Path) -> None:
    pesos = _pesos(MiB // 2)
    npy = tmp_path / "src" / "pesos.npy"
    npy.parent.mkdir(parents=True)
    np.save(npy, pesos.astype(np.float16))
    (f,) = detectar_arquivo(npy)
    assert (f.elemento, f.fim) == (2, npy.stat().st_size)
    npz = tmp_path / "src" / "pesos.npz"
    np.savez(npz, a=pesos, b=np.arange(10))
    assert [f.elemento for f in detectar_arquivo(npz)] == [4]
    guardado, cabecalhos = _backup_restaura(tmp_path / "1", npy)
    assert any(c[0] & FLAG_AGRUPADO for c in cabecalhos)
    guardado, cabecalhos = _backup_restaura(tmp_path / "2", npz)
    assert any(c[0] & FLAG_AGRUPADO and c[1] == 4 for c in cabecalhos)
    assert guardado < 0.9 * npz.stat().st_size


def test_cabecalho_mentiroso_restaura_exato(tmp_path: Path) -> None:
    """Offsets beyond the file, overlapping, a wrong dtype over random bytes and
    text: grouping is exact whatever the bytes; it only stops paying."""
    dados = aleatorio(MiB) + b"texto qualquer " * 40000
    cab = {
        "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 10 * len(dados)]},
        "y": {"dtype": "BF16", "shape": [1], "data_offsets": [5, 2 * MiB]},
        "z": {"dtype": "F64", "shape": [1], "data_offsets": [MiB, "x"]},
        "__metadata__": {"a": "b"},
    }
    js = json.dumps(cab).encode()
    arquivo = escrever(
        tmp_path / "src" / "mente.safetensors",
        struct.pack("<Q", len(js)) + js + dados,
    )
    assert detectar_arquivo(arquivo)[0].fim == arquivo.stat().st_size
    _guardado, cabecalhos = _backup_restaura(tmp_path, arquivo)
    # Random bytes claimed as F32 do not pay grouped: stored raw, as today.
    assert any(not c[0] & FLAG_ZSTD for c in cabecalhos)
    # A header length past the file, and JSON that is not an object.
    for lixo in (struct.pack("<Q", 1 << 40) + b"{}", struct.pack("<Q", 2) + b"[]"):
        assert detectar_arquivo(escrever(tmp_path / "l.bin", lixo + dados)) == []


@pytest.mark.parametrize("elemento", [2, 4, 8])
def test_codec_toda_fase_e_tamanho(elemento: int) -> None:
    cod = Codificador("00" * 16)
    base = _pesos(40000).tobytes()
    for fase in range(elemento):
        for n in (0, 1, elemento + 1, 1000, 70001):
            dados = base[fase : fase + n]
            assert (
                bytes(desagrupar(agrupar(dados, elemento, fase), elemento, fase))
                == dados
            )
            flags, payload = cod.comprimir_agrupado(dados, elemento, fase)
            blob = b"".join(bytes(p) for p in cod.montar(flags, payload, len(dados)))
            assert bytes(cod.decodificar(blob)) == dados
    flags, _ = cod.comprimir_agrupado(base, 4, 0)
    assert flags == FLAG_ZSTD | FLAG_AGRUPADO | 4 << 8


@pytest.mark.parametrize("elemento", [2, 4, 8])
def test_layout_agrupado_e_a_transposicao_por_byte(elemento: int) -> None:
    """The stored layout, pinned against an independent definition (numpy's
    transpose): head, byte 0 of every element, ..., tail. A faster grouping
    must keep these exact bytes, or older repositories would restore wrong."""
    import zstandard

    cod = Codificador("00" * 16)
    base = _pesos(90000).tobytes()
    for fase in range(elemento):
        for n in (elemento + 3, 70001, 327683):
            dados = base[fase : fase + n]
            cabeca = (elemento - fase) % elemento
            corpo = (n - cabeca) // elemento * elemento
            planos = np.frombuffer(dados[cabeca : cabeca + corpo], np.uint8)
            esperado = (
                dados[:cabeca]
                + planos.reshape(-1, elemento).T.tobytes()
                + dados[cabeca + corpo :]
            )
            assert agrupar(dados, elemento, fase) == esperado
            # The zstd frame holds exactly that layout (one frame, any blocks).
            flags, payload = cod.comprimir_agrupado(dados, elemento, fase)
            if flags & FLAG_AGRUPADO:
                claro = zstandard.ZstdDecompressor().decompress(
                    bytes(payload), max_output_size=n
                )
                assert claro == esperado


def test_cabecalho_agrupado_invalido_e_corrompido() -> None:
    cod = Codificador("00" * 16)
    dados = _pesos(40000).tobytes()
    flags, payload = cod.comprimir_agrupado(dados, 4, 0)
    assert flags & FLAG_AGRUPADO
    blob = bytearray(b"".join(bytes(p) for p in cod.montar(flags, payload, len(dados))))
    for reservado in (3, 4 | 4 << 8, 0):
        struct.pack_into("<H", blob, 2, reservado)
        with pytest.raises(ErroObjetoCorrompido, match="cabeçalho de blob inválido"):
            cod.decodificar(bytes(blob))


def test_agrupamento_pela_maior_parte() -> None:
    faixas = [Faixa(100, 1000, 4), Faixa(1000, 2000, 2)]
    inicios = [100, 1000]
    assert agrupamento(faixas, inicios, 0, 100) is None
    assert agrupamento(faixas, inicios, 103, 200) == (4, 3)
    assert agrupamento(faixas, inicios, 50, 200) == (4, 2)  # 150 of 200 inside
    assert agrupamento(faixas, inicios, 1501, 10) == (2, 1)
    assert agrupamento(faixas, inicios, 1990, 100) is None


def test_onnx_e_hdf5_exatos(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    pesos = _pesos(MiB // 2)
    iniciais = [
        numpy_helper.from_array(pesos, "w32"),
        numpy_helper.from_array(pesos.astype(np.float16), "w16"),
        numpy_helper.from_array(np.arange(100000, dtype=np.int64), "indices"),
    ]
    grafo = helper.make_graph([], "g", [], [], initializer=iniciais)
    arquivo = tmp_path / "src" / "modelo.onnx"
    arquivo.parent.mkdir(parents=True)
    onnx.save(helper.make_model(grafo), arquivo)
    faixas = detectar_arquivo(arquivo)
    assert sorted(f.elemento for f in faixas) == [2, 4]
    dados = arquivo.read_bytes()
    assert pesos.tobytes() in {dados[f.inicio : f.fim] for f in faixas}
    guardado, cabecalhos = _backup_restaura(tmp_path / "1", arquivo)
    assert any(c[0] & FLAG_AGRUPADO for c in cabecalhos)
    assert guardado < 0.9 * arquivo.stat().st_size

    h5py = pytest.importorskip("h5py")
    h5 = tmp_path / "src" / "pesos.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("camada/kernel", data=pesos)
        f.create_dataset("camada/comprimido", data=pesos, compression="gzip")
    (faixa,) = detectar_arquivo(h5)
    assert h5.read_bytes()[faixa.inicio : faixa.fim] == pesos.tobytes()
    guardado, cabecalhos = _backup_restaura(tmp_path / "2", h5)
    assert any(c[0] & FLAG_AGRUPADO for c in cabecalhos)


@pytest.mark.parametrize(
    ("nome", "inicio"),
    [
        ("a.pt", b"PK\x03\x04"),
        ("a.h5", b"\x89HDF\r\n\x1a\n"),
        ("a.npy", b"\x93NUMPY\x01\x00\xff\xff{"),
        ("a.onnx", b"\x08\x07\x3a\xff\xff\xff\x7f"),
        ("a.safetensors", struct.pack("<Q", 20) + b'{"x": {"dtype": 1'),
    ],
)
def test_cabecalho_truncado_nao_tem_faixas(
    tmp_path: Path, nome: str, inicio: bytes
) -> None:
    arquivo = escrever(tmp_path / nome, inicio + aleatorio(4096))
    assert detectar_arquivo(arquivo) == []
