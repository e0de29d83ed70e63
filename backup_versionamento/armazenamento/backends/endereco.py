"""From a repository address (`diretorios.base`, `--base`) to its backend."""

from __future__ import annotations

from pathlib import Path

from ...erros import ErroRepositorio
from .base import Backend
from .local import BackendLocal


def e_local(endereco: str | Path) -> bool:
    return "://" not in str(endereco)


def backend_para(endereco: str | Path) -> Backend:
    """A local folder today; object stores plug in here by their scheme."""
    if not e_local(endereco):
        esquema = str(endereco).split("://", 1)[0]
        raise ErroRepositorio(
            f"{endereco}: endereço de repositório com esquema {esquema!r} não "
            "suportado; use uma pasta local"
        )
    raiz = Path(endereco)
    if raiz.exists() and not raiz.is_dir():
        raise ErroRepositorio(
            f"{raiz}: existe e não é uma pasta; escolha outro diretorios.base"
        )
    return BackendLocal(raiz)
