"""Lineage of a model: which code, interpreter, library and machine produced it.

Collected when a backup is made and stored in the version's sidecar, so a user can
tell, months later, which commit of the training code wrote a model.

- ``git``: when the model's folder is inside a git work tree, the full commit hash
  of HEAD (None in a repository without commits), the branch (None when HEAD is
  detached), ``sujo`` (tracked files with uncommitted changes, staged or not;
  untracked files do not count, since the model file itself is usually one) and
  the work tree's root. ``None`` when git is absent or the folder is not in a work
  tree. A git command that fails or times out leaves only its own field None.
- ``python``: the interpreter version.
- ``biblioteca``: for the model's library, the installed distribution and its
  version, read from package metadata (the library is never imported: importing
  TensorFlow alone takes seconds). None when no library is given.
- ``host`` and ``usuario``.

Git runs as a subprocess (no shell), with a timeout, with optional locks off so it
never writes the user's index, and without inherited GIT_DIR/GIT_WORK_TREE, which
a hook or wrapper could have set for another repository.
"""

from __future__ import annotations

import getpass
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from .erros import ErroArquivoNaoEncontrado
from .validacao.formatos import BIBLIOTECAS, DESCONHECIDO

TEMPO_LIMITE_GIT = 10.0

# Library or format name -> distributions that provide it, in order of preference.
DISTRIBUICOES: dict[str, tuple[str, ...]] = {
    "tensorflow": (
        "tensorflow",
        "tensorflow-cpu",
        "tensorflow-intel",
        "tensorflow-macos",
    ),
    "keras": ("keras", "tensorflow", "tensorflow-cpu"),
    "sklearn": ("scikit-learn",),
    "scikit-learn": ("scikit-learn",),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "lightgbm": ("lightgbm",),
    "torch": ("torch",),
    "pytorch": ("torch",),
    "onnx": ("onnx",),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "joblib": ("joblib",),
}

_VARIAVEIS_GIT_REMOVIDAS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
)


def _ambiente_git() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _VARIAVEIS_GIT_REMOVIDAS}
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["LC_ALL"] = "C"
    return env


def _git(pasta: Path, *args: str) -> str | None:
    """stdout of a git command, stripped; None on any failure."""
    try:
        r = subprocess.run(
            ["git", *args],
            cwd=pasta,
            env=_ambiente_git(),
            capture_output=True,
            text=True,
            timeout=TEMPO_LIMITE_GIT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def coletar_git(pasta: Path) -> dict[str, Any] | None:
    """Git facts of the work tree that holds `pasta`, or None outside one."""
    if _git(pasta, "rev-parse", "--is-inside-work-tree") != "true":
        return None
    raiz = _git(pasta, "rev-parse", "--show-toplevel")
    commit = _git(pasta, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    branch = _git(pasta, "symbolic-ref", "--quiet", "--short", "HEAD")
    status = _git(pasta, "status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit or None,
        "branch": branch or None,
        "sujo": None if status is None else bool(status),
        "raiz": str(Path(raiz)) if raiz else None,
    }


def versao_biblioteca(nome: str) -> dict[str, Any]:
    """Installed version of a library, by package metadata only."""
    if nome == BIBLIOTECAS[DESCONHECIDO]:
        # The validator's name for "format not recognised": no distribution to
        # look up (a miss scans every installed one; docs/DESEMPENHO.md).
        return {"nome": nome, "distribuicao": None, "versao": None}
    from importlib import metadata  # lazy: startup time (docs/DESEMPENHO.md)

    candidatas = DISTRIBUICOES.get(nome.lower(), (nome,))
    for distribuicao in candidatas:
        try:
            return {
                "nome": nome,
                "distribuicao": distribuicao,
                "versao": metadata.version(distribuicao),
            }
        except metadata.PackageNotFoundError:
            continue
        except ValueError:  # a name that is not a valid distribution name
            break
    return {"nome": nome, "distribuicao": None, "versao": None}


def _usuario() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        # No login name in the environment and no passwd entry (some containers).
        return None


def coletar_linhagem(
    caminho: Path, formato_biblioteca: str | None = None
) -> dict[str, Any]:
    """Lineage of the model at `caminho` (a file or a directory model)."""
    caminho = Path(caminho)
    if not caminho.exists():
        raise ErroArquivoNaoEncontrado(
            f"{caminho}: modelo não encontrado para coletar a linhagem"
        )
    pasta = caminho if caminho.is_dir() else caminho.parent
    return {
        "git": coletar_git(pasta.resolve()),
        "python": platform.python_version(),
        "biblioteca": (
            None
            if formato_biblioteca is None
            else versao_biblioteca(formato_biblioteca)
        ),
        "host": socket.gethostname(),
        "usuario": _usuario(),
    }
