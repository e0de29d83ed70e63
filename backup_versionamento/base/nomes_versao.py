"""Version names: the syntax repository keys use (the store and the policy share it).

Which strings name a version is a format fact (docs/FORMATO.md: a sidecar's key
is `modelos/<modelo>/<versao>.json`, the name three dot-separated numbers). What
the numbers mean — which part goes up for which change — is the policy's
(politica/versoes.py). The store only lists names, and sorts them by their
numbers where a listing must come out oldest first.
"""

from __future__ import annotations

import re

from ..erros import ErroVersaoNaoEncontrada

# Three numbers without leading zeros: the only names a sidecar key may carry.
FORMATO_NOME = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def e_versao(texto: str) -> bool:
    """Whether `texto` is a version name as stored (no prefix, no spaces)."""
    return bool(FORMATO_NOME.match(texto))


def versao_invalida(texto: str) -> ErroVersaoNaoEncontrada:
    """The error for a string that names no version (exit 4, as a missing one)."""
    return ErroVersaoNaoEncontrada(
        f"versão inválida: {texto!r}; use o formato major.minor.patch "
        "(ex.: 1.2.3), 'ultima' ou '@alias' (ex.: @producao)"
    )


def ordem_versao(texto: str) -> tuple[int, int, int]:
    """Sort key of a stored version name: its three numbers."""
    m = FORMATO_NOME.match(texto)
    if not m:
        raise versao_invalida(texto)
    return int(m[1]), int(m[2]), int(m[3])


def maior_versao(nomes: list[str]) -> str | None:
    """The latest of the version names in `nomes` (others ignored), or None."""
    validos = [n for n in nomes if e_versao(n)]
    return max(validos, key=ordem_versao) if validos else None
