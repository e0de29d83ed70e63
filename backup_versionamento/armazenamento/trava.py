"""Advisory file locks (fcntl.flock): per-model and repository-wide.

Backups hold the repository lock shared; garbage collection holds it exclusive,
so collection never deletes a chunk that a running backup is about to reference.
A per-model lock serialises version allocation. flock locks die with their
process, so a SIGKILLed writer never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..erros import ErroTrava


@contextmanager
def travar(
    caminho: Path,
    *,
    exclusiva: bool = True,
    espera: float | None = None,
    descricao: str = "",
) -> Iterator[None]:
    """Hold a lock on `caminho`; wait at most `espera` seconds (None: forever)."""
    caminho.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(caminho, os.O_RDWR | os.O_CREAT, 0o644)
    modo = fcntl.LOCK_EX if exclusiva else fcntl.LOCK_SH
    try:
        if espera is None:
            fcntl.flock(fd, modo)
        else:
            limite = time.monotonic() + espera
            while True:
                try:
                    fcntl.flock(fd, modo | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= limite:
                        raise ErroTrava(
                            f"{descricao or caminho}: ocupado por outro processo "
                            f"há mais de {espera:.0f}s; tente de novo quando ele "
                            "terminar"
                        ) from None
                    time.sleep(0.05)
        yield
    finally:
        os.close(fd)
