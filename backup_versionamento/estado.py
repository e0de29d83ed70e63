"""Per-machine state: caches, locks and daemon files that are not the repository.

Everything under `pasta_estado(...)` can be deleted at any time and is rebuilt
from the repository; nothing there is the truth. Keeping it outside the
repository lets a read-only or remote repository be listed, verified and
restored.
"""

from __future__ import annotations

import os
from pathlib import Path

from .erros import ErroPermissao

NOME_APP = "backup_versionamento"


def raiz_estado(configurada: str = "") -> Path:
    """The folder that holds one sub-folder per repository id.

    `diretorios.estado` when set; otherwise `$XDG_CACHE_HOME/backup_versionamento`
    (`~/.cache/backup_versionamento`).
    """
    if configurada:
        return Path(configurada).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / NOME_APP


def pasta_estado(id_repositorio: str, configurada: str = "") -> Path:
    """This machine's state folder for one repository (created on demand)."""
    pasta = raiz_estado(configurada) / id_repositorio
    try:
        pasta.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise ErroPermissao(
            f"{pasta}: não foi possível criar a pasta de estado desta máquina "
            f"({e.strerror}); aponte diretorios.estado (ou XDG_CACHE_HOME) para uma "
            "pasta gravável"
        ) from None
    return pasta
