"""Git integration: real repositories in tmp_path, real git processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento

from .conftest import RAIZ, arvore_arquivos, escrever


@pytest.fixture(autouse=True)
def git_isolado(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's git config out, and stop git from looking above tmp_path."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.resolve()))
    for nome in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(nome, "Teste")
    for nome in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(nome, "teste@example.invalid")


def git(pasta: Path, *args: str) -> str:
    r = subprocess.run(
        ["git", *args], cwd=pasta, check=True, capture_output=True, timeout=30
    )
    return r.stdout.decode().strip()


def config(tmp_path: Path, **git_cfg: Any) -> dict[str, Any]:
    return {
        "diretorios": {"base": str(tmp_path / "repo")},
        "validacao": {"modo": "desligado"},
        "desenvolvimento": {"modo_debug": True},
        "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
        "integracao": {"git": {"habilitada": True, **git_cfg}},
    }


@pytest.fixture
def projeto(tmp_path: Path) -> Path:
    """A project with history, a feature branch checked out, a stash, dirty work."""
    raiz = tmp_path / "projeto"
    raiz.mkdir()
    git(raiz, "init", "-q", "-b", "principal")
    escrever(raiz / "treino.py", b"print('v1')\n")
    escrever(raiz / ".gitignore", b"modelos/\n")
    git(raiz, "add", ".")
    git(raiz, "commit", "-q", "-m", "primeiro")
    git(raiz, "checkout", "-q", "-b", "experimento")
    escrever(raiz / "treino.py", b"print('v2')\n")
    git(raiz, "commit", "-q", "-am", "experimento")
    escrever(raiz / "treino.py", b"print('guardado')\n")
    git(raiz, "stash", "-q")
    escrever(raiz / "treino.py", b"print('em andamento')\n")  # unstaged
    escrever(raiz / "novo.py", b"x = 1\n")
    git(raiz, "add", "novo.py")  # staged
    escrever(raiz / "rascunho.txt", b"nada\n")  # untracked
    return raiz


def retrato(raiz: Path) -> dict[str, Any]:
    """Everything of the user's that must stay byte for byte."""
    dot = raiz / ".git"
    return {
        "arquivos": {
            k: v
            for k, v in arvore_arquivos(raiz).items()
            if not k.startswith((".git/", "modelos/"))
        },
        "index": (dot / "index").read_bytes(),
        "ls_files": git(raiz, "ls-files", "-s"),
        "HEAD": (dot / "HEAD").read_bytes(),
        "branches": {
            b: git(raiz, "rev-parse", f"refs/heads/{b}")
            for b in ("principal", "experimento")
        },
        "stash": git(raiz, "rev-parse", "refs/stash"),
        "stash_lista": git(raiz, "stash", "list"),
        "status": git(raiz, "status", "--porcelain"),
    }


