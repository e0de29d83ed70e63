"""Which paths are models: extensions, ignore patterns, SavedModel folders, exclusions.

The sweep and the watcher share this one rule, so a file the watcher backs up is
exactly a file the sweep would have found.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..base.endereco import pasta_local

MARCADOR_SAVEDMODEL = "saved_model.pb"


def absoluto(caminho: str | os.PathLike[str]) -> Path:
    """Absolute, symlink-free path: prefix tests cannot be fooled by '..' or links."""
    return Path(os.path.realpath(caminho))


def normalizar(caminho: str | os.PathLike[str]) -> Path:
    """Absolute path with a symlink-free parent; the last part is kept as named.

    A symlinked model file keeps its own name instead of taking its target's.
    """
    p = Path(os.path.abspath(caminho))
    return p if p.parent == p else absoluto(p.parent) / p.name


def dentro_de(caminho: Path, pasta: Path) -> bool:
    return caminho == pasta or pasta in caminho.parents


class FiltroModelos:
    """Decide whether a path (file or folder) is a model to back up."""

    def __init__(
        self,
        extensoes: Iterable[str],
        ignorar: Iterable[str],
        excluidos: Iterable[Path] = (),
    ) -> None:
        self.extensoes = tuple(e.lower() for e in extensoes)
        self.ignorar = tuple(ignorar)
        self.excluidos = tuple(absoluto(p) for p in excluidos)

    @classmethod
    def da_config(cls, config: dict[str, Any]) -> FiltroModelos:
        """From the full configuration; the repository folder is always excluded."""
        auto = config["backup_automatico"]
        return cls(
            auto["extensoes_monitoradas"],
            auto["ignorar_arquivos"],
            # An s3:// repository is no folder on this machine to exclude.
            [p for p in [pasta_local(config["diretorios"]["base"])] if p is not None],
        )

    def excluido(self, caminho: Path) -> bool:
        return any(dentro_de(caminho, e) for e in self.excluidos)

    def ignorado(self, nome: str) -> bool:
        return any(fnmatch.fnmatch(nome, padrao) for padrao in self.ignorar)

    def arquivo_aceito(self, caminho: Path) -> bool:
        """A plain file whose name has a monitored extension and no ignore pattern."""
        nome = caminho.name
        return nome.lower().endswith(self.extensoes) and not self.ignorado(nome)

    def raiz_savedmodel(self, caminho: Path, limites: Sequence[Path]) -> Path | None:
        """The SavedModel folder containing `caminho` (or being it), up to a limit.

        `caminho` may be gone (deleted or renamed away): only its ancestors are
        checked on disk.
        """
        limite = next((lim for lim in limites if dentro_de(caminho, lim)), None)
        if limite is None:
            return None
        atual = caminho
        while True:
            if (atual / MARCADOR_SAVEDMODEL).is_file():
                return atual
            if atual == limite or atual.parent == atual:
                return None
            atual = atual.parent

    def modelo_de(self, caminho: Path, limites: Sequence[Path]) -> Path | None:
        """Map any path seen on disk to the model it belongs to, or None.

        A file inside a SavedModel folder maps to the folder; a plain file maps to
        itself when accepted. Paths in the repository, and paths outside every
        monitored folder in `limites` (the parent watched while one is missing),
        never map to anything.
        """
        caminho = normalizar(caminho)
        if not any(dentro_de(caminho, raiz) for raiz in limites):
            return None
        if self.excluido(caminho) or caminho.is_symlink():
            return None
        raiz = self.raiz_savedmodel(caminho, limites)
        if raiz is not None:
            return None if self.ignorado(raiz.name) or self.excluido(raiz) else raiz
        if caminho.is_dir():
            return None
        return caminho if self.arquivo_aceito(caminho) else None
