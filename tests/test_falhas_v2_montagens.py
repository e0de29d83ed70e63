"""Real mounts: a read-only repository, a disk that fills mid-backup and
mid-limpeza, a full disk under this machine's caches. Needs root for mount(8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backup_versionamento import GerenciadorBackupVersionamento

from .ajuda_falhas import (
    CFG,
    CFG_LIMPEZA,
    MiB,
    auditar,
    conferir,
    encher,
    executar_filho,
    remontar,
    repositorio_para_limpar,
    sem_temporarios,
    sem_traceback,
    tmpfs,
)
from .conftest import aleatorio, arvore_arquivos, cli, escrever


def _config(tmp_path: Path, cfg: dict[str, Any]) -> str:
    arquivo = tmp_path / "cfg.json"
    arquivo.write_text(json.dumps(cfg))
    return str(arquivo)


def _pacotes_inteiros(base: Path, cfg: dict[str, Any]) -> None:
    """Every pack listed is whole: its trailer reads and checks."""
    with GerenciadorBackupVersionamento(base, cfg) as g:
        for info in g.backend.listar("pacotes/"):
            g.repo.objetos.ler_trailer(info.chave.rsplit("/", 1)[1], info.tamanho)


def test_repositorio_em_montagem_somente_leitura(tmp_path: Path) -> None:
    src = tmp_path / "src"
    a = aleatorio(MiB, 1)
    b = a[: MiB // 2] + aleatorio(MiB // 2, 2)
    pasta = src / "pasta_modelo"
    for i in range(3):
        escrever(pasta / f"camada{i}.bin", aleatorio(40_000, 10 + i))
    config = _config(tmp_path, CFG)
    with tmpfs(tmp_path / "ro", "64m") as ponto:
        base = ponto / "repo"
        with GerenciadorBackupVersionamento(base, CFG) as g:
            escrever(src / "m.bin", a)
            assert g.criar_backup(src / "m.bin", "patch") == "1.0.0"
            escrever(src / "m.bin", b)
            assert g.criar_backup(src / "m.bin", "patch") == "1.0.1"
            assert g.criar_backup(pasta, "patch") == "1.0.0"
        remontar(ponto, "ro")
        # Another machine: its caches are built from the read-only repository.
        env = {"XDG_CACHE_HOME": str(tmp_path / "outra-maquina")}

        def rodar(*args: str) -> str:
            r = cli(*args, "--base", str(base), "--config", config, env=env)
            assert r.returncode == 0, f"{args}: {r.stdout}\n{r.stderr}"
            sem_traceback(r)
            return r.stdout

        assert "m.bin" in rodar("listar")
        assert "1.0.1" in rodar("listar", "--modelo", "m.bin")
        status = json.loads(rodar("status", "--json"))
        assert status["versoes"] == 3
        assert "Integridade OK" in rodar("verificar", "--completa")
        rodar(
            "restaurar",
            "--modelo",
            "m.bin",
            "--versao",
            "1.0.0",
            "--destino",
            str(tmp_path / "r.bin"),
        )
        assert (tmp_path / "r.bin").read_bytes() == a
        rodar("restaurar", "--modelo", "pasta_modelo", "--destino", f"{tmp_path}/rp/")
        assert arvore_arquivos(tmp_path / "rp" / "pasta_modelo") == arvore_arquivos(
            pasta
        )
        comparacao = json.loads(
            rodar("comparar", "--modelo", "m.bin", "--de", "1.0.0", "--json")
        )
        assert comparacao["b"] == "1.0.1"

        escrever(src / "m.bin", aleatorio(MiB, 3))
        r = cli(
            "backup",
            "--modelo",
            str(src / "m.bin"),
            "--base",
            str(base),
            "--config",
            config,
            env=env,
        )
        assert r.returncode == 5, r.stdout + r.stderr
        assert "somente leitura" in r.stderr
        assert str(base) in r.stderr
        sem_traceback(r)
        assert "1.0.2" not in rodar("listar", "--modelo", "m.bin")


def test_disco_enche_no_meio_do_backup(tmp_path: Path) -> None:
    config = _config(tmp_path, CFG)
    m = tmp_path / "src" / "m.bin"
    pequeno = aleatorio(MiB, 1)
    grande = aleatorio(40 * MiB, 2)
    with tmpfs(tmp_path / "disco", "20m") as ponto:
        base = ponto / "repo"
        args = ("backup", "--modelo", str(m), "--base", str(base), "--config", config)
        escrever(m, pequeno)
        assert cli(*args).returncode == 0
        escrever(m, grande)
        r = cli(*args)
        assert r.returncode == 10, r.stdout + r.stderr
        assert "espaço em disco insuficiente" in r.stderr
        assert str(base) in r.stderr
        sem_traceback(r)
        sem_temporarios(base)
        _pacotes_inteiros(base, CFG)
        conferir(base, CFG, {("m.bin", "1.0.0"): pequeno}, tmp_path / "r1")

        remontar(ponto, "size=160m")  # space freed: the same backup succeeds
        r = cli(*args)
        assert r.returncode == 0, r.stdout + r.stderr
        conferir(
            base,
            CFG,
            {("m.bin", "1.0.0"): pequeno, ("m.bin", "1.0.1"): grande},
            tmp_path / "r2",
        )


def test_disco_cheio_no_meio_da_limpeza(tmp_path: Path) -> None:
    config = _config(tmp_path, CFG_LIMPEZA)
    with tmpfs(tmp_path / "disco", "32m") as ponto:
        base = ponto / "repo"
        esperado = repositorio_para_limpar(base, tmp_path / "src")
        encher(ponto / "lastro")
        args = ("limpeza", "--base", str(base), "--config", config)
        r = cli(*args)
        assert r.returncode == 10, r.stdout + r.stderr
        assert "espaço em disco insuficiente" in r.stderr
        assert str(base) in r.stderr
        sem_traceback(r)
        sem_temporarios(base)
        _pacotes_inteiros(base, CFG_LIMPEZA)
        # The full disk may stop it before any removal (its lock object is the
        # first write): nothing lost either way.
        conferir(base, CFG_LIMPEZA, esperado, tmp_path / "r1", ao_menos=True)

        (ponto / "lastro").unlink()
        r = cli(*args, "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        relatorio = json.loads(r.stdout)
        assert relatorio["pacotes_reempacotados"] == 1, relatorio
        with GerenciadorBackupVersionamento(base, CFG_LIMPEZA) as g:
            auditar(g, relatorio)
            conferir(base, CFG_LIMPEZA, esperado, tmp_path / "r2", g=g)
        r = cli(*args)  # the readable report too
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Limpeza concluída" in r.stdout
        sem_traceback(r)


def test_cache_da_maquina_cheio_depois_do_sidecar(tmp_path: Path) -> None:
    """A full disk under the per-machine caches never fails a stored version."""
    config = _config(tmp_path, CFG)
    base = tmp_path / "repo"
    m = tmp_path / "src" / "m.bin"
    with tmpfs(tmp_path / "cache", "4m") as cache:
        env = {"XDG_CACHE_HOME": str(cache)}
        escrever(m, aleatorio(MiB, 1))
        r = cli(
            "backup",
            "--modelo",
            str(m),
            "--base",
            str(base),
            "--config",
            config,
            env=env,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        segundo = aleatorio(MiB, 2)
        escrever(m, segundo)
        r = executar_filho(
            {
                "base": str(base),
                "config": CFG,
                "operacao": "backup",
                "arquivo": str(m),
                "tipo": "patch",
                "etapa": "depois:modelos/:1",
                "encher": str(cache / "lastro"),
            },
            env,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.strip() == "1.0.1"
        sem_traceback(r)
        assert (cache / "lastro").stat().st_size > 0

        log = (base / "logs" / "backup_system.log").read_text()
        assert "não atualizado (database or disk is full)" in log, log
        # Still full (whatever the child freed on exit is taken again): the
        # next listing shows the version.
        encher(cache / "lastro2")
        r = cli(
            "listar",
            "--modelo",
            "m.bin",
            "--json",
            "--base",
            str(base),
            "--config",
            config,
            env=env,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        sem_traceback(r)
        assert [v["versao"] for v in json.loads(r.stdout)] == ["1.0.0", "1.0.1"]
        r = cli(
            "restaurar",
            "--modelo",
            "m.bin",
            "--destino",
            str(tmp_path / "r.bin"),
            "--base",
            str(base),
            "--config",
            config,
            env=env,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert (tmp_path / "r.bin").read_bytes() == segundo


def _alinhar_a_pagina(arquivo: Path) -> None:
    """Pad a log to a page boundary, so its next line needs a new block."""
    n = arquivo.stat().st_size if arquivo.exists() else 0
    with open(arquivo, "ab") as f:
        f.write(b"\n" * ((-n) % 4096))


def test_disco_cheio_sem_traceback_do_log_nem_do_diario(tmp_path: Path) -> None:
    config = _config(tmp_path, CFG)
    m = tmp_path / "src" / "m.bin"
    with tmpfs(tmp_path / "disco", "20m") as ponto:
        base = ponto / "repo"
        args = ("backup", "--modelo", str(m), "--base", str(base), "--config", config)
        escrever(m, aleatorio(MiB, 1))
        assert cli(*args).returncode == 0
        # The log, the journal and the audit log can write nothing more either.
        for nome in ("backup_system.log", "atividade.jsonl", "auditoria.jsonl"):
            _alinhar_a_pagina(base / "logs" / nome)
        encher(ponto / "enchimento")
        escrever(m, aleatorio(MiB, 2))
        r = cli(*args)
        assert r.returncode == 10, r.stdout + r.stderr
        sem_traceback(r)
        assert "Logging error" not in r.stderr and "OSError" not in r.stderr
        # The command's own error, naming what could not be written, is last.
        ultima = r.stderr.strip().splitlines()[-1]
        assert ultima.startswith(f"erro: {base}") and "espaço em disco" in ultima
        assert "não foi possível gravar no log" in r.stderr
