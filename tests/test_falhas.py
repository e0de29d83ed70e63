"""Crashes, concurrent writers, full disks and bad input: nothing stored is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroEspacoInsuficiente, ErroPermissao

from .conftest import RAIZ, aleatorio, arvore_arquivos, cli, escrever

MiB = 1024 * 1024

_FILHO_BACKUP = """
import sys
sys.path.insert(0, {raiz!r})
from backup_versionamento import GerenciadorBackupVersionamento
g = GerenciadorBackupVersionamento({repo!r}, {{}})
r = g.criar_backup({arquivo!r}, {tipo!r})
print(r.versao, "nova" if r.nova_versao else "existente", flush=True)
"""


def _filho(repo: Path, arquivo: Path, tipo: str = "retreino") -> subprocess.Popen[str]:
    codigo = _FILHO_BACKUP.format(
        raiz=str(RAIZ), repo=str(repo), arquivo=str(arquivo), tipo=tipo
    )
    return subprocess.Popen(
        [sys.executable, "-c", codigo],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _grande(caminho: Path, mib: int, semente: int) -> bytes:
    import numpy as np

    dados = (
        np.random.default_rng(semente)
        .standard_normal(mib * MiB // 4, dtype=np.float32)
        .tobytes()
    )
    escrever(caminho, dados)
    return dados


def test_sigkill_no_meio_do_backup(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    m = tmp_path / "modelo.h5"
    with GerenciadorBackupVersionamento(repo, {}) as g:
        escrever(m, b"versao um" * 1000)
        assert g.criar_backup(m, "melhoria") == "1.0.0"
    grande = _grande(m, 160, 1)
    mortos = 0
    for atraso in (0.3, 0.6, 0.9):
        p = _filho(repo, m)
        time.sleep(atraso)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            mortos += 1
        p.communicate()
        with GerenciadorBackupVersionamento(repo, {}) as g:
            rel = g.verificar_integridade()
            assert rel["ok"], rel["problemas"]
            versoes = [v["versao"] for v in g.listar_versoes("modelo.h5")]
            assert versoes[0] == "1.0.0"
            dest = g.restaurar_backup("modelo.h5", "1.0.0", tmp_path / f"r{atraso}")
            assert Path(dest).read_bytes() == b"versao um" * 1000
    assert mortos >= 1, "o filho terminou antes de ser morto: aumente o arquivo"
    with GerenciadorBackupVersionamento(repo, {}) as g:
        versao = g.criar_backup(m, "retreino")
        assert versao in ("1.1.0", "1.2.0", "1.3.0", "1.4.0")
        dest = g.restaurar_backup("modelo.h5", versao, tmp_path / "final")
        assert Path(dest).read_bytes() == grande
        assert g.verificar_integridade(completa=True)["ok"]


def test_dois_processos_mesmo_modelo(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    GerenciadorBackupVersionamento(repo, {}).fechar()
    a = escrever(tmp_path / "a" / "m.pkl", aleatorio(3 * MiB, 1))
    b = escrever(tmp_path / "b" / "m.pkl", aleatorio(3 * MiB, 2))
    for _ in range(3):
        procs = [_filho(repo, a), _filho(repo, b)]
        saidas = [p.communicate()[0].split()[0] for p in procs]
        assert all(p.returncode == 0 for p in procs)
        assert len(set(saidas)) == 2, saidas  # two distinct versions
        a, b = b, a
    with GerenciadorBackupVersionamento(repo, {}) as g:
        versoes = g.listar_versoes("m.pkl")
        # Each round: two distinct versions, or one dedup hit against the latest.
        assert 2 <= len(versoes) <= 6
        assert len({v["versao"] for v in versoes}) == len(versoes)
        assert g.verificar_integridade(completa=True)["ok"]
        conteudos = {aleatorio(3 * MiB, 1), aleatorio(3 * MiB, 2)}
        for v in versoes:
            dest = g.restaurar_backup("m.pkl", v["versao"], tmp_path / v["versao"])
            assert Path(dest).read_bytes() in conteudos


def test_dois_processos_mesmo_conteudo(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    GerenciadorBackupVersionamento(repo, {}).fechar()
    m = escrever(tmp_path / "m.pkl", aleatorio(4 * MiB, 3))
    procs = [_filho(repo, m) for _ in range(3)]
    saidas = sorted(p.communicate()[0].strip() for p in procs)
    # One version; exactly one caller says it created it, the others were hits.
    assert saidas == ["1.0.0 existente", "1.0.0 existente", "1.0.0 nova"]
    with GerenciadorBackupVersionamento(repo, {}) as g:
        assert [v["versao"] for v in g.listar_versoes("m.pkl")] == ["1.0.0"]


@pytest.fixture
def disco_pequeno(tmp_path: Path):
    """A real 24 MiB tmpfs: writes past it fail with ENOSPC."""
    ponto = tmp_path / "disco"
    ponto.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(ponto)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, f"mount tmpfs falhou (precisa de root): {r.stderr}"
    yield ponto
    subprocess.run(["umount", "-l", str(ponto)], check=True)


def test_disco_cheio_nao_perde_nada(tmp_path: Path, disco_pequeno: Path) -> None:
    repo = disco_pequeno / "repo"
    cfg = {"espaco_disco": {"aviso_mb": 20, "reserva_mb": 0}}
    m = tmp_path / "m.h5"
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        pequeno = aleatorio(5 * MiB, 1)
        escrever(m, pequeno)
        assert g.criar_backup(m, "melhoria") == "1.0.0"
        escrever(m, aleatorio(30 * MiB, 2))
        # First version of a model bigger than the free space: refused up front.
        with pytest.raises(ErroEspacoInsuficiente):
            g.criar_backup(m, "retreino", nome_modelo="novo.h5")
        # A new version of a known model is attempted and fails on ENOSPC.
        with pytest.raises(
            ErroEspacoInsuficiente, match="espaço em disco insuficiente"
        ):
            g.criar_backup(m, "retreino")
        assert [v["versao"] for v in g.listar_versoes("m.h5")] == ["1.0.0"]
        assert g.verificar_integridade(completa=True)["ok"]
        dest = g.restaurar_backup("m.h5", "1.0.0", tmp_path / "r")
        assert Path(dest).read_bytes() == pequeno
        assert not list(repo.rglob("*.tmp"))  # no temp file left behind
    log = (repo / "logs" / "backup_system.log").read_text()
    assert "WARNING - Espaço em disco baixo" in log


def test_arquivo_sem_permissao_de_leitura(tmp_path: Path) -> None:
    # Root reads everything: drop to 'nobody' in a forked child to test for real.
    pasta = Path(tempfile.mkdtemp(prefix="bv_perm_"))
    try:
        os.chmod(pasta, 0o777)
        m = escrever(pasta / "segredo.h5", b"x" * 100)
        os.chmod(m, 0o000)
        repo = pasta / "repo"
        pid = os.fork()
        if pid == 0:  # child
            codigo = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                os.environ["XDG_CACHE_HOME"] = str(pasta / "cache")
                try:
                    GerenciadorBackupVersionamento(repo, {}).criar_backup(m, "patch")
                except ErroPermissao as e:
                    codigo = e.codigo_saida if "segredo.h5" in str(e) else 2
            finally:
                os._exit(codigo)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 5
        assert not list(repo.glob("modelos/*"))
    finally:
        subprocess.run(["rm", "-rf", str(pasta)], check=True)


def test_subpasta_sem_permissao_num_modelo_pasta_e_erro(tmp_path: Path) -> None:
    """A folder model with an unreadable subfolder: an error naming it, nothing
    stored (its files were silently dropped before: issue 12, item 1)."""
    pasta = Path(tempfile.mkdtemp(prefix="bv_perm_"))
    try:
        os.chmod(pasta, 0o777)
        pm = pasta / "pm"
        escrever(pm / "saved_model.pb", b"grafo" * 100)
        escrever(pm / "segredo" / "pesos.bin", b"w" * 1000)
        for p in (pm, pm / "saved_model.pb"):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(pm / "segredo", 0o000)
        repo = pasta / "repo"
        pid = os.fork()
        if pid == 0:  # child, as 'nobody': root would read everything
            codigo = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                os.environ["XDG_CACHE_HOME"] = str(pasta / "cache")
                cfg = {"validacao": {"modo": "desligado"}}
                try:
                    GerenciadorBackupVersionamento(repo, cfg).criar_backup(pm, "patch")
                    codigo = 0
                except ErroPermissao as e:
                    codigo = e.codigo_saida if "segredo" in str(e) else 2
            finally:
                os._exit(codigo)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 5
        assert not list(repo.glob("modelos/*"))
    finally:
        subprocess.run(["chmod", "-R", "u+rwx", str(pasta)], check=False)
        subprocess.run(["rm", "-rf", str(pasta)], check=True)


def test_cli_entradas_ruins(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    m = escrever(tmp_path / "m.pkl", b"abc")
    r = cli("backup", "--base", str(repo), "--modelo", str(tmp_path / "nao.pkl"))
    assert r.returncode == 4 and "arquivo não encontrado" in r.stderr
    assert not repo.exists()  # nothing written, not even the repository
    r = cli("backup", "--base", str(repo), "--modelo", str(m), "--tipo-mudanca", "xyz")
    assert r.returncode == 7 and "tipo de mudança desconhecido" in r.stderr
    assert not repo.exists()
    metricas = escrever(tmp_path / "met.json", b"{ruim")
    r = cli(
        "backup", "--base", str(repo), "--modelo", str(m), "--metricas", str(metricas)
    )
    assert r.returncode == 12 and "met.json" in r.stderr
    r = cli("listar", "--base", str(repo))
    assert r.returncode == 8 and "repositório não encontrado" in r.stderr
    assert cli("backup", "--base", str(repo), "--modelo", str(m)).returncode == 0
    antes = arvore_arquivos(repo / "modelos")
    cab = json.loads((repo / "repositorio.json").read_text())
    (repo / "repositorio.json").write_text(json.dumps({**cab, "formato": 7}))
    r = cli("backup", "--base", str(repo), "--modelo", str(m), "--forcar")
    assert r.returncode == 8 and "formato de repositório 7 desconhecido" in r.stderr
    assert arvore_arquivos(repo / "modelos") == antes
    r = cli("restaurar", "--base", str(repo), "--modelo", "m.pkl")
    assert r.returncode == 8
    for r in (cli("backup"), cli("restaurar", "--versao", "1.0.0")):
        assert r.returncode == 2  # argparse usage error
        assert "Traceback" not in r.stderr and "--modelo" in r.stderr


def test_pasta_que_contem_o_repositorio_e_recusada(tmp_path: Path) -> None:
    escrever(tmp_path / "projeto" / "modelo.pkl", b"x" * 100)
    repo = tmp_path / "projeto" / "backups"
    r = cli("backup", "--base", str(repo), "--modelo", str(tmp_path / "projeto"))
    assert r.returncode == 8 and "contém o próprio repositório" in r.stderr
    assert not list(repo.glob("modelos/*"))


def test_verificar_modelo_inexistente(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    assert (
        cli(
            "backup",
            "--base",
            str(repo),
            "--modelo",
            str(escrever(tmp_path / "m.pkl", b"x")),
        ).returncode
        == 0
    )
    r = cli("verificar", "--base", str(repo), "--modelo", "nope")
    assert r.returncode == 6 and "m.pkl" in r.stderr  # names the existing models


def test_primeiro_backup_recusado_nao_deixa_repositorio(tmp_path: Path) -> None:
    """Issue 12, item 7: a first backup refused by validation or by disk space
    creates no repository; the next good backup creates it as usual."""
    ruim = escrever(tmp_path / "m.pkl", b"isto nao e um pickle" * 10)
    repo = tmp_path / "repo"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(
        json.dumps(
            {"diretorios": {"base": str(repo)}, "validacao": {"modo": "bloquear"}}
        )
    )
    r = cli("backup", "--config", str(cfg), "--modelo", str(ruim))
    assert r.returncode == 12, r.stderr
    assert not (repo / "repositorio.json").exists()
    r = cli("listar", "--config", str(cfg))
    assert r.returncode == 8 and "não encontrado" in r.stderr
    # Refused by disk space (a reserve no disk has), through the API this time.
    espaco = {"espaco_disco": {"reserva_mb": 10**9}, "validacao": {"modo": "desligado"}}
    with GerenciadorBackupVersionamento(tmp_path / "repo2", espaco) as g:
        with pytest.raises(ErroEspacoInsuficiente):
            g.criar_backup(ruim, "patch")
        assert not (tmp_path / "repo2" / "repositorio.json").exists()
        # The same manager can still back up once the problem is gone.
        g.config["espaco_disco"]["reserva_mb"] = 0
        assert g.criar_backup(ruim, "patch") == "1.0.0"
    with GerenciadorBackupVersionamento(tmp_path / "repo2", {}) as g:
        assert [v["versao"] for v in g.listar_versoes("m.pkl")] == ["1.0.0"]
        assert g.verificar_integridade(completa=True)["ok"]
