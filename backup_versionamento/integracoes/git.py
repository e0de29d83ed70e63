"""Git integration: each new version's metadata committed to a branch of its own.

With `integracao.git.auto_commit`, a `backup_criado` event commits the version's
sidecar (`<modelo>/<versao>.json`) and a short summary (`<modelo>/<versao>.md`)
to `branch_backups` of the git repository that holds the model (or the one
configured). Only plumbing runs (hash-object, read-tree/update-index/write-tree
into a private index, commit-tree, update-ref as compare-and-swap), so the
user's working tree, index, stash and HEAD are never touched; a concurrent
writer makes the swap fail and we rebuild on top of its commit. Optionally an
annotated tag `<modelo>@<versao>` (mktag, never signed, never an editor).
An alias move (`alias_definido`, `alias_removido`) commits the alias's new state
(`<modelo>/aliases/<alias>.json`): the branch's log is then its history too.
Any failure is a warning in the log and in `status`: the backup already succeeded.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..eventos import Evento
from ..registro import NOME_LOGGER
from .configuracao import nome_ref_git_valido
from .saude import Saude

log = logging.getLogger(NOME_LOGGER)

NOME = "git"
# backup_criado commits the version; an alias move commits the alias's state.
EVENTOS_GIT = frozenset({"backup_criado", "alias_definido", "alias_removido"})
TENTATIVAS_CAS = 20
TEMPO_LIMITE_GIT_S = 60.0
ZERO = "0" * 40
# Variables that would point git at another repository, index or tree than ours.
_VARIAVEIS_GIT = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


class FalhaGit(Exception):
    """A git step failed; becomes a warning, never an error of the backup."""


class IntegracaoGit:
    """Bus subscriber for `backup_criado` and alias moves (see module docstring)."""

    def __init__(
        self,
        config_git: dict[str, Any],
        ler_sidecar: Callable[[str, str], dict[str, Any]],
        saude: Saude,
    ) -> None:
        self.repositorio = config_git["repositorio"]
        self.branch = config_git["branch_backups"]
        self.auto_commit = bool(config_git["auto_commit"])
        self.tag = bool(config_git["tag_por_versao"])
        self.ler_sidecar = ler_sidecar
        self.saude = saude

    def __call__(self, evento: Evento) -> None:
        if evento.nome not in EVENTOS_GIT or not self.auto_commit:
            return
        modelo = evento.dados["modelo"]
        # An alias move is recorded against the version it names.
        versao = str(evento.dados["versao"] or evento.dados.get("versao_anterior"))
        try:
            sidecar = self.ler_sidecar(modelo, versao)
            pasta = self._pasta_repositorio(sidecar)
            if evento.nome == "backup_criado":
                commit = registrar_versao(pasta, self.branch, sidecar, tag=self.tag)
            else:
                commit = registrar_alias(pasta, self.branch, evento.dados, sidecar)
                versao = f"@{evento.dados['alias']}"
        except FalhaGit as e:
            log.warning(
                "Integração git: %s %s não registrado em %s: %s (o backup foi "
                "feito normalmente)",
                modelo,
                versao,
                self.branch,
                e,
            )
            self.saude.erro(f"{modelo} {versao}: {e}")
            return
        except Exception as e:  # reading the sidecar failed, or a bug of ours
            log.warning("Integração git: %s %s: erro inesperado: %s", modelo, versao, e)
            self.saude.erro(f"{modelo} {versao}: {e}")
            return
        log.info(
            "Integração git: %s %s registrado na branch %s (%s)",
            modelo,
            versao,
            self.branch,
            commit[:12],
        )
        self.saude.sucesso(f"{modelo} {versao} -> {self.branch} {commit[:12]}")

    def _pasta_repositorio(self, sidecar: dict[str, Any]) -> Path:
        if self.repositorio:
            return Path(self.repositorio)
        origem = Path(sidecar["origem"])
        pasta = origem if sidecar.get("tipo") == "diretorio" else origem.parent
        while not pasta.exists() and pasta != pasta.parent:  # model moved away
            pasta = pasta.parent
        return pasta


def _ambiente(indice: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _VARIAVEIS_GIT}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_OPTIONAL_LOCKS"] = "0"  # never refresh the user's index as a side effect
    env["LC_ALL"] = "C"
    if indice is not None:
        env["GIT_INDEX_FILE"] = str(indice)
    return env


def _git(
    pasta: Path,
    *args: str,
    entrada: bytes | None = None,
    env: dict[str, str] | None = None,
    aceitar: tuple[int, ...] = (0,),
) -> tuple[int, str]:
    try:
        r = subprocess.run(
            # No hook of the user's runs (reference-transaction, post-index-change,
            # ...): they could act on the user's work or slow every backup.
            ["git", "-c", "core.hooksPath=/dev/null", *args],
            cwd=pasta,
            input=entrada,
            capture_output=True,
            env=env or _ambiente(),
            timeout=TEMPO_LIMITE_GIT_S,
            check=False,
        )
    except FileNotFoundError:
        raise FalhaGit(
            "o programa git não foi encontrado; instale o git ou desligue "
            "integracao.git.habilitada"
        ) from None
    except subprocess.TimeoutExpired:
        raise FalhaGit(
            f"git {args[0]} não terminou em {TEMPO_LIMITE_GIT_S:.0f} s"
        ) from None
    except OSError as e:
        raise FalhaGit(f"{pasta}: não foi possível rodar o git ({e})") from None
    if r.returncode not in aceitar:
        erro = r.stderr.decode("utf-8", "replace").strip().splitlines()
        raise FalhaGit(
            f"git {args[0]} falhou em {pasta}: {erro[-1] if erro else r.returncode}"
        )
    return r.returncode, r.stdout.decode("utf-8", "replace").strip()


def _checar_repositorio(pasta: Path, ref: str) -> None:
    if not pasta.is_dir():
        raise FalhaGit(f"{pasta}: pasta não encontrada")
    try:
        _git(pasta, "rev-parse", "--absolute-git-dir")
    except FalhaGit as e:
        if "not a git repository" in str(e).lower():
            raise FalhaGit(
                f"{pasta} não está dentro de um repositório git; configure "
                "integracao.git.repositorio ou desligue integracao.git.habilitada"
            ) from None
        raise
    # Moving a branch that some worktree has checked out would desync it.
    _, lista = _git(pasta, "worktree", "list", "--porcelain")
    if f"branch {ref}" in lista.splitlines():
        raise FalhaGit(
            f"a branch {ref.removeprefix('refs/heads/')} está em uso (checkout) "
            "num worktree; escolha outra em integracao.git.branch_backups"
        )


def _identidade(pasta: Path, sidecar: dict[str, Any]) -> dict[str, str]:
    """The user's git identity when set; otherwise one derived from the sidecar."""
    env = _ambiente()
    codigo, _ = _git(pasta, "var", "GIT_COMMITTER_IDENT", aceitar=(0, 128), env=env)
    if codigo == 0:
        return {}
    usuario = str(sidecar.get("usuario") or "backup")
    email = f"{usuario}@{sidecar.get('host') or 'localhost'}"
    return {
        "GIT_AUTHOR_NAME": usuario,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": usuario,
        "GIT_COMMITTER_EMAIL": email,
    }


