"""Exact binomial inference with the standard library: tails, one-sided test,
Clopper–Pearson interval, Holm correction, power.

Why not scipy: it would be a heavy runtime dependency for five functions. The
tests check every function against scipy (`scipy.stats.binomtest`, `beta.ppf`).

Tails are summed in log space from the far side of the mode, so each sum has
O(sqrt(n)) terms that shrink geometrically, and stays accurate for tiny p-values
(1e-300) and large n (10^6).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

_EPS_SOMA = 1e-17
_ITERACOES_BISSECAO = 200


def _log_pmf(k: int, n: int, p: float) -> float:
    return (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )


def _soma_cauda(k0: int, n: int, p: float, passo: int) -> float:
    """Σ pmf(k) for k = k0, k0 + passo, ... while inside [0, n]; k0 is on the far
    side of the mode, so the terms only shrink."""
    termo = math.exp(_log_pmf(k0, n, p))
    if termo == 0.0:
        return 0.0
    razao_p = p / (1.0 - p)
    total = 0.0
    k = k0
    while 0 <= k <= n:
        total += termo
        if termo < total * _EPS_SOMA:
            break
        if passo > 0:  # pmf(k+1) = pmf(k) * (n-k)/(k+1) * p/(1-p)
            termo *= (n - k) / (k + 1) * razao_p
        else:  # pmf(k-1) = pmf(k) * k/(n-k+1) * (1-p)/p
            termo *= k / (n - k + 1) / razao_p
        k += passo
    return total


def _checar(x: int, n: int, p: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n deve ser um inteiro >= 0, recebido {n!r}")
    if isinstance(x, bool) or not isinstance(x, int):
        raise ValueError(f"x deve ser um inteiro, recebido {x!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p deve estar em [0, 1], recebido {p!r}")


def cauda_superior(x: int, n: int, p: float) -> float:
    """P(X >= x) for X ~ Binomial(n, p)."""
    _checar(x, n, p)
    if x <= 0:
        return 1.0
    if x > n:
        return 0.0
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    if x > n * p:  # x is above the mean: sum upwards from x
        return min(1.0, _soma_cauda(x, n, p, +1))
    return max(0.0, 1.0 - _soma_cauda(x - 1, n, p, -1))


def cauda_inferior(x: int, n: int, p: float) -> float:
    """P(X <= x) for X ~ Binomial(n, p)."""
    _checar(x, n, p)
    if x < 0:
        return 0.0
    if x >= n:
        return 1.0
    if p == 0.0:
        return 1.0
    if p == 1.0:
        return 0.0
    if x < n * p:  # below the mean: sum downwards from x
        return min(1.0, _soma_cauda(x, n, p, -1))
    return max(0.0, 1.0 - _soma_cauda(x + 1, n, p, +1))


def p_valor_unilateral(x: int, n: int, p0: float) -> float:
    """Exact one-sided p-value of H1: "the success rate is above p0"."""
    return cauda_superior(x, n, p0)


def _bissecao(f_crescente: Callable[[float], float], alvo: float) -> float:
    """The p in [0, 1] where an increasing function of p crosses `alvo`."""
    lo, hi = 0.0, 1.0
    for _ in range(_ITERACOES_BISSECAO):
        meio = (lo + hi) / 2
        if meio in (lo, hi):  # no float left between them
            break
        if f_crescente(meio) < alvo:
            lo = meio
        else:
            hi = meio
    return (lo + hi) / 2


def intervalo_clopper_pearson(
    x: int, n: int, confianca: float = 0.95
) -> tuple[float, float]:
    """Exact two-sided Clopper–Pearson interval for a binomial proportion.

    The lower bound L solves P(X >= x | L) = α/2 and the upper U solves
    P(X <= x | U) = α/2 (the beta quantiles Beta(α/2; x, n−x+1) and
    Beta(1−α/2; x+1, n−x)), found by bisection on the exact tails.
    """
    _checar(x, n, 0.5)
    if not 0 <= x <= n or n == 0:
        raise ValueError(f"precisa 0 <= x <= n e n > 0, recebido x={x}, n={n}")
    if not 0.0 < confianca < 1.0:
        raise ValueError(f"confiança deve estar em (0, 1), recebido {confianca!r}")
    alfa = 1.0 - confianca
    inferior = 0.0 if x == 0 else _bissecao(lambda p: cauda_superior(x, n, p), alfa / 2)
    superior = (
        1.0
        if x == n
        else _bissecao(lambda p: 1.0 - cauda_inferior(x, n, p), 1.0 - alfa / 2)
    )
    return inferior, superior


def holm(p_valores: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input's order."""
    m = len(p_valores)
    ordem = sorted(range(m), key=lambda i: p_valores[i])
    ajustados = [0.0] * m
    maximo = 0.0
    for posicao, i in enumerate(ordem):
        maximo = max(maximo, min(1.0, (m - posicao) * p_valores[i]))
        ajustados[i] = maximo
    return ajustados


def valor_critico(n: int, p0: float, nivel: float) -> int | None:
    """The smallest x with P(X >= x | p0) <= nivel, or None if no x reaches it
    (not even x = n: a perfect record would not be significant)."""
    if cauda_superior(n, n, p0) > nivel:
        return None
    lo, hi = 0, n  # invariant: tail(hi) <= nivel
    while lo < hi:
        meio = (lo + hi) // 2
        if cauda_superior(meio, n, p0) <= nivel:
            hi = meio
        else:
            lo = meio + 1
    return lo


def poder(n: int, p0: float, p1: float, nivel: float) -> float:
    """Probability that the one-sided exact test at `nivel` rejects when the
    true rate is p1."""
    critico = valor_critico(n, p0, nivel)
    return 0.0 if critico is None else cauda_superior(critico, n, p1)
