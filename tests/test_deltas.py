"""Deltas between versions of a model (issue 22 part 2): byte-exact restores
for each format and dtype from the real libraries, at the longest chain, after
cleanups that removed the versions in the middle, with encryption on; the
bytes a fine-tune adds; and what an old program or a forged blob meets."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import safetensors.numpy as st_numpy
import safetensors.torch as st_torch
import torch
import zstandard

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.blob import (
    CABECALHO,
    FLAG_DELTA,
    FLAG_ZSTD,
    Codificador,
)
from backup_versionamento.armazenamento.deltas import (
    INTERVALO_COPIA,
    PROFUNDIDADE_MAXIMA,
    Refs,
    ResolvedorBases,
    ler_registro,
)
from backup_versionamento.erros import ErroObjetoCorrompido, ErroRepositorio

from .conftest import cfg_cifrado


def _cfg(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        **cfg_cifrado(tmp_path),
        "retencao": {"carencia_coleta_minutos": 0},
        **extra,
    }


def _pesos(semente: int, n: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(semente)
    return {
        f"camada{i}.peso": rng.normal(0, 0.05, (128, 512)).astype(np.float32)
        for i in range(n)
    }


def _afinar(pesos: dict[str, np.ndarray], semente: int) -> dict[str, np.ndarray]:
    """Every weight nudged by normal noise of σ 1e-4 (a fine-tune)."""
    rng = np.random.default_rng(semente)
    return {
        k: (v + rng.normal(0, 1e-4, v.shape)).astype(np.float32)
        for k, v in pesos.items()
    }


def _st_fp32(pesos: dict[str, np.ndarray], caminho: Path) -> None:
    st_numpy.save_file(pesos, str(caminho))


def _st_bf16(pesos: dict[str, np.ndarray], caminho: Path) -> None:
    st_torch.save_file(
        {k: torch.from_numpy(v).to(torch.bfloat16) for k, v in pesos.items()},
        str(caminho),
    )


def _pt(dtype: Any) -> Callable[[dict[str, np.ndarray], Path], None]:
    def salvar(pesos: dict[str, np.ndarray], caminho: Path) -> None:
        torch.save(
            {k: torch.from_numpy(v).to(dtype) for k, v in pesos.items()}, caminho
        )

    return salvar


def _npz(pesos: dict[str, np.ndarray], caminho: Path) -> None:
    with open(caminho, "wb") as f:
        np.savez(f, **pesos)


def _npy(pesos: dict[str, np.ndarray], caminho: Path) -> None:
    with open(caminho, "wb") as f:
        np.save(f, np.stack(list(pesos.values())))


FORMATOS = {
    "safetensors-fp32": ("m.safetensors", _st_fp32),
    "safetensors-bf16": ("m.safetensors", _st_bf16),
    "pt-fp32": ("m.pt", _pt(torch.float32)),
    "pt-bf16": ("m.pt", _pt(torch.bfloat16)),
    "npz-fp32": ("m.npz", _npz),
    "npy-fp32": ("m.npy", _npy),
}


def _armazenado(repo: Path) -> int:
    """Bytes of packs and delta registry objects."""
    return sum(
        p.stat().st_size
        for pasta in ("pacotes", "deltas")
        for p in (repo / pasta).rglob("*")
        if p.is_file()
    )


def _profundidades(grafo: dict[str, tuple[str, ...]]) -> dict[str, int]:
    memo: dict[str, int] = {}

    def prof(i: str) -> int:
        if i not in grafo:
            return 0
        if i not in memo:
            memo[i] = 1 + max(prof(b) for b in grafo[i])
        return memo[i]

    return {i: prof(i) for i in grafo}


def _restaurar_e_conferir(
    g: GerenciadorBackupVersionamento,
    modelo: str,
    versao: str,
    destino: Path,
    sha: str,
) -> None:
    g.restaurar_backup(modelo, versao, destino)
    saida = destino / modelo if destino.is_dir() else destino
    assert hashlib.sha256(saida.read_bytes()).hexdigest() == sha, (modelo, versao)


@pytest.mark.parametrize("formato", sorted(FORMATOS))
def test_cadeia_maxima_exata_cifrada(tmp_path: Path, formato: str) -> None:
    """A keyframe interval of fine-tunes and one more: every version restores
    byte for byte (SHA-256 and the BLAKE3 `conferencia` checked by the
    restore), deltas were made against the keyframe (chains 1 deep, never
    past the maximum), the version past the interval is stored whole, and
    the full verification passes."""
    nome, salvar = FORMATOS[formato]
    arquivo = tmp_path / nome
    repo = tmp_path / "repo"
    pesos = _pesos(1)
    shas = []
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        for v in range(INTERVALO_COPIA + 1):
            if v:
                pesos = _afinar(pesos, 100 + v)
            salvar(pesos, arquivo)
            shas.append(hashlib.sha256(arquivo.read_bytes()).hexdigest())
            g.criar_backup(arquivo, "patch")
        grafo, _ = ler_registro(g.repo.objetos)
        assert grafo, "nenhum tensor virou delta"
        profs = _profundidades(grafo)
        assert max(profs.values()) <= PROFUNDIDADE_MAXIMA
        if formato.endswith("fp32"):
            # Every chunk changes: all deltas of v1, and the version past
            # the interval is whole. (In BF16 σ 1e-4 leaves many chunks
            # unchanged: deduplicated chunks make a version look whole, so
            # keyframes fall elsewhere; the depth cap still holds.)
            assert max(profs.values()) == 1
            ultima = g.repo.ler_versao(nome, f"1.0.{INTERVALO_COPIA}")
            novos = {i for e in ultima.entradas for i, _ in e.blocos}
            assert not novos & set(grafo)
        for i, sha in enumerate(shas):
            _restaurar_e_conferir(g, nome, f"1.0.{i}", tmp_path / f"r{i}", sha)
        assert g.verificar_integridade(completa=True)["ok"]


def test_v2_com_todo_peso_movido_acrescenta_no_maximo_075(tmp_path: Path) -> None:
    """The issue's fine-tune (σ 0.05 weights, σ 1e-4 noise), FP32 safetensors:
    v2 adds at most 0.75 of its size (whole chunks: ~0.85)."""
    arquivo = tmp_path / "m.safetensors"
    repo = tmp_path / "repo"
    pesos = _pesos(7, n=16)
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        _st_fp32(pesos, arquivo)
        g.criar_backup(arquivo, "patch")
        v1 = _armazenado(repo)
        _st_fp32(_afinar(pesos, 8), arquivo)
        g.criar_backup(arquivo, "patch")
        acrescentado = (_armazenado(repo) - v1) / arquivo.stat().st_size
    assert acrescentado <= 0.75, acrescentado
    assert v1 / arquivo.stat().st_size > 0.8  # the delta is what saved


def test_sem_o_recurso_no_cabecalho_nao_faz_deltas(tmp_path: Path) -> None:
    """A repository whose header does not list `deltas` (created before the
    feature) keeps storing whole chunks: programs that predate deltas still
    read all of it."""
    arquivo = tmp_path / "m.safetensors"
    repo = tmp_path / "repo"
    pesos = _pesos(3)
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        _st_fp32(pesos, arquivo)
        g.criar_backup(arquivo, "patch")
    cab = json.loads((repo / "repositorio.json").read_text())
    assert cab["recursos"] == ["deltas"]
    del cab["recursos"]
    (repo / "repositorio.json").write_text(json.dumps(cab))
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        v1 = _armazenado(repo)
        _st_fp32(_afinar(pesos, 4), arquivo)
        g.criar_backup(arquivo, "patch")
        assert ler_registro(g.repo.objetos)[0] == {}
        assert (_armazenado(repo) - v1) / arquivo.stat().st_size > 0.8


def test_recurso_desconhecido_e_recusado_com_clareza(tmp_path: Path) -> None:
    """A header naming a feature this program does not know is refused by
    name, before anything is read, and never called corrupt."""
    arquivo = tmp_path / "m.safetensors"
    repo = tmp_path / "repo"
    _st_fp32(_pesos(5, n=2), arquivo)
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        g.criar_backup(arquivo, "patch")
    cab = json.loads((repo / "repositorio.json").read_text())
    cab["recursos"] = ["deltas", "quantizacao-futura"]
    (repo / "repositorio.json").write_text(json.dumps(cab))
    with pytest.raises(ErroRepositorio) as e:
        GerenciadorBackupVersionamento(repo, _cfg(tmp_path))
    assert "quantizacao-futura" in str(e.value)
    assert "atualize o backup_versionamento" in str(e.value)
    assert "não está corrompido" in str(e.value)


def _cadeia(
    g: GerenciadorBackupVersionamento, arquivo: Path, n: int, semente: int
) -> list[str]:
    pesos = _pesos(semente)
    shas = []
    for v in range(n):
        if v:
            pesos = _afinar(pesos, semente * 100 + v)
        _st_fp32(pesos, arquivo)
        shas.append(hashlib.sha256(arquivo.read_bytes()).hexdigest())
        g.criar_backup(arquivo, "patch")
    return shas


def test_limpeza_sem_as_versoes_do_meio_mantem_as_bases(tmp_path: Path) -> None:
    """v1 whole <- v2, v3, v4 (deltas of the keyframe v1): the versions in
    the middle go and their chunks are freed (nothing depends on them); the
    first and the last restore exactly. Then retention keeps only the last:
    the keyframe's chunks stay as its bases, and the report says so."""
    arquivo = tmp_path / "m.safetensors"
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        n = 4
        shas = _cadeia(g, arquivo, n, 11)
        ultima = f"1.0.{n - 1}"
        antes = _armazenado(repo)
        for v in range(1, n - 1):
            g.repo.remover_versao(arquivo.name, f"1.0.{v}")
        r = g.limpeza()
        assert r["bytes_base_de_deltas"] == 0  # v1 is still a version
        assert _armazenado(repo) < 0.8 * antes
        _restaurar_e_conferir(g, arquivo.name, "1.0.0", tmp_path / "a0", shas[0])
        _restaurar_e_conferir(g, arquivo.name, ultima, tmp_path / "a3", shas[-1])
        assert g.verificar_integridade(completa=True)["ok"]
    cfg = _cfg(
        tmp_path,
        retencao={
            "carencia_coleta_minutos": 0,
            "por_quantidade": {"maximo_versoes_por_modelo": 1},
        },
    )
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        antes = _armazenado(repo)
        r = g.limpeza()
        assert r["versoes_removidas"] == [f"{arquivo.name} 1.0.0"]
        assert r["blocos_base_de_deltas"] > 0
        assert r["bytes_base_de_deltas"] > 0.5 * antes / 2
        assert _armazenado(repo) >= 0.95 * antes  # nothing needed was freed
        shutil.rmtree(tmp_path / "a3")
        _restaurar_e_conferir(g, arquivo.name, ultima, tmp_path / "a3", shas[-1])
        assert g.verificar_integridade(completa=True)["ok"]


