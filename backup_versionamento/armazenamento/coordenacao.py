"""Where the repository lives and who may use it now: locks and lease objects.

The services ask the repository (`Repositorio` inherits these methods) instead of
reaching into its backend: a backup holds `concessao()` (the shared machine lock
and a lease every machine's cleanup waits for), a cleanup holds `exclusivo()`
(the exclusive machine lock and the collection lock object), and `trava_modelo()`
serializes version numbers on this machine. docs/FORMATO.md, "Travas e
concessões", describes the objects.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from .backends import Backend
from .sidecar import Nomes
from .trava import travar
from .trava_remota import (
    Concessao,
    TravaRemota,
    concessao_backup,
    ler_trava,
    listar_concessoes,
    marca_limpeza,
    quebrar_concessoes,
    quebrar_trava,
    trava_limpeza,
)

log = logging.getLogger("SistemaBackup")


class Coordenacao:
    """Locks and leases of one repository (mixed into `Repositorio`)."""

    backend: Backend
    pasta_estado: Path
    nomes: Nomes

    # -- where it lives ---------------------------------------------------------------
    def pasta_local(self) -> Path | None:
        """The repository's folder on this machine (None: memory, object store)."""
        return self.backend.pasta_local

    def espaco_livre(self) -> int | None:
        """Free bytes where the repository lives (None: an object store)."""
        pasta = self.backend.pasta_local
        return shutil.disk_usage(pasta).free if pasta is not None else None

    def pasta_saidas(self) -> Path:
        """Where the spec's files for people go (logs/, relatorios/): inside a
        local writable repository, else this machine's state folder. They name
        models and versions: a repository that hides names keeps them here."""
        if self.nomes.ocultos:
            return self.pasta_estado
        return self._pasta_do_repositorio()

    def _pasta_do_repositorio(self) -> Path:
        pasta = self.backend.pasta_local
        if pasta is not None and not self.backend.somente_leitura:
            return pasta
        return self.pasta_estado

    def pasta_logs(self) -> Path:
        return self.pasta_saidas() / "logs"

    def pasta_auditoria(self) -> Path:
        """The audit log stays with the repository (its entries hide names)."""
        return self._pasta_do_repositorio() / "logs"

    # -- this machine's file locks (state folder) ----------------------------------
    def caminho_trava(self, nome: str) -> Path:
        pasta = self.pasta_estado / "travas"
        if not pasta.is_dir() and (pasta.exists() or pasta.is_symlink()):
            # Per-machine state, never the truth: a file in the way is removed.
            log.warning("%s não é uma pasta; removido e recriado", pasta)
            with contextlib.suppress(FileNotFoundError):
                pasta.unlink()
        return pasta / f"{nome}.lock"

    def trava_modelo(
        self, modelo: str, espera_s: float | None
    ) -> AbstractContextManager[None]:
        """One version number at a time per model on this machine."""
        return travar(
            self.caminho_trava(f"modelo-{modelo}"),
            espera=espera_s,
            descricao=f"modelo {modelo}",
        )

    # -- leases and the collection lock (objects every machine sees) ---------------
    @contextmanager
    def concessao(self, espera_s: float) -> Iterator[Concessao | None]:
        """A backup's hold (lease): no collection of any machine runs meanwhile.

        The machine lock shared (a local collection waits), then a lease object
        (None on a read-only backend) that collections wait out."""
        with (
            travar(
                self.caminho_trava("repositorio"),
                exclusiva=False,
                descricao="repositório (limpeza em andamento)",
            ),
            concessao_backup(self.backend, espera_s) as concessao,
        ):
            yield concessao

    @contextmanager
    def exclusivo(
        self, espera_s: float | None, espera_backups_s: float
    ) -> Iterator[TravaRemota]:
        """A collection's hold (exclusive): backups of this machine finish first,
        then the collection lock object, then every backup's lease is waited out."""
        with (
            travar(
                self.caminho_trava("repositorio"),
                espera=espera_s,
                descricao="repositório (backup em andamento)",
            ),
            trava_limpeza(self.backend, espera_backups_s) as trava,
        ):
            yield trava

    def marca_limpeza(self) -> str:
        """Id of the last collection started (see trava_remota.marca_limpeza)."""
        return marca_limpeza(self.backend)

    def trava_limpeza(self) -> dict[str, Any] | None:
        """Who holds the collection lock now (None: nobody)."""
        return ler_trava(self.backend)

    def concessoes(self) -> list[dict[str, Any]]:
        """Every backup lease now, live or expired."""
        return listar_concessoes(self.backend)

    def quebrar_trava_limpeza(self) -> dict[str, Any] | None:
        """Remove the collection lock on request; what it held."""
        return quebrar_trava(self.backend)

    def quebrar_concessoes(self) -> list[dict[str, Any]]:
        """Remove the expired backup leases on request; what they held."""
        return quebrar_concessoes(self.backend)
