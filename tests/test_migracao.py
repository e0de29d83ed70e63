"""`migrar`: a format 1 repository written by the real format 1 code becomes
format 2 in place, keeps every version's data, and survives a kill at any step.

The repository comes from tests/dados/repositorio_v1.tar.gz (see the README
there): `repositorio_v1/` as format 1 left it, `originais/` with the exact bytes
of every version and `esperado.json` with their descriptions, metrics, pins and
validation reports.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.backends import (
    BackendComFalhas,
    BackendLocal,
    Partes,
)
from backup_versionamento.armazenamento.backends.base import como_vistas
from backup_versionamento.armazenamento.migracao import migrar_repositorio
from backup_versionamento.config import de_dicionario
from backup_versionamento.erros import (
    ErroIntegridade,
    ErroPermissao,
    ErroRepositorio,
    ErroTrava,
)

from .conftest import RAIZ, arvore_arquivos, cli

TARBALL = Path(__file__).resolve().parent / "dados" / "repositorio_v1.tar.gz"
POR_MAQUINA_V1 = ["indice.sqlite", "daemon.pid", "daemon_estado.json"]

# Runs migrar in a child whose backend SIGKILLs the process at the n-th write
# (or delete) of a key starting with a prefix: a real crash at a chosen step.
_FILHO = """
import os, signal, sys
sys.path.insert(0, {raiz!r})
from pathlib import Path
from backup_versionamento.armazenamento.backends import BackendComFalhas, BackendLocal
from backup_versionamento.armazenamento.migracao import migrar_repositorio
from backup_versionamento.config import de_dicionario

base, operacao, prefixo, n = {base!r}, {operacao!r}, {prefixo!r}, {n!r}
vistos = [0]

def talvez_morrer(chave):
    if chave.startswith(prefixo):
        vistos[0] += 1
        if vistos[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)

class BackendQueMorre(BackendComFalhas):
    def apagar(self, chave):
        if operacao == "apagar":
            talvez_morrer(chave)
        super().apagar(chave)

b = BackendQueMorre(BackendLocal(Path(base)))
if operacao == "gravar":
    b.antes_de_gravar(talvez_morrer)
