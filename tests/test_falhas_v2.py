"""SIGKILL at every stage of a backup and of a limpeza (format 2): nothing is lost.

Each test runs the operation in a child process (tests/executor_falhas.py)
that kills itself with SIGKILL when the fault-injecting backend reaches the
chosen stage, then checks that every earlier version restores byte-exact, the
repository verifies, the next backup and limpeza work, and the limpeza leaves
nothing unreferenced behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento

from .ajuda_falhas import (
    CFG_LIMPEZA,
    Esperado,
    MiB,
    auditar,
    com,
    conferir,
    envelhecer_temporarios,
    matar_em,
    repositorio_para_limpar,
    sem_temporarios,
)
from .conftest import aleatorio, escrever

# One pack writer: a pack is sealed mid-stream at 16 MiB, so "after the first
# pack" is a real moment of a running backup.
CFG_BACKUP = com(performance={"threads_backup": 1})


@pytest.mark.parametrize(
    ("etapa", "publicado"),
    [
        pytest.param("antes:pacotes/:2", False, id="apos-primeiro-pacote"),
        pytest.param("durante:pacotes/:2", False, id="no-meio-do-segundo-pacote"),
        pytest.param("antes:indices/:1", False, id="antes-do-fragmento"),
        pytest.param("antes:modelos/:1", False, id="antes-do-sidecar"),
        pytest.param("depois:modelos/:1", True, id="apos-o-sidecar"),
    ],
)
def test_sigkill_em_cada_etapa_do_backup(
    tmp_path: Path, etapa: str, publicado: bool
) -> None:
    base = tmp_path / "repo"
    m = tmp_path / "src" / "m.bin"
    esperado: Esperado = {}
    with GerenciadorBackupVersionamento(base, CFG_BACKUP) as g:
        for i in range(2):
            dados = aleatorio(300_000, i)
            escrever(m, dados)
            esperado[("m.bin", g.criar_backup(m, "patch"))] = dados
        outro = escrever(tmp_path / "src" / "n.bin", aleatorio(200_000, 9))
        esperado[("n.bin", g.criar_backup(outro, "patch"))] = outro.read_bytes()
    assert sorted(esperado) == [
        ("m.bin", "1.0.0"),
        ("m.bin", "1.0.1"),
        ("n.bin", "1.0.0"),
    ]

    grande = aleatorio(20 * MiB, 3)
    escrever(m, grande)
    matar_em(base, CFG_BACKUP, etapa, "backup", arquivo=str(m), tipo="patch")
    meio_da_escrita = envelhecer_temporarios(base) > 0
    assert meio_da_escrita is etapa.startswith("durante")
    if publicado:
        esperado[("m.bin", "1.0.2")] = grande
    conferir(base, CFG_BACKUP, esperado, tmp_path / "r1")

    with GerenciadorBackupVersionamento(base, CFG_BACKUP) as g:
        # Other content first, so what the killed backup wrote is not reused
        # (the same content would rebuild the very same packs).
        outro_grande = grande[: 5 * MiB] + aleatorio(MiB, 4)
        escrever(m, outro_grande)
        seguinte = "1.0.3" if publicado else "1.0.2"
        assert g.criar_backup(m, "patch") == seguinte
        esperado[("m.bin", seguinte)] = outro_grande
        rel = g.limpeza()
        assert rel["versoes_removidas"] == []
        # What the killed backup wrote and no version uses is freed now.
        assert (rel["pacotes_removidos"] > 0) is not publicado, rel
        assert (rel["temporarios_removidos"] > 0) is meio_da_escrita, rel
        auditar(g, rel)
        sem_temporarios(base)
        conferir(base, CFG_BACKUP, esperado, tmp_path / "r2", g=g)
        escrever(m, grande)
        r = g.criar_backup(m, "patch")
        assert r.nova_versao
        esperado[("m.bin", r.versao)] = grande
        conferir(base, CFG_BACKUP, esperado, tmp_path / "r3", g=g)
    sem_temporarios(base)


def test_limpeza_sem_falha_reempacota_e_apaga(tmp_path: Path) -> None:
    """The scenario the kills below interrupt: it repacks one pack, deletes one."""
    base = tmp_path / "repo"
    esperado = repositorio_para_limpar(base, tmp_path / "src")
    with GerenciadorBackupVersionamento(base, CFG_LIMPEZA) as g:
        rel = g.limpeza()
        assert rel["pacotes_reempacotados"] == 1, rel
        assert rel["pacotes_removidos"] == 1, rel
        assert rel["fragmentos_compactados"] == 6, rel
        assert rel["bytes_liberados"] > MiB, rel
        auditar(g, rel)
    conferir(base, CFG_LIMPEZA, esperado, tmp_path / "r")
    sem_temporarios(base)


@pytest.mark.parametrize(
    "etapa",
    [
        pytest.param("durante:pacotes/:1", id="no-meio-do-pacote-novo"),
        pytest.param("depois:pacotes/:1", id="apos-pacotes-novos"),
        pytest.param("depois:indices/:1", id="apos-fragmento-compactado"),
        pytest.param("apagar:indices/:2", id="no-meio-dos-fragmentos-antigos"),
        pytest.param("apagar:pacotes/:2", id="no-meio-dos-pacotes"),
    ],
)
def test_sigkill_em_cada_etapa_da_limpeza(tmp_path: Path, etapa: str) -> None:
    base = tmp_path / "repo"
    src = tmp_path / "src"
    esperado = repositorio_para_limpar(base, src)
    matar_em(base, CFG_LIMPEZA, etapa, "limpeza")
    meio_da_escrita = envelhecer_temporarios(base) > 0
    assert meio_da_escrita is etapa.startswith("durante")
    # Retention removed the old sidecars before the collection was killed.
    conferir(base, CFG_LIMPEZA, esperado, tmp_path / "r1")

    with GerenciadorBackupVersionamento(base, CFG_LIMPEZA) as g:
        rel = g.limpeza()
        assert rel["versoes_removidas"] == []
        assert (rel["temporarios_removidos"] > 0) is meio_da_escrita, rel
        auditar(g, rel)
        sem_temporarios(base)
        conferir(base, CFG_LIMPEZA, esperado, tmp_path / "r2", g=g)
        # The next backup and limpeza work; a.bin 1.0.1 goes by retention.
        dados = aleatorio(MiB, 30)
        escrever(src / "a.bin", dados)
        assert g.criar_backup(src / "a.bin", "patch") == "1.0.3"
        del esperado[("a.bin", "1.0.1")]
        esperado[("a.bin", "1.0.3")] = dados
        rel = g.limpeza()
        assert rel["versoes_removidas"] == ["a.bin 1.0.1"]
        auditar(g, rel)
        conferir(base, CFG_LIMPEZA, esperado, tmp_path / "r3", g=g)
    sem_temporarios(base)