def test_cada_versao_vira_um_commit_sem_tocar_no_trabalho_do_usuario(
    tmp_path: Path, projeto: Path
) -> None:
    antes = retrato(projeto)
    modelo = projeto / "modelos" / "rede.pkl"
    cfg = config(tmp_path, tag_por_versao=True)
    versoes = []
    with GerenciadorBackupVersionamento(config=cfg) as g:
        for i, tipo in enumerate(("melhoria", "correcao", "arquitetura")):
            escrever(modelo, f"pesos {i}".encode())
            versoes.append(g.criar_backup(modelo, tipo, f"rodada {i}"))
        sidecars = [g.obter_versao("rede.pkl", v) for v in versoes]
        g.eventos.esvaziar(30)
        st = g.status()
    assert versoes == ["1.0.0", "1.0.1", "2.0.0"]
    assert retrato(projeto) == antes

    commits = git(projeto, "rev-list", "--reverse", "backups").split()
    assert len(commits) == 3
    for commit, v, sc in zip(commits, versoes, sidecars, strict=True):
        guardado = git(projeto, "show", f"{commit}:rede.pkl/{v}.json")
        esperado = json.dumps(sc, sort_keys=True, indent=1, ensure_ascii=False)
        assert guardado == esperado
        assert json.loads(guardado)["versao"] == v
        mensagem = git(projeto, "log", "-1", "--format=%B", commit)
        assert f"rede.pkl {v}: {sc['tipo_mudanca']}" in mensagem
        assert sc["descricao"] in mensagem
        assert f"Tipo de mudança: {sc['tipo_mudanca']}" in mensagem
        resumo = git(projeto, "show", f"{commit}:rede.pkl/{v}.md")
        assert sc["sha256"] in resumo
        # annotated tag <modelo>@<versao> on that commit
        assert git(projeto, "cat-file", "-t", f"refs/tags/rede.pkl@{v}") == "tag"
        assert git(projeto, "rev-parse", f"rede.pkl@{v}^{{commit}}") == commit
    # each commit keeps the earlier versions: the branch is the full history
    arvore = git(projeto, "ls-tree", "-r", "--name-only", "backups").split()
    assert arvore == sorted(
        f"rede.pkl/{v}.{e}" for v in versoes for e in ("json", "md")
    )
    assert git(projeto, "rev-list", "--count", "backups") == "3"
    # the model bytes never go to git
    blob_modelo = git(projeto, "hash-object", str(modelo))
    assert subprocess.run(
        ["git", "cat-file", "-e", blob_modelo], cwd=projeto
    ).returncode
    saude = st["integracoes"]["git"]
    assert saude["branch"] == "backups"
    assert "rede.pkl 2.0.0" in saude["ultimo_sucesso"]["mensagem"]
    assert saude["ultimo_erro"] is None


_SCRIPT = """
import sys
sys.path.insert(0, {raiz!r})
from pathlib import Path
from backup_versionamento import GerenciadorBackupVersionamento
cfg = {cfg!r}
nome = sys.argv[1]
inicio = float(sys.argv[2])
import time
while time.time() < inicio:
    time.sleep(0.001)
with GerenciadorBackupVersionamento(config=cfg) as g:
    for i in range(3):
        m = Path({pasta!r}) / nome
        m.write_bytes(f"{{nome}} {{i}}".encode())
        g.criar_backup(m, "retreino")
"""


def test_dois_processos_ao_mesmo_tempo_nenhum_commit_se_perde(
    tmp_path: Path, projeto: Path
) -> None:
    pasta = projeto / "modelos"
    pasta.mkdir()
    cfg = config(tmp_path)
    # Created first: two processes creating one repository at once is another story.
    GerenciadorBackupVersionamento(config=cfg).fechar()
    script = _SCRIPT.format(raiz=str(RAIZ), cfg=cfg, pasta=str(pasta))
    inicio = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, nome, str(inicio)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for nome in ("a.pkl", "b.pkl")
    ]
    for p in procs:
        _, erro = p.communicate(timeout=120)
        assert p.returncode == 0, erro.decode()
    arquivos = git(projeto, "ls-tree", "-r", "--name-only", "backups").split()
    esperados = [
        f"{m}/{v}.{e}"
        for m in ("a.pkl", "b.pkl")
        for v in ("1.0.0", "1.1.0", "1.2.0")
        for e in ("json", "md")
    ]
    assert arquivos == sorted(esperados)
    assert git(projeto, "rev-list", "--count", "backups") == "6"
    log = (tmp_path / "repo" / "logs" / "backup_system.log").read_text()
    assert "Integração git" in log and "não registrado" not in log


