"""Packs written and read around the page cache (backends/direto.py): exact
bytes and sizes at unaligned offsets, nothing left in the page cache, and the
ordinary path for small objects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from backup_versionamento.armazenamento.backends import BackendLocal
from backup_versionamento.armazenamento.backends.direto import (
    MINIMO_ESCRITA,
    O_DIRECT,
    VARIAVEL,
)

from .conftest import aleatorio

MiB = 1 << 20


def _suporta_o_direct(pasta: Path) -> bool:
    if not O_DIRECT:
        return False
    try:
        fd = os.open(pasta / ".sonda", os.O_WRONLY | os.O_CREAT | O_DIRECT, 0o600)
    except OSError:
        return False
    os.close(fd)
    os.unlink(pasta / ".sonda")
    return True


def _residentes(caminho: Path) -> int:
    """Bytes of the file in the page cache (util-linux's fincore)."""
    saida = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(caminho)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(saida.strip())


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BackendLocal:
    if not _suporta_o_direct(tmp_path) or shutil.which("fincore") is None:
        pytest.skip("sem O_DIRECT nesta pasta (ou sem fincore)")
    monkeypatch.setenv(VARIAVEL, "1")
    return BackendLocal(tmp_path / "repo")


def test_pacote_grande_fora_do_page_cache_e_exato(backend: BackendLocal) -> None:
    # A header of 8 bytes first: the parts are not aligned, the file is not a
    # multiple of the block size.
    corpo = aleatorio(3 * MiB + 5)
    partes = [b"cabecalh", corpo, b"rodape"]
    inteiro = b"".join(partes)
    assert backend.gravar("pacotes/ab/pacote", partes)
    caminho = backend.raiz / "pacotes" / "ab" / "pacote"
    assert caminho.stat().st_size == len(inteiro)
    assert caminho.read_bytes() == inteiro  # buffered read after a direct write
    # Evict what the check above cached, then read only through the backend.
    fd = os.open(caminho, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    for inicio, n in ((0, len(inteiro)), (3, 100_000), (4095, 1 << 20), (7, 70_001)):
        assert (
            backend.ler_intervalo("pacotes/ab/pacote", inicio, n)
            == (inteiro[inicio : inicio + n])
        )
    # The end of the file, unaligned: what a trailer read asks for.
    fim = len(inteiro) - 65_539
    assert backend.ler_intervalo("pacotes/ab/pacote", fim, 65_539) == inteiro[fim:]
    # Big reads went around the page cache (a buffered read would leave ~MiBs).
    assert _residentes(caminho) < 64 * 1024


def test_escrita_direta_deixa_o_page_cache_vazio(backend: BackendLocal) -> None:
    dados = aleatorio(MINIMO_ESCRITA + 12_345, semente=1)
    backend.gravar("pacotes/cd/p", [dados])
    caminho = backend.raiz / "pacotes" / "cd" / "p"
    assert _residentes(caminho) == 0
    assert backend.ler("pacotes/cd/p") == dados


def test_objetos_pequenos_pelo_caminho_comum(backend: BackendLocal) -> None:
    dados = aleatorio(MINIMO_ESCRITA - 1, semente=2)
    backend.gravar("indices/x", [dados])
    caminho = backend.raiz / "indices" / "x"
    # Below the threshold the write is buffered (it stays in the page cache).
    assert _residentes(caminho) > 0
    assert backend.ler_intervalo("indices/x", 10, 1000) == dados[10:1010]
    # A truncated object is still reported, direct read or not.
    os.truncate(caminho, 100_000)
    with pytest.raises(Exception, match="menor que o esperado"):
        backend.ler_intervalo("indices/x", 0, 200_000)


def test_sem_pedir_tudo_pelo_page_cache(
    backend: BackendLocal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default (the variable unset): packs go through the page cache, as
    before, so a restore right after a backup reads them from memory."""
    monkeypatch.delenv(VARIAVEL)
    dados = aleatorio(MINIMO_ESCRITA + 12_345, semente=3)
    backend.gravar("pacotes/ef/p", [dados])
    caminho = backend.raiz / "pacotes" / "ef" / "p"
    assert _residentes(caminho) >= caminho.stat().st_size  # whole pages
    assert backend.ler_intervalo("pacotes/ef/p", 5, 200_000) == dados[5:200_005]