migrar_repositorio(de_dicionario({{}}, base), backend=b, lote_bytes=150_000)
print("terminou sem morrer")
"""


@pytest.fixture
def v1(tmp_path: Path) -> Path:
    """The extracted tarball: tmp/repositorio_v1 and tmp/originais."""
    with tarfile.open(TARBALL) as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path


def _esperado(v1: Path) -> dict[str, Any]:
    return json.loads((v1 / "originais" / "esperado.json").read_text())


def _cabecalho(base: Path) -> dict[str, Any]:
    return json.loads((base / "repositorio.json").read_text())


def _conferir_restauracao(v1: Path, g: GerenciadorBackupVersionamento) -> None:
    """Every version restores byte-exact: the originals and the recorded sha256."""
    esperado = _esperado(v1)
    raiz = Path(tempfile.mkdtemp(dir=v1, prefix="restaurado"))
    for modelo, versoes in esperado.items():
        for versao, info in versoes.items():
            destino = Path(g.restaurar_backup(modelo, versao, raiz / modelo / versao))
            assert destino == raiz / modelo / versao / modelo
            original = v1 / "originais" / modelo / versao / modelo
            if original.is_dir():
                assert arvore_arquivos(destino) == arvore_arquivos(original)
                assert (destino / "assets").is_dir()  # empty folder kept
            else:
                assert destino.read_bytes() == original.read_bytes()
                assert sha256(destino.read_bytes()).hexdigest() == info["sha256"]
            assert g.obter_versao(modelo, versao)["sha256"] == info["sha256"]


def _conferir_metadados(v1: Path, g: GerenciadorBackupVersionamento) -> None:
    esperado = _esperado(v1)
    assert sorted(g.listar_modelos()) == sorted(esperado)
    for modelo, versoes in esperado.items():
        lista = {v["versao"]: v for v in g.listar_versoes(modelo)}
        assert sorted(lista) == sorted(versoes)
        for versao, info in versoes.items():
            v = lista[versao]
            assert v["descricao"] == info["descricao"]
            assert v["metricas"] == info["metricas"]
            assert v["validacao"] == info["validacao"]
            assert bool(v.get("fixada")) == info["fixada"], (modelo, versao)
    assert any(i["fixada"] for vs in esperado.values() for i in vs.values())


def _conferir_migrado(v1: Path) -> None:
    """The end state: format 2, old files gone, every version intact."""
    base = v1 / "repositorio_v1"
    cab = _cabecalho(base)
    assert cab["formato"] == 2 and cab["migrado_de"] == 1
    assert "migracao_pendente" not in cab
    assert not (base / "objetos").exists()
    assert not (base / "travas").exists()
    for nome in POR_MAQUINA_V1:
        assert not (base / nome).exists(), nome
    for sidecar in (base / "modelos").glob("*/*.json"):
        assert json.loads(sidecar.read_bytes())["esquema"] == 2, sidecar
    with GerenciadorBackupVersionamento(base, {}) as g:
        _conferir_metadados(v1, g)
        _conferir_restauracao(v1, g)
        rel = g.verificar_integridade(completa=True)
        assert rel["ok"], rel["problemas"]


def test_migrar_repositorio_do_formato_1(v1: Path) -> None:
    base = v1 / "repositorio_v1"
    for comando in (["listar"], ["backup", "--modelo", str(v1 / "originais")]):
        r = cli(*comando, "--base", str(base))
        assert r.returncode == 8, r.stderr
        assert "formato 1" in r.stderr and "migrar" in r.stderr
    assert _cabecalho(base)["formato"] == 1

    r = cli("migrar", "--base", str(base), "--json")
    assert r.returncode == 0, r.stderr
    rel = json.loads(r.stdout)
    n_objetos = 11
    assert rel["objetos_migrados"] == n_objetos
    assert rel["versoes_convertidas"] == 8
    assert rel["pacotes_criados"] >= 1
    assert rel["objetos_corrompidos"] == [] and rel["versoes_danificadas"] == []
    assert rel["bytes_antes"] > 800_000 and rel["bytes_depois"] > 0
    assert rel["objetos_antigos_apagados"] == n_objetos
    assert "indice.sqlite" in rel["arquivos_antigos_apagados"]
    assert "Migração concluída" in (base / "logs" / "backup_system.log").read_text()
    _conferir_migrado(v1)

    r = cli("verificar", "--completa", "--base", str(base), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["versoes_verificadas"] == 8

    # A new backup dedups against the migrated chunks: nothing new is stored.
    pacotes = sorted(p.name for p in (base / "pacotes").rglob("*") if p.is_file())
    with GerenciadorBackupVersionamento(base, {}) as g:
        antigo = v1 / "originais" / "pesos.bin" / "1.0.0" / "pesos.bin"
        r2 = g.criar_backup(antigo, "patch", "de volta ao 1.0.0")
        assert r2.versao == "1.1.1" and r2.nova_versao
        assert g.obter_versao("pesos.bin", "1.1.1")["tamanho_armazenado"] == 0
        dest = g.restaurar_backup("pesos.bin", "1.1.1", v1 / "novo.bin")
        assert Path(dest).read_bytes() == antigo.read_bytes()
    depois = sorted(p.name for p in (base / "pacotes").rglob("*") if p.is_file())
    assert depois == pacotes

    r = cli("migrar", "--base", str(base))
    assert r.returncode == 0, r.stderr
    assert "já está no formato 2" in r.stdout


# (operation, key prefix, n-th): where the child is killed.
ETAPAS = {
    "apos_primeiro_pacote": ("gravar", "indices/", 1),
    "meio_da_etapa_a": ("gravar", "pacotes/", 4),
    "cabecalho_da_virada": ("gravar", "repositorio.json", 1),
    "meio_dos_metadados": ("gravar", "modelos/", 3),
    "meio_da_remocao": ("apagar", "objetos/", 5),
    "cabecalho_final": ("gravar", "repositorio.json", 2),
}


@pytest.mark.parametrize("etapa", list(ETAPAS))
def test_migracao_morta_no_meio_e_retomada(v1: Path, etapa: str) -> None:
    base = v1 / "repositorio_v1"
    antes = {
        k: v
        for k, v in arvore_arquivos(base).items()
        if k.startswith(("objetos/", "modelos/"))
    }
    operacao, prefixo, n = ETAPAS[etapa]
    codigo = _FILHO.format(
        raiz=str(RAIZ), base=str(base), operacao=operacao, prefixo=prefixo, n=n
    )
    p = subprocess.run(
        [sys.executable, "-c", codigo], capture_output=True, text=True, timeout=60
    )
    assert p.returncode == -9, (p.returncode, p.stdout, p.stderr)

    cab = _cabecalho(base)
    if etapa in ("apos_primeiro_pacote", "meio_da_etapa_a", "cabecalho_da_virada"):
        # Before the commit point: still format 1, old data untouched.
        assert cab["formato"] == 1
        depois = {
            k: v
            for k, v in arvore_arquivos(base).items()
            if k.startswith(("objetos/", "modelos/"))
        }
        assert depois == antes
        for nome in POR_MAQUINA_V1:
            assert (base / nome).exists()
        assert any((base / "pacotes").rglob("*"))
        r = cli("listar", "--base", str(base))
        assert r.returncode == 8 and "migrar" in r.stderr
    else:
        # After it: format 2 (pending), opens and restores every version.
        assert cab["formato"] == 2 and cab["migracao_pendente"] is True
        with GerenciadorBackupVersionamento(base, {}) as g:
            _conferir_restauracao(v1, g)
        if etapa == "meio_dos_metadados":
            esquemas = [
                json.loads(s.read_bytes())["esquema"]
                for s in (base / "modelos").glob("*/*.json")
            ]
            assert sorted(esquemas) == [1] * 6 + [2] * 2
    rel = migrar_repositorio(de_dicionario({}, base))
    assert not rel["ja_migrado"]
    assert rel["retomada"] == (cab["formato"] == 2)
    if etapa in ("apos_primeiro_pacote", "meio_da_etapa_a"):
        # Finished batches, and packs left without a fragment, are not redone.
        assert 0 < rel["objetos_ja_migrados"] < 11
    elif etapa == "cabecalho_da_virada":
        assert rel["objetos_ja_migrados"] == 11 and rel["pacotes_criados"] == 0
    _conferir_migrado(v1)


def test_objeto_corrompido_no_formato_1_e_relatado_e_pulado(v1: Path) -> None:
    base = v1 / "repositorio_v1"
    sidecars = {
        p.stem: json.loads(p.read_bytes())
        for p in (base / "modelos" / "pesos.bin").glob("*.json")
    }
    outros = {
        b[0]
        for v, sc in sidecars.items()
        if v != "1.0.1"
        for e in sc["entradas"]
        for b in e["blocos"]
    }
    so_dela = next(
        b[0]
        for e in sidecars["1.0.1"]["entradas"]
        for b in e["blocos"]
        if b[0] not in outros
    )
    objeto = base / "objetos" / so_dela[:2] / so_dela
    dados = bytearray(objeto.read_bytes())
    dados[len(dados) // 2] ^= 0xFF
    objeto.write_bytes(bytes(dados))
    temporario = objeto.with_name(f"{so_dela}.4242.777.tmp")  # a killed v1 write
    temporario.write_bytes(b"parcial")

    passos: dict[str, list[tuple[int, int]]] = {}
    rel = migrar_repositorio(
        de_dicionario({}, base),
        lambda etapa, n, total: passos.setdefault(etapa, []).append((n, total)),
    )
    assert list(passos) == ["migrando", "conferindo", "convertendo", "apagando"]
    for etapa, chamadas in passos.items():
        assert sum(n for n, _ in chamadas) <= chamadas[0][1], etapa
    assert sum(n for n, _ in passos["migrando"]) == passos["migrando"][0][1]
    assert len(passos["convertendo"]) == 8 and len(passos["apagando"]) == 12
    assert [o["objeto"] for o in rel["objetos_corrompidos"]] == [so_dela]
    assert rel["objetos_corrompidos"][0]["versoes"] == ["pesos.bin 1.0.1"]
    assert rel["versoes_danificadas"] == ["pesos.bin 1.0.1"]
    assert rel["objetos_migrados"] == 10
    assert not (base / "objetos").exists()  # the temp file went too
    assert "migracao_pendente" not in _cabecalho(base)
    with GerenciadorBackupVersionamento(base, {}) as g:
        verif = g.verificar_integridade()
        assert verif["versoes_com_problema"] == ["pesos.bin 1.0.1"]
        original = v1 / "originais" / "pesos.bin" / "1.0.0" / "pesos.bin"
        dest = g.restaurar_backup("pesos.bin", "1.0.0", v1 / "r.bin")
        assert Path(dest).read_bytes() == original.read_bytes()


class _PrimeiroPacoteEstragado(BackendComFalhas):
    """Silently flips one byte of the first pack written (bad disk, bad RAM)."""

    estragado: str | None = None

    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        if chave.startswith("pacotes/") and self.estragado is None:
            self.estragado = chave
            dados = bytearray(b"".join(como_vistas(partes)))
            dados[100] ^= 0xFF
            partes = bytes(dados)
        return super().gravar(chave, partes, exclusivo=exclusivo)


def test_pacote_novo_com_defeito_nada_e_apagado_e_a_nova_execucao_termina(
    v1: Path,
) -> None:
    base = v1 / "repositorio_v1"
    antes = arvore_arquivos(base / "objetos")
    b = _PrimeiroPacoteEstragado(BackendLocal(base))
    with pytest.raises(ErroIntegridade, match="não conferem nos pacotes novos"):
        migrar_repositorio(de_dicionario({}, base), backend=b)
    assert _cabecalho(base)["formato"] == 1
    assert arvore_arquivos(base / "objetos") == antes
    assert b.estragado is not None and not (base / b.estragado).exists()
    assert not list((base / "indices").iterdir())
    rel = migrar_repositorio(de_dicionario({}, base))
    # Only the dropped pack's chunks are migrated again (this small repository's
    # chunks fit in one pack, so that is all of them), none twice.
    assert 0 < rel["objetos_migrados"] <= len(antes)
    _conferir_migrado(v1)


def test_recusa_daemon_antigo_somente_leitura_e_sem_repositorio(v1: Path) -> None:
    base = v1 / "repositorio_v1"
    fd = os.open(base / "daemon.pid", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(ErroTrava, match="daemon da versão anterior"):
            migrar_repositorio(de_dicionario({}, base))
    finally:
        os.close(fd)
    assert _cabecalho(base)["formato"] == 1
    assert not (base / "pacotes").exists()
    so_leitura = BackendLocal(base, somente_leitura=True)
    with pytest.raises(ErroPermissao, match="somente leitura"):
        migrar_repositorio(de_dicionario({}, base), backend=so_leitura)
    with pytest.raises(ErroRepositorio, match="não encontrado"):
        migrar_repositorio(de_dicionario({}, v1 / "vazio"))
    assert not (v1 / "vazio").exists()


def test_sem_espaco_para_os_pacotes_recusa_antes_de_gravar(v1: Path) -> None:
    """A real small tmpfs: old objects and new packs must fit at once."""
    ponto = v1 / "disco"
    ponto.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1400k", "tmpfs", str(ponto)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, f"mount tmpfs falhou (precisa de root): {r.stderr}"
    try:
        base = ponto / "repositorio_v1"
        shutil.copytree(v1 / "repositorio_v1", base)
        objetos = sum(p.stat().st_size for p in (base / "objetos").rglob("*"))
        assert shutil.disk_usage(ponto).free < objetos  # the premise
        r2 = cli("migrar", "--base", str(base))
        assert r2.returncode == 10, r2.stderr
        assert "espaço insuficiente para migrar" in r2.stderr
        assert _cabecalho(base)["formato"] == 1
        assert not (base / "pacotes").exists()
    finally:
        subprocess.run(["umount", "-l", str(ponto)], check=True)
