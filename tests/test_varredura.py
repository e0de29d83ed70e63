"""The sweep: which files are models, the repository left out, the stat cache."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backup_versionamento.automacao.cache import CacheVarredura, assinatura
from backup_versionamento.automacao.filtro import FiltroModelos
from backup_versionamento.automacao.varredura import Varredura

from .ajuda_automacao import sem_threads_novas  # noqa: F401 - autouse fixture

EXTENSOES = [".h5", ".pkl", ".pb", ".pth"]
IGNORAR = ["temp_*", "*.tmp"]


def criar(caminho: Path, dados: bytes = b"pesos", idade_s: float = 60) -> Path:
    caminho.parent.mkdir(parents=True, exist_ok=True)
    caminho.write_bytes(dados)
    antigo = time.time() - idade_s  # settled: older than any quiet period
    os.utime(caminho, (antigo, antigo))
    return caminho


@pytest.fixture
def arvore(tmp_path: Path) -> Path:
    m = tmp_path / "modelos"
    criar(m / "rede.h5")
    criar(m / "sub" / "profunda" / "floresta.pkl")
    criar(m / "notas.md")
    criar(m / "temp_rede.h5")
    criar(m / "rede.h5.tmp")
    criar(m / "sub" / "treino.pth.tmp")
    # A SavedModel folder is one model, its files (even a .pb) are not.
    criar(m / "exportado" / "saved_model.pb")
    criar(m / "exportado" / "fingerprint.pb")
    criar(m / "exportado" / "variables" / "variables.index")
    criar(m / "exportado" / "variables" / "variables.data-00000-of-00001")
    # The repository inside the monitored folder is never swept.
    criar(m / "repo" / "objetos" / "ab" / "abcdef.h5")
    criar(m / "repo" / "modelos" / "rede.h5" / "1.0.0.pkl")
    os.symlink(m / "rede.h5", m / "atalho.h5")
    return m


def varredura(pasta: Path, cache_dir: Path, silencio: float = 0.5) -> Varredura:
    filtro = FiltroModelos(EXTENSOES, IGNORAR, [pasta / "repo"])
    return Varredura(
        [pasta], filtro, CacheVarredura(cache_dir / "cache.json"), silencio
    )


def test_encontra_modelos_e_ignora_o_resto(arvore: Path, tmp_path: Path) -> None:
    v = varredura(arvore, tmp_path)
    assert list(v.modelos()) == [
        arvore / "rede.h5",
        arvore / "exportado",
        arvore / "sub" / "profunda" / "floresta.pkl",
    ]


def test_pasta_monitorada_inexistente_e_aviso(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    v = varredura(tmp_path / "nao_existe", tmp_path)
    with caplog.at_level(logging.WARNING, logger="SistemaBackup"):
        assert v.executar().alterados == []
    assert "Diretório monitorado não encontrado" in caplog.text


def test_repositorio_como_pasta_monitorada_nao_e_varrido(
    arvore: Path, tmp_path: Path
) -> None:
    filtro = FiltroModelos(EXTENSOES, IGNORAR, [arvore / "repo"])
    v = Varredura(
        [arvore / "repo" / "objetos"], filtro, CacheVarredura(tmp_path / "c.json")
    )
    assert list(v.modelos()) == []


def test_so_o_que_mudou_desde_o_ultimo_backup(arvore: Path, tmp_path: Path) -> None:
    v = varredura(arvore, tmp_path)
    primeira = v.executar()
    assert len(primeira.alterados) == 3 and primeira.adiados == []
    for caminho in primeira.alterados:  # as the queue does after each backup
        a = assinatura(caminho)
        assert a is not None
        v.cache.registrar(caminho, a)
    assert v.executar().alterados == []

    criar(arvore / "rede.h5", b"pesos novos", idade_s=30)  # size and mtime change
    novo = arvore / "sub" / "profunda" / "floresta.pkl"
    criar(novo.with_suffix(".novo"), b"pesos", idade_s=60)
    os.replace(novo.with_suffix(".novo"), novo)  # same size and age, new inode
    criar(arvore / "exportado" / "variables" / "variables.index", b"indice novo")
    assert sorted(v.executar().alterados) == sorted(
        [arvore / "rede.h5", novo, arvore / "exportado"]
    )


def test_cache_persistido_e_recarregado(arvore: Path, tmp_path: Path) -> None:
    v = varredura(arvore, tmp_path)
    for caminho in v.executar().alterados:
        a = assinatura(caminho)
        assert a is not None
        v.cache.registrar(caminho, a)
    v.cache.salvar()
    dados = json.loads((tmp_path / "cache.json").read_text())
    assert dados["versao"] == 1
    assert str(arvore / "rede.h5") in dados["entradas"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert varredura(arvore, tmp_path).executar().alterados == []


def test_cache_ilegivel_recomeca_vazio(
    arvore: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "cache.json").write_text("{ quebrado")
    with caplog.at_level(logging.WARNING, logger="SistemaBackup"):
        v = varredura(arvore, tmp_path)
    assert "Cache de varredura ilegível" in caplog.text
    assert len(v.executar().alterados) == 3


def test_cache_esquece_o_que_sumiu(arvore: Path, tmp_path: Path) -> None:
    cache = CacheVarredura(tmp_path / "c.json")
    for nome in ("rede.h5", "notas.md"):
        a = assinatura(arvore / nome)
        assert a is not None
        cache.registrar(arvore / nome, a)
    (arvore / "notas.md").unlink()
    assert cache.podar() == 1 and len(cache) == 1


def test_arquivo_recente_e_adiado(tmp_path: Path) -> None:
    m = tmp_path / "m"
    criar(m / "antigo.h5")
    criar(m / "salvando.h5", idade_s=0)
    criar(m / "vazio.h5", b"")
    v = varredura(m, tmp_path, silencio=5)
    r = v.executar()
    assert r.alterados == [m / "antigo.h5"]
    assert r.adiados == [m / "salvando.h5"]  # the empty file is not a model yet


def test_parada_interrompe_a_varredura(arvore: Path, tmp_path: Path) -> None:
    parar = threading.Event()
    parar.set()
    r = varredura(arvore, tmp_path).executar(parar)
    assert r.interrompida and r.alterados == []


@pytest.fixture
def auditoria_open() -> Iterator[list[str]]:
    """Paths opened by this process while the list is being recorded."""
    abertos: list[str] = []
    ativo = threading.Event()

    def gancho(evento: str, args: tuple[object, ...]) -> None:
        if ativo.is_set() and evento == "open" and isinstance(args[0], (str, bytes)):
            abertos.append(os.fsdecode(args[0]))

    sys.addaudithook(gancho)  # hooks cannot be removed: this one goes quiet instead
    ativo.set()
    yield abertos
    ativo.clear()


def test_arquivo_grande_inalterado_nao_e_lido(
    tmp_path: Path, auditoria_open: list[str]
) -> None:
    m = tmp_path / "m"
    m.mkdir()
    grande = m / "checkpoint.pth"
    with open(grande, "wb") as f:
        f.truncate(5 * 1024**3)  # 5 GiB, sparse
    antigo = time.time() - 60
    os.utime(grande, (antigo, antigo))
    v = varredura(m, tmp_path)
    a = assinatura(grande)
    assert a is not None
    v.cache.registrar(grande, a)
    auditoria_open.clear()
    inicio = time.monotonic()
    assert v.executar().alterados == []
    assert time.monotonic() - inicio < 1.0
    assert str(grande) not in auditoria_open
    with open(grande, "rb"):  # the hook does see a read of it
        pass
    assert str(grande) in auditoria_open
