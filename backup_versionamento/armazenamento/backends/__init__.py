"""Storage backends: where a repository's opaque keys live (folder, memory, S3).

`base` holds the protocol and the key rules; `local`, `memoria` and `s3` (import
it from `.s3`: it loads boto3) are the backends; `retentativas` and `falhas`
wrap any backend (retry, fault injection).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Backend, InfoObjeto, Partes, validar_chave
from .local import BackendLocal
from .retentativas import BackendComRetentativas

__all__ = [
    "Backend",
    "BackendComFalhas",
    "BackendComRetentativas",
    "BackendLocal",
    "BackendMemoria",
    "InfoObjeto",
    "Partes",
    "validar_chave",
]

if TYPE_CHECKING:  # mypy proves every class here fits the protocol
    from .falhas import BackendComFalhas, BackendListagemAtrasada
    from .memoria import BackendMemoria
    from .reivindicacao import BackendCriacaoSondada, BackendSemCondicional
    from .s3 import BackendS3  # imported lazily at run time (boto3)

    def _conformes(
        a: BackendLocal,
        b: BackendMemoria,
        c: BackendComRetentativas,
        d: BackendComFalhas,
        e: BackendS3,
        f: BackendCriacaoSondada,
        g: BackendSemCondicional,
        h: BackendListagemAtrasada,
    ) -> list[Backend]:
        return [a, b, c, d, e, f, g, h]


def __getattr__(nome: str) -> Any:
    # lazy: startup time (docs/DESEMPENHO.md); the test backends load on use
    if nome == "BackendMemoria":
        from .memoria import BackendMemoria

        return BackendMemoria
    if nome == "BackendComFalhas":
        from .falhas import BackendComFalhas

        return BackendComFalhas
    raise AttributeError(f"module {__name__!r} has no attribute {nome!r}")