def conteudo_sidecar(sidecar: dict[str, Any]) -> bytes:
    return (
        json.dumps(sidecar, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    ).encode("utf-8")


def resumo(sidecar: dict[str, Any]) -> str:
    """The short human summary committed next to the sidecar."""
    validacao = sidecar.get("validacao")
    estado = (
        "não feita"
        if not validacao
        else ("OK" if validacao.get("valido") else "FALHOU")
    )
    metricas = sidecar.get("metricas") or {}
    linhas = [
        f"# {sidecar['modelo']} {sidecar['versao']}",
        "",
        f"- Tipo de mudança: {sidecar.get('tipo_mudanca')} "
        f"({sidecar.get('incremento')})",
        f"- Descrição: {sidecar.get('descricao') or '(sem descrição)'}",
        f"- Criado em: {sidecar.get('criado_em')} (UTC)",
        f"- Usuário / máquina: {sidecar.get('usuario')} / {sidecar.get('host')}",
        f"- Origem: {sidecar.get('origem')}",
        f"- Tamanho: {sidecar.get('tamanho')} bytes",
        f"- SHA-256: {sidecar.get('sha256')}",
        f"- Versão anterior: {sidecar.get('versao_anterior') or 'nenhuma'}",
        f"- Validação: {estado}",
    ]
    if metricas:
        linhas.append(
            "- Métricas: "
            + ", ".join(f"{k} = {v}" for k, v in sorted(metricas.items()))
        )
    return "\n".join(linhas) + "\n"


def mensagem_commit(sidecar: dict[str, Any]) -> str:
    return (
        f"{sidecar['modelo']} {sidecar['versao']}: {sidecar.get('tipo_mudanca')}\n\n"
        f"{sidecar.get('descricao') or '(sem descrição)'}\n\n"
        f"Modelo: {sidecar['modelo']}\n"
        f"Versão: {sidecar['versao']}\n"
        f"Tipo de mudança: {sidecar.get('tipo_mudanca')} "
        f"(incremento: {sidecar.get('incremento')})\n"
        f"SHA-256: {sidecar.get('sha256')}\n"
    )


def registrar_versao(
    pasta: Path, branch: str, sidecar: dict[str, Any], *, tag: bool = False
) -> str:
    """Commit the version's metadata to `branch` of the repository at `pasta`.

    Returns the commit id. Retries the compare-and-swap of the ref when another
    process moved it meanwhile, so no commit is ever lost.
    """
    ref = f"refs/heads/{branch}"
    _checar_repositorio(pasta, ref)
    modelo, versao = sidecar["modelo"], sidecar["versao"]
    identidade = _identidade(pasta, sidecar)
    arquivos = {
        f"{modelo}/{versao}.json": conteudo_sidecar(sidecar),
        f"{modelo}/{versao}.md": resumo(sidecar).encode("utf-8"),
    }
    mensagem = mensagem_commit(sidecar).encode("utf-8")
    commit = _commitar(
        pasta, branch, arquivos, mensagem, identidade, f"{modelo} {versao}"
    )
    if tag:
        _criar_tag(pasta, f"{modelo}@{versao}", commit, mensagem, identidade)
    return commit


def registrar_alias(
    pasta: Path, branch: str, dados: dict[str, Any], sidecar: dict[str, Any]
) -> str:
    """Commit an alias move: `<modelo>/aliases/<alias>.json` holds its new state,
    and the branch's log is the alias's history."""
    _checar_repositorio(pasta, f"refs/heads/{branch}")
    modelo, alias = dados["modelo"], dados["alias"]
    destino = dados["versao"] or "(removido)"
    mensagem = (
        f"{modelo} @{alias} -> {destino}\n\n"
        f"{dados.get('motivo') or '(sem motivo)'}\n\n"
        f"Modelo: {modelo}\nAlias: {alias}\nVersão: {destino}\n"
        f"Versão anterior: {dados.get('versao_anterior') or 'nenhuma'}\n"
        f"Usuário / máquina: {dados.get('usuario')} / {dados.get('host')}\n"
    ).encode()
    arquivos = {f"{modelo}/aliases/{alias}.json": conteudo_sidecar(dados)}
    return _commitar(
        pasta,
        branch,
        arquivos,
        mensagem,
        _identidade(pasta, sidecar),
        f"{modelo} @{alias}",
    )


def _commitar(
    pasta: Path,
    branch: str,
    arquivos: dict[str, bytes],
    mensagem: bytes,
    identidade: dict[str, str],
    rotulo: str,
) -> str:
    """Commit `arquivos` on top of `branch` by compare-and-swap; the commit id."""
    ref = f"refs/heads/{branch}"
    blobs = {
        caminho: _git(pasta, "hash-object", "-w", "--stdin", entrada=dados)[1]
        for caminho, dados in arquivos.items()
    }
    for tentativa in range(TENTATIVAS_CAS):
        codigo, pai = _git(
            pasta, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", aceitar=(0, 1)
        )
        anterior = pai if codigo == 0 else None
        arvore = _arvore(pasta, anterior, blobs)
        if anterior is not None:
            _, arvore_pai = _git(pasta, "rev-parse", f"{anterior}^{{tree}}")
            if arvore_pai == arvore:  # already committed (a replayed event)
                commit = anterior
                break
        env = {**_ambiente(), **identidade}
        args = ["commit-tree", "--no-gpg-sign", arvore, "-F", "-"]
        if anterior is not None:
            args[2:2] = ["-p", anterior]
        _, commit = _git(pasta, *args, entrada=mensagem, env=env)
        codigo, _ = _git(
            pasta,
            "update-ref",
            "-m",
            f"backup_versionamento: {rotulo}",
            ref,
            commit,
            anterior or ZERO,
            aceitar=(0, 1, 128),
        )
        if codigo == 0:
            break
        log.debug("Integração git: %s mudou durante o registro; nova tentativa", ref)
        time.sleep(random.uniform(0.01, 0.05) * (tentativa + 1))
    else:
        raise FalhaGit(
            f"a branch {branch} mudou {TENTATIVAS_CAS} vezes seguidas durante o "
            "registro; tente de novo"
        )
    return commit


def _arvore(pasta: Path, pai: str | None, blobs: dict[str, str]) -> str:
    """The parent's tree plus our files, built in a private index file."""
    with tempfile.TemporaryDirectory(prefix="backup-git-") as tmp:
        env = _ambiente(Path(tmp) / "index")
        if pai is None:
            _git(pasta, "read-tree", "--empty", env=env)
        else:
            _git(pasta, "read-tree", pai, env=env)
        for caminho, blob in blobs.items():
            _git(
                pasta,
                "update-index",
                "--add",
                "--cacheinfo",
                f"100644,{blob},{caminho}",
                env=env,
            )
        return _git(pasta, "write-tree", env=env)[1]


def _criar_tag(
    pasta: Path, nome: str, commit: str, mensagem: bytes, identidade: dict[str, str]
) -> None:
    if not nome_ref_git_valido(nome):
        raise FalhaGit(f"{nome!r} não é um nome de tag válido no git")
    ref = f"refs/tags/{nome}"
    codigo, atual = _git(
        pasta, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", aceitar=(0, 1)
    )
    if codigo == 0:
        if atual == commit:
            return
        raise FalhaGit(f"a tag {nome} já existe e aponta para outro commit")
    env = {**_ambiente(), **identidade}
    _, quem = _git(pasta, "var", "GIT_COMMITTER_IDENT", env=env)
    objeto = (
        f"object {commit}\ntype commit\ntag {nome}\ntagger {quem}\n\n".encode()
        + mensagem
    )
    _, id_tag = _git(pasta, "mktag", entrada=objeto, env=env)
    _git(
        pasta,
        "update-ref",
        "-m",
        f"backup_versionamento: tag {nome}",
        ref,
        id_tag,
        ZERO,
    )