def test_fora_de_um_repositorio_git_o_backup_segue_com_aviso(tmp_path: Path) -> None:
    modelo = escrever(tmp_path / "solto" / "m.pkl", b"um")
    with GerenciadorBackupVersionamento(config=config(tmp_path)) as g:
        assert g.criar_backup(modelo, "patch") == "1.0.0"
        g.eventos.esvaziar(30)
        saude = g.status()["integracoes"]["git"]
    assert "não está dentro de um repositório git" in saude["ultimo_erro"]["mensagem"]
    assert saude["ultimo_sucesso"] is None
    log = (tmp_path / "repo" / "logs" / "backup_system.log").read_text()
    assert "WARNING - Integração git: m.pkl 1.0.0 não registrado" in log
    # status in a new process shows it too
    from .conftest import cli

    arquivo = tmp_path / "config.json"
    arquivo.write_text(json.dumps(config(tmp_path)))
    r = cli("status", "--config", str(arquivo))
    assert r.returncode == 0, r.stderr
    assert "Integração git:     AVISO, branch backups" in r.stdout
    assert "não está dentro de um repositório git" in r.stdout


def test_git_ausente_ou_branch_em_uso_sao_avisos(
    tmp_path: Path, projeto: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    antes = retrato(projeto)
    modelo = escrever(projeto / "modelos" / "m.pkl", b"um")
    # The branch the user is on must never be moved under them.
    cfg = config(tmp_path, branch_backups="experimento")
    with GerenciadorBackupVersionamento(config=cfg) as g:
        assert g.criar_backup(modelo, "patch") == "1.0.0"
        g.eventos.esvaziar(30)
        erro = g.status()["integracoes"]["git"]["ultimo_erro"]["mensagem"]
    assert "está em uso" in erro
    assert retrato(projeto) == antes

    vazio = tmp_path / "sem_git"
    vazio.mkdir()
    monkeypatch.setenv("PATH", str(vazio))
    escrever(modelo, b"dois")
    with GerenciadorBackupVersionamento(config=config(tmp_path)) as g:
        assert g.criar_backup(modelo, "patch") == "1.0.1"
        g.eventos.esvaziar(30)
        erro = g.status()["integracoes"]["git"]["ultimo_erro"]["mensagem"]
    assert "git não foi encontrado" in erro
    monkeypatch.setenv("PATH", os.defpath)
    assert retrato(projeto) == antes


def test_repositorio_configurado(tmp_path: Path) -> None:
    """`repositorio` points at another git repository than the model's."""
    destino = tmp_path / "metadados"
    destino.mkdir()
    git(destino, "init", "-q", "--bare")
    modelo = escrever(tmp_path / "fora" / "m.pkl", b"um")
    cfg = config(tmp_path, repositorio=str(destino), branch_backups="modelos/lotofacil")
    with GerenciadorBackupVersionamento(config=cfg) as g:
        g.criar_backup(modelo, "patch", "primeira")
    assert git(
        destino, "ls-tree", "-r", "--name-only", "modelos/lotofacil"
    ).split() == [
        "m.pkl/1.0.0.json",
        "m.pkl/1.0.0.md",
    ]


def test_hooks_do_usuario_nao_rodam(tmp_path: Path, projeto: Path) -> None:
    """Every hook git could run for these plumbing commands leaves a trace if run."""
    rastro = tmp_path / "hooks_rodaram.txt"
    hooks = projeto / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    for nome in (
        "reference-transaction",
        "post-index-change",
        "pre-commit",
        "post-commit",
        "post-rewrite",
    ):
        gancho = hooks / nome
        gancho.write_text(f"#!/bin/sh\necho {nome} >> '{rastro}'\n")
        gancho.chmod(0o755)
    # The hook works: a plain git command in the project runs it.
    git(projeto, "update-ref", "refs/heads/sonda", "HEAD")
    assert "reference-transaction" in rastro.read_text()
    rastro.unlink()
    cfg = config(tmp_path, tag_por_versao=True)
    with GerenciadorBackupVersionamento(config=cfg) as g:
        g.criar_backup(escrever(projeto / "modelos" / "rede.pkl", b"pesos"), "patch")
        assert g.eventos.esvaziar(30)
    assert git(projeto, "rev-list", "--count", "backups") == "1"
    assert not rastro.exists(), rastro.read_text()
