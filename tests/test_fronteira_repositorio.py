"""What the services ask the repository (issue 16, "the repository boundary").

Two `Repositorio` objects over one folder with separate state folders are two
machines: the lease of one holds back the other's collection, the collection
lock and the cleanup mark are seen by both; the repository says where it lives
(free space, the logs' folder) instead of the services asking the address.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from backup_versionamento.armazenamento.backends import BackendLocal, BackendMemoria
from backup_versionamento.armazenamento.repositorio import Repositorio
from backup_versionamento.erros import ErroTrava


@pytest.fixture
def maquinas(tmp_path: Path) -> Iterator[tuple[Repositorio, Repositorio]]:
    a = Repositorio.abrir(BackendLocal(tmp_path / "repo"), estado=str(tmp_path / "a"))
    b = Repositorio.abrir(
        BackendLocal(tmp_path / "repo"), criar=False, estado=str(tmp_path / "b")
    )
    assert a.pasta_estado != b.pasta_estado
    yield a, b
    a.fechar()
    b.fechar()


def test_concessao_de_uma_maquina_segura_a_coleta_da_outra(
    maquinas: tuple[Repositorio, Repositorio],
) -> None:
    a, b = maquinas
    marca = b.marca_limpeza()
    with a.concessao(espera_s=0) as concessao:
        assert concessao is not None and concessao.valida()
        vivas = b.concessoes()
        assert [c["pid"] for c in vivas] == [os.getpid()]
        assert not vivas[0]["expirada"]
        with pytest.raises(ErroTrava, match="backup"), b.exclusivo(0, 0):
            pytest.fail("a coleta entrou com um backup em andamento")
        assert b.trava_limpeza() is None  # the refused collection let go
    assert b.concessoes() == []
    with b.exclusivo(0, 0) as trava:
        assert trava.valida()
        dono = a.trava_limpeza()
        assert dono is not None and dono["pid"] == os.getpid()
        assert a.marca_limpeza() not in ("", marca)
    assert a.trava_limpeza() is None


def test_quebrar_trava_de_limpeza_a_pedido(
    maquinas: tuple[Repositorio, Repositorio],
) -> None:
    a, b = maquinas
    with a.exclusivo(0, 0) as trava:
        quebrada = b.quebrar_trava_limpeza()
        assert quebrada is not None and quebrada["pid"] == os.getpid()
        with pytest.raises(ErroTrava, match="removida"):
            trava.exigir_valida()  # the collection stops before deleting
    assert b.quebrar_trava_limpeza() is None
    assert b.quebrar_concessoes() == []  # none expired


def test_campo_do_cabecalho_gravado_por_outra_maquina(
    maquinas: tuple[Repositorio, Repositorio],
) -> None:
    a, b = maquinas
    cab = a.cabecalho_gravado()
    assert cab is not None and cab["id"] == a.id == b.id
    a.gravar_campo(cab, "campo_teste", {"v": 1})
    assert a.campo_cabecalho("campo_teste") == {"v": 1}
    assert b.campo_cabecalho("campo_teste") is None  # opened before
    gravado = b.cabecalho_gravado()
    assert gravado is not None and gravado["campo_teste"] == {"v": 1}
    b.adotar_campo("campo_teste", gravado["campo_teste"])
    assert b.campo_cabecalho("campo_teste") == {"v": 1}


def test_onde_o_repositorio_mora(tmp_path: Path) -> None:
    local = Repositorio.abrir(
        BackendLocal(tmp_path / "repo"), estado=str(tmp_path / "e1")
    )
    assert local.pasta_local() == tmp_path / "repo"
    assert local.pasta_logs() == tmp_path / "repo" / "logs"
    assert local.pasta_saidas() == tmp_path / "repo"
    livre = local.espaco_livre()
    assert isinstance(livre, int) and livre > 0
    so_leitura = Repositorio.abrir(
        BackendLocal(tmp_path / "repo", somente_leitura=True),
        criar=False,
        estado=str(tmp_path / "e2"),
    )
    assert so_leitura.pasta_logs() == so_leitura.pasta_estado / "logs"
    memoria = Repositorio.abrir(BackendMemoria(), estado=str(tmp_path / "e3"))
    assert memoria.pasta_local() is None and memoria.espaco_livre() is None
    assert memoria.pasta_logs() == memoria.pasta_estado / "logs"
    assert memoria.pasta_saidas() == memoria.pasta_estado
    for repo in (local, so_leitura, memoria):
        repo.fechar()