def test_delta_reaproveitado_por_outro_modelo_sobrevive(tmp_path: Path) -> None:
    """A delta chunk deduplicated by another model, whose own versions never
    made it: when the first model is gone, the collection still keeps the
    delta's bases (the registry, not the versions, says what it needs)."""
    repo = tmp_path / "repo"
    a = tmp_path / "a" / "m.safetensors"
    b = tmp_path / "b" / "copia.safetensors"
    a.parent.mkdir()
    b.parent.mkdir()
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        shas = _cadeia(g, a, 2, 21)
        shutil.copy(a, b)  # v2's content, as the first version of another model
        g.criar_backup(b, "patch")
        assert len(ler_registro(g.repo.objetos)[0]) > 0
        for v in ("1.0.0", "1.0.1"):
            g.repo.remover_versao(a.name, v)
        r = g.limpeza()
        assert r["bytes_base_de_deltas"] > 0
        _restaurar_e_conferir(g, b.name, "1.0.0", tmp_path / "rb", shas[1])
        assert g.verificar_integridade(completa=True)["ok"]


def test_delta_forjado_circular_e_corrompido() -> None:
    """A blob naming itself as its base is refused as corrupt before any read
    (no chain a backup makes can do that: a delta only refers to older chunks)."""
    cod = Codificador("00" * 16)
    cod.bases = ResolvedorBases(cast(Any, None))  # never reached: no read
    dados = bytes(64)
    id_bloco = cod.id_bloco(dados)
    payload = Refs(1, 0, (id_bloco,)).codificar() + zstandard.ZstdCompressor().compress(
        dados
    )
    bruto = CABECALHO.pack(1, FLAG_ZSTD | FLAG_DELTA, 0, len(dados)) + payload
    with pytest.raises(ErroObjetoCorrompido, match="circular"):
        cod.decodificar_bloco(id_bloco, bruto)
    # Without a store to read bases from, a delta is refused too.
    cod.bases = None
    with pytest.raises(ErroObjetoCorrompido, match="delta"):
        cod.decodificar_bloco(id_bloco, bruto)


