"""Per-machine state: caches, locks and daemon files that are not the repository.

Everything under `pasta_estado(...)` can be deleted at any time and is rebuilt
from the repository; nothing there is the truth. Keeping it outside the
repository lets a read-only or remote repository be listed, verified and
restored.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .base.endereco import e_local
from .erros import ErroPermissao

NOME_APP = "backup_versionamento"


def raiz_estado(configurada: str = "") -> Path:
    """The folder that holds one sub-folder per repository (id and location).

    `diretorios.estado` when set; otherwise `$XDG_CACHE_HOME/backup_versionamento`
    (`~/.cache/backup_versionamento`).
    """
    if configurada:
        return Path(configurada).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / NOME_APP


def lugar_do_repositorio(descricao: str) -> str:
    """Where a repository is: the real path of a folder, the URL of a bucket."""
    return descricao if not e_local(descricao) else os.path.realpath(descricao)


def pasta_estado(id_repositorio: str, configurada: str = "", lugar: str = "") -> Path:
    """This machine's state folder for one repository (created on demand).

    Keyed by the repository id and its `lugar` (lugar_do_repositorio): a copy
    (`cp -a`, `sincronizar --receber`) has the same id but never shares the
    original's caches, locks or daemon files.
    """
    nome = id_repositorio
    if lugar:
        nome += "-" + hashlib.sha256(lugar.encode()).hexdigest()[:16]
    pasta = raiz_estado(configurada) / nome
    try:
        pasta.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise ErroPermissao(
            f"{pasta}: não foi possível criar a pasta de estado desta máquina "
            f"({e.strerror}); aponte diretorios.estado (ou XDG_CACHE_HOME) para uma "
            "pasta gravável"
        ) from None
    return pasta
