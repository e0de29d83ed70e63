"""Storage backends: where a repository's opaque keys live (folder, memory, S3).

`base` holds the protocol and the key rules; `local`, `memoria` and `s3` (import
it from `.s3`: it loads boto3) are the backends; `retentativas` and `falhas`
wrap any backend (retry, fault injection).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Backend, InfoObjeto, Partes, validar_chave
from .falhas import BackendComFalhas
from .local import BackendLocal, traduzir_erro_os
from .memoria import BackendMemoria
from .retentativas import BackendComRetentativas

__all__ = [
    "Backend",
    "BackendComFalhas",
    "BackendComRetentativas",
    "BackendLocal",
    "BackendMemoria",
    "InfoObjeto",
    "Partes",
    "traduzir_erro_os",
    "validar_chave",
]

if TYPE_CHECKING:  # mypy proves every class here fits the protocol
    from .s3 import BackendS3  # imported lazily at run time (boto3)

    def _conformes(
        a: BackendLocal,
        b: BackendMemoria,
        c: BackendComRetentativas,
        d: BackendComFalhas,
        e: BackendS3,
    ) -> list[Backend]:
        return [a, b, c, d, e]
