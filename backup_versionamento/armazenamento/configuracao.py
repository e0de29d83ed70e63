"""The store's configuration sections: where the repository is, disk space, speed.

`diretorios.base` is a folder or an `s3://BUCKET/PREFIXO` address; the threads
and buffers are per-machine tuning (base/padroes.py), never repository facts.
"""

from __future__ import annotations

import re

from ..base.configuracao import Secao, faixa
from ..base.padroes import (
    BUFFER_MB,
    CACHE_MB,
    NIVEL_COMPRESSAO,
    THREADS_BACKUP,
    THREADS_COMPRESSAO,
)

_ENDERECO_S3 = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?")
# 'esquema:/...' or 's3:...' is an address with a slash missing (s3:/bucket), never
# a folder the user meant; two letters at least, so 'C:/dados' stays a path.
_PARECE_ENDERECO = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+:/|[sS]3:")


def problema_base(v: str) -> str | None:
    """Why `v` cannot be a repository address (`diretorios.base`, `--base`)."""
    if not v.strip():
        return "não pode ser vazio"
    if ("://" in v or _PARECE_ENDERECO.match(v)) and not _ENDERECO_S3.fullmatch(v):
        return (
            f"'{v}' não é uma pasta nem um endereço s3://BUCKET/PREFIXO válido "
            "(o bucket tem 3 a 63 letras minúsculas, dígitos, '.' ou '-')"
        )
    return None


DIRETORIOS = Secao(
    "diretorios",
    {
        "base": "./backups_modelos",
        "modelos": "./backups_modelos/modelos",
        # Per-machine caches, locks and daemon files ("" = $XDG_CACHE_HOME/...).
        "estado": "",
    },
    {"diretorios.base": problema_base},
)

ESPACO_DISCO = Secao(
    "espaco_disco",
    {"aviso_mb": 1024, "reserva_mb": 100},
    {
        "espaco_disco.aviso_mb": faixa(0, 1024**3),
        "espaco_disco.reserva_mb": faixa(0, 1024**3),
    },
)

PERFORMANCE = Secao(
    "performance",
    {
        "threads_backup": THREADS_BACKUP,
        "threads_compressao": THREADS_COMPRESSAO,
        "buffer_size_mb": BUFFER_MB,
        "cache_size_mb": CACHE_MB,
        "nivel_compressao": NIVEL_COMPRESSAO,
    },
    {
        "performance.threads_backup": faixa(1, 64),
        "performance.threads_compressao": faixa(1, 64),
        "performance.buffer_size_mb": faixa(8, 4096),
        "performance.cache_size_mb": faixa(1, 65536),
        "performance.nivel_compressao": faixa(1, 19),
    },
)
