"""The parts every service is given (injected by the facade, or by a test)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..armazenamento.repositorio import Repositorio
from ..eventos import BarramentoEventos


@dataclass(frozen=True)
class Contexto:
    config: dict[str, Any]
    # The repository's address: a folder, or an object store's (s3://...).
    base: Path | str
    repo: Repositorio
    eventos: BarramentoEventos
    pasta_estado: Path  # this machine's caches and locks for the repository
