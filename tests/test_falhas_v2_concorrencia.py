"""Other processes at the same time: a cache held locked, three creators of one
new repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from backup_versionamento import GerenciadorBackupVersionamento

from .ajuda_falhas import CFG, conferir, sem_temporarios, sem_traceback
from .conftest import RAIZ, aleatorio, cli, escrever

_SEGURAR = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
c.execute("INSERT INTO marca VALUES ('segurado')")
print("travado", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")
"""


def _segurar(arquivo: Path, segundos: float) -> subprocess.Popen[str]:
    """Another process holding `arquivo` with BEGIN EXCLUSIVE for `segundos`."""
    p = subprocess.Popen(
        [sys.executable, "-c", _SEGURAR, str(arquivo), str(segundos)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "travado"
    return p


def _marcar(arquivo: Path) -> int:
    """Add a marker table to a cache; return the file's inode."""
    import sqlite3

    c = sqlite3.connect(arquivo, isolation_level=None)
    c.execute("CREATE TABLE marca (x TEXT)")
    c.execute("INSERT INTO marca VALUES ('antes')")
    c.close()
    return os.stat(arquivo).st_ino


def _marcas(arquivo: Path) -> list[str]:
    import sqlite3

    c = sqlite3.connect(arquivo, isolation_level=None)
    try:
        return [r[0] for r in c.execute("SELECT x FROM marca ORDER BY rowid")]
    finally:
        c.close()


def test_cache_travado_por_outro_processo_e_esperado(tmp_path: Path) -> None:
    base = tmp_path / "repo"
    m = tmp_path / "src" / "m.bin"
    with GerenciadorBackupVersionamento(base, CFG) as g:
        escrever(m, aleatorio(300_000, 1))
        g.criar_backup(m, "patch")
        estado = g.repo.pasta_estado
    versoes, blocos = estado / "versoes.sqlite", estado / "blocos.sqlite"
    inodes = {arq: _marcar(arq) for arq in (versoes, blocos)}
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(CFG))
    # Another machine adds a version: this machine's listar must write it.
    escrever(m, aleatorio(300_000, 2))
    r = cli(
        "backup",
        "--modelo",
        str(m),
        "--base",
        str(base),
        "--config",
        str(config),
        env={"XDG_CACHE_HOME": str(tmp_path / "outra-maquina")},
    )
    assert r.returncode == 0, r.stdout + r.stderr

    segurador = _segurar(versoes, 2.0)
    inicio = time.monotonic()
    r = cli(
        "listar",
        "--modelo",
        "m.bin",
        "--json",
        "--base",
        str(base),
        "--config",
        str(config),
    )
    esperou = time.monotonic() - inicio
    segurador.wait(timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    sem_traceback(r)
    assert [v["versao"] for v in json.loads(r.stdout)] == ["1.0.0", "1.0.1"]
    assert esperou >= 1.5, f"listar não esperou a trava ({esperou:.2f}s)"

    # A backup while the chunk index is held: it waits too.
    segurador = _segurar(blocos, 2.0)
    escrever(m, aleatorio(300_000, 3))
    r = cli("backup", "--modelo", str(m), "--base", str(base), "--config", str(config))
    segurador.wait(timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    sem_traceback(r)

    for arq, inode in inodes.items():
        assert os.stat(arq).st_ino == inode, f"{arq.name} foi recriado"
        assert _marcas(arq) == ["antes", "segurado"], arq.name


_CRIADOR = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {raiz!r})
from tests import ajuda_cifra; ajuda_cifra.aplicar()
from backup_versionamento import GerenciadorBackupVersionamento
largada = Path({largada!r})
while not largada.exists():
    time.sleep(0.001)
with GerenciadorBackupVersionamento({base!r}, json.loads({cfg!r})) as g:
    v = g.criar_backup({arquivo!r}, "patch", nome_modelo="m.bin")
    print(json.dumps({{"id": g.repo.id, "versao": v}}), flush=True)
"""


def test_tres_processos_criam_o_mesmo_repositorio(tmp_path: Path) -> None:
    base = tmp_path / "repo"
    largada = tmp_path / "largada"
    conteudos = {}
    processos = []
    for i in range(3):
        dados = aleatorio(200_000, i)
        arquivo = escrever(tmp_path / "src" / f"m{i}.bin", dados)
        conteudos[dados] = arquivo
        codigo = _CRIADOR.format(
            raiz=str(RAIZ),
            largada=str(largada),
            base=str(base),
            cfg=json.dumps(CFG),
            arquivo=str(arquivo),
        )
        processos.append(
            subprocess.Popen(
                [sys.executable, "-c", codigo],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    time.sleep(0.5)  # all three import and wait at the line
    largada.touch()
    saidas = []
    for p in processos:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        saidas.append(json.loads(out))
    ids = {s["id"] for s in saidas}
    assert len(ids) == 1, ids
    cabecalho = json.loads((base / "repositorio.json").read_text())
    assert cabecalho["id"] in ids
    assert sorted(s["versao"] for s in saidas) == ["1.0.0", "1.0.1", "1.0.2"]
    sem_temporarios(base)
    with GerenciadorBackupVersionamento(base, CFG) as g:
        esperado = {
            ("m.bin", v["versao"]): next(d for d in conteudos if _sha(d) == v["sha256"])
            for v in g.listar_versoes("m.bin")
        }
        conferir(base, CFG, esperado, tmp_path / "r", g=g)
    assert len(set(esperado.values())) == 3


def _sha(dados: bytes) -> str:
    import hashlib

    return hashlib.sha256(dados).hexdigest()