def test_pt_salvo_com_outro_nome_casa_os_tensores(tmp_path: Path) -> None:
    """torch.save prefixes members with the file's stem: the keys drop it, so
    a model saved as another file still finds its parent's tensors."""
    from backup_versionamento.armazenamento.tensores import tensores_nomeados

    pesos = _pesos(9, n=2)
    chaves = []
    for nome in ("epoca1.pt", "epoca2.pt"):
        _pt(torch.float32)(pesos, tmp_path / nome)
        with open(tmp_path / nome, "rb") as f:
            cabeca = f.read(4096)
            f.seek(0)
            ts = tensores_nomeados(f, cabeca, (tmp_path / nome).stat().st_size)
        chaves.append([t.chave for t in ts])
    assert len(chaves[0]) == 2
    assert chaves[0] == chaves[1]


def test_copia_inteira_no_fim_da_cadeia_libera_as_anteriores(tmp_path: Path) -> None:
    """A keyframe interval past the last whole version, a version is stored
    (almost) whole: keeping only it, the collection frees the ones before."""
    arquivo = tmp_path / "m.safetensors"
    repo = tmp_path / "repo"
    n = INTERVALO_COPIA + 1
    cfg = _cfg(
        tmp_path,
        retencao={
            "carencia_coleta_minutos": 0,
            "por_quantidade": {"maximo_versoes_por_modelo": 1},
        },
    )
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        shas = _cadeia(g, arquivo, n, 31)
    antes = _armazenado(repo)
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        r = g.limpeza()
        assert len(r["versoes_removidas"]) == n - 1
        # A chunk whose parent bytes lay in whole chunks (the chain's ends
        # fall per chunk) may still be a delta: only those bases stay.
        assert r["bytes_base_de_deltas"] < 0.1 * antes
        assert _armazenado(repo) < 0.5 * antes
        _restaurar_e_conferir(g, arquivo.name, f"1.0.{n - 1}", tmp_path / "r", shas[-1])
        assert g.verificar_integridade(completa=True)["ok"]


