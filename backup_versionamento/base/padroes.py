"""Defaults that several layers share, defined once (config.py PADRAO uses them).

Per-machine tuning, not repository facts: changing one changes speed, never
what is stored.
"""

from __future__ import annotations

# Parallel reads/writes against the store (`performance.threads_backup`).
THREADS_BACKUP = 4
# Parallel compression of blocks (`performance.threads_compressao`).
THREADS_COMPRESSAO = 2
# Read-ahead of a source file, chunk cache, zstd level (`performance.*`).
BUFFER_MB = 128
CACHE_MB = 256
NIVEL_COMPRESSAO = 1
# The sandboxed load test's limits (`validacao.tempo_limite_segundos`,
# `validacao.memoria_limite_mb`); the validator falls back to them too.
TEMPO_LIMITE_VALIDACAO_S = 120
MEMORIA_LIMITE_VALIDACAO_MB = 4096