def test_s3_cifrado_cadeia_e_limpeza(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same over S3 (a real S3-compatible server on loopback), encrypted:
    deltas are made, the registry lives in the bucket, a cleanup that removed
    the keyframe and the middle keeps the bases, the kept version restores."""
    pytest.importorskip("moto.server")
    from .s3_servidor import servidor

    srv = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", srv.url)
    for k, v in srv.ambiente().items():
        monkeypatch.setenv(k, v)
    base = f"s3://{srv.novo_bucket()}/modelos"
    arquivo = tmp_path / "m.safetensors"
    n = 3
    with GerenciadorBackupVersionamento(base, _cfg(tmp_path)) as g:
        shas = _cadeia(g, arquivo, n, 41)
        assert ler_registro(g.repo.objetos)[0]
        for v in range(n - 1):  # the keyframe and the middle
            g.repo.remover_versao(arquivo.name, f"1.0.{v}")
        r = g.limpeza()
        assert r["bytes_base_de_deltas"] > 0
        _restaurar_e_conferir(g, arquivo.name, f"1.0.{n - 1}", tmp_path / "b", shas[-1])
        assert g.verificar_integridade(completa=True)["ok"]


def test_pai_danificado_so_custa_os_deltas(tmp_path: Path) -> None:
    """A parent version whose packs are damaged does not fail the next backup:
    it stores whole chunks (and says so in the log), and restores exactly."""
    arquivo = tmp_path / "m.safetensors"
    repo = tmp_path / "repo"
    pesos = _pesos(51)
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        _st_fp32(pesos, arquivo)
        g.criar_backup(arquivo, "patch")
        for p in (repo / "pacotes").rglob("*"):
            if p.is_file():
                dados = bytearray(p.read_bytes())
                for i in range(0, len(dados) // 2, 4096):
                    dados[i] ^= 0xFF
                p.write_bytes(bytes(dados))
        _st_fp32(_afinar(pesos, 52), arquivo)
        sha = hashlib.sha256(arquivo.read_bytes()).hexdigest()
        g.criar_backup(arquivo, "patch")
        assert ler_registro(g.repo.objetos)[0] == {}
        _restaurar_e_conferir(g, arquivo.name, "1.0.1", tmp_path / "r", sha)


def test_cli_limpeza_diz_os_bytes_mantidos_como_base(tmp_path: Path) -> None:
    """The cleanup's report, through the real CLI: retention removed the
    keyframe version, and the text says its bytes stay as delta bases."""
    from .conftest import cli

    arquivo = tmp_path / "m.safetensors"
    repo = tmp_path / "repo"
    cfg = _cfg(
        tmp_path,
        diretorios={"base": str(repo)},
        retencao={
            "carencia_coleta_minutos": 0,
            "por_quantidade": {"maximo_versoes_por_modelo": 1},
        },
    )
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        _cadeia(g, arquivo, 2, 61)
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    r = cli("limpeza", "--config", str(tmp_path / "c.json"))
    assert r.returncode == 0, r.stderr
    assert "mantidos como base de deltas" in r.stdout, r.stdout
