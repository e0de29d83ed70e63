"""Lotofácil metrics: exact definitions, validation, computation, chance baseline.

A draw (sorteio) is 15 distinct numbers from 1 to 25. A bet (aposta, previsão) is
15 to 20 distinct numbers from 1 to 25. Prediction i is scored against draw i; the
hits of a pair are ``|aposta ∩ sorteio|`` (0 to 15). With N pairs:

- ``acertos_k`` for k in 15, 14, 13, 12, 11: the fraction of the N pairs with
  EXACTLY k hits. Each is a rate in [0, 1].
- ``taxa_acerto_media``: the mean number of hits per pair divided by 15 (the most
  a pair can hit), a rate in [0, 1]. Chance gives n/25 for an n-number bet.
- ``precisao_numeros_frequentes``: given the set F of frequent numbers (chosen
  by the caller, e.g. the most drawn numbers in past draws), of all the numbers
  the bets picked from F, the fraction that was drawn:
  ``Σ|aposta ∩ F ∩ sorteio| / Σ|aposta ∩ F|``; 0.0 when the bets never pick a
  number of F. Absent from the result when F is not given. Chance gives 0.6.
- ``cobertura_padroes``: the pattern of a draw is the pair (how many odd numbers,
  how many numbers on the card's frame). The frame (moldura) is the border of the
  5x5 card: 1-5, 6, 10, 11, 15, 16, 20, 21-25; the other nine are the centre
  (miolo). A bet covers a draw's pattern when it holds 15 of its numbers with the
  same odd count and the same frame count (for a 15-number bet: both counts
  equal). The metric is the fraction of the N pairs whose bet covers its draw's
  pattern, a rate in [0, 1].

Any other metric name is accepted as a custom metric if its value is a finite
number (bool and text are refused: they cannot be compared or charted).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from .erros import ErroValidacao

NUMEROS_CARTELA = 25
NUMEROS_SORTEIO = 15
TAMANHO_MIN_APOSTA = 15
TAMANHO_MAX_APOSTA = 20
ACERTOS_CONTADOS = (15, 14, 13, 12, 11)

MOLDURA = frozenset({1, 2, 3, 4, 5, 6, 10, 11, 15, 16, 20, 21, 22, 23, 24, 25})

METRICAS_CONHECIDAS: dict[str, str] = {
    "acertos_15": "fração das apostas com exatamente 15 acertos",
    "acertos_14": "fração das apostas com exatamente 14 acertos",
    "acertos_13": "fração das apostas com exatamente 13 acertos",
    "acertos_12": "fração das apostas com exatamente 12 acertos",
    "acertos_11": "fração das apostas com exatamente 11 acertos",
    "taxa_acerto_media": "média de acertos por aposta dividida por 15",
    "precisao_numeros_frequentes": "fração dos números frequentes apostados que "
    "foram sorteados",
    "cobertura_padroes": "fração das apostas que reproduzem o padrão "
    "ímpares/moldura do sorteio",
}


# Custom integer metrics stay exact in JSON readers that use doubles (and in
# SQLite's 64-bit integers); anything larger is surely a mistake.
MAIOR_INTEIRO = 2**53 - 1


def _mostrar(valor: Any) -> str:
    """A value for a message; a huge int is described, not printed."""
    if isinstance(valor, numbers.Integral) and abs(int(valor)) > 10**15:
        return f"um inteiro de {len(str(abs(int(valor))))} dígitos"
    return repr(valor)


def _problema_numero(valor: Any) -> str | None:
    """Why `valor` is not a usable metric value, or None. No float() of a huge int."""
    if isinstance(valor, bool) or not isinstance(valor, numbers.Real):
        return f"valor {_mostrar(valor)} não é um número finito"
    if isinstance(valor, numbers.Integral):
        if abs(int(valor)) > MAIOR_INTEIRO:
            return (
                f"valor {_mostrar(valor)} fora da faixa de inteiros aceita "
                f"(±{MAIOR_INTEIRO})"
            )
        return None
    try:
        finito = math.isfinite(float(valor))
    except (OverflowError, ValueError):
        finito = False
    return None if finito else f"valor {_mostrar(valor)} não é um número finito"


def validar_metricas(metricas: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a metrics dict; return a normalized copy.

    Known metrics become floats in [0, 1]; custom ones keep int or become float
    (numpy scalars included). Raises ErroValidacao naming the metric and value.
    """
    if metricas is None:
        return {}
    if not isinstance(metricas, Mapping):
        raise ErroValidacao(
            "métricas devem ser um dicionário nome -> número, "
            f"recebido {type(metricas).__name__}"
        )
    saida: dict[str, Any] = {}
    for nome, valor in metricas.items():
        if not isinstance(nome, str) or not nome.strip():
            raise ErroValidacao(
                f"nome de métrica inválido: {nome!r} (use um texto não vazio)"
            )
        problema = _problema_numero(valor)
        if problema:
            raise ErroValidacao(f"métrica '{nome}': {problema}")
        if nome in METRICAS_CONHECIDAS:
            convertido = float(valor)
            if not 0.0 <= convertido <= 1.0:
                raise ErroValidacao(
                    f"métrica '{nome}': valor {valor!r} fora do "
                    "intervalo [0, 1] (é uma taxa)"
                )
            saida[nome] = convertido
        elif isinstance(valor, numbers.Integral):
            saida[nome] = int(valor)
        else:
            saida[nome] = float(valor)
    return saida


def _conjunto(numeros: Any, rotulo: str, minimo: int, maximo: int) -> frozenset[int]:
    """Validate one draw/bet/frequent set; `rotulo` names it in messages."""
    if isinstance(numeros, (str, bytes)):
        raise ErroValidacao(f"{rotulo}: esperado uma lista de números")
    try:
        itens = list(numeros)
    except TypeError:
        raise ErroValidacao(
            f"{rotulo}: esperado uma lista de números, recebido {numeros!r}"
        ) from None
    for x in itens:
        if isinstance(x, bool) or not isinstance(x, numbers.Integral):
            raise ErroValidacao(f"{rotulo}: {x!r} não é um número inteiro")
        if not 1 <= int(x) <= NUMEROS_CARTELA:
            raise ErroValidacao(f"{rotulo}: número {x} fora de 1 a {NUMEROS_CARTELA}")
    valores = [int(x) for x in itens]
    conjunto = frozenset(valores)
    if len(conjunto) != len(valores):
        repetidos = sorted({x for x in valores if valores.count(x) > 1})
        raise ErroValidacao(f"{rotulo}: números repetidos {repetidos}")
    if not minimo <= len(conjunto) <= maximo:
        faixa = str(minimo) if minimo == maximo else f"de {minimo} a {maximo}"
        raise ErroValidacao(f"{rotulo}: tem {len(conjunto)} números; esperado {faixa}")
    return conjunto


def _padrao(numeros: frozenset[int]) -> tuple[int, int]:
    """(odd count, frame count)."""
    return (sum(1 for x in numeros if x % 2), len(numeros & MOLDURA))


def cobre_padrao(aposta: frozenset[int], sorteio: frozenset[int]) -> bool:
    """Whether 15 of the bet's numbers can share the draw's odd and frame counts."""
    impares, moldura = _padrao(sorteio)
    # Counts of the bet's numbers in each (odd?, frame?) cell.
    im = sum(1 for x in aposta if x % 2 and x in MOLDURA)
    ic = sum(1 for x in aposta if x % 2 and x not in MOLDURA)
    pm = sum(1 for x in aposta if not x % 2 and x in MOLDURA)
    pc = sum(1 for x in aposta if not x % 2 and x not in MOLDURA)
    for a in range(im + 1):  # a = odd frame numbers taken
        b = impares - a  # odd centre
        c = moldura - a  # even frame
        d = NUMEROS_SORTEIO - impares - moldura + a  # even centre
        if 0 <= b <= ic and 0 <= c <= pm and 0 <= d <= pc:
            return True
    return False


def calcular_metricas(
    previsoes: Iterable[Iterable[int]],
    sorteios: Iterable[Iterable[int]],
    numeros_frequentes: Iterable[int] | None = None,
) -> dict[str, float]:
    """Score bets against draws (bet i against draw i) with the definitions above.

    Any iterables work (lists, tuples, sets, numpy arrays); the spec's
    ``Sequence[Sequence[int]]`` is the common case.
    """
    if isinstance(previsoes, (str, bytes)) or isinstance(sorteios, (str, bytes)):
        raise ErroValidacao("previsões e sorteios devem ser listas de apostas")
    try:
        lista_prev, lista_sort = list(previsoes), list(sorteios)
    except TypeError:
        raise ErroValidacao(
            "previsões e sorteios devem ser listas de apostas"
        ) from None
    n_prev, n_sort = len(lista_prev), len(lista_sort)
    if n_prev != n_sort:
        raise ErroValidacao(
            f"quantidade de previsões ({n_prev}) difere da de "
            f"sorteios ({n_sort}); a previsão i é comparada ao "
            "sorteio i"
        )
    if n_sort == 0:
        raise ErroValidacao("nenhum sorteio para avaliar")
    apostas = [
        _conjunto(p, f"previsão {i}", TAMANHO_MIN_APOSTA, TAMANHO_MAX_APOSTA)
        for i, p in enumerate(lista_prev)
    ]
    resultados = [
        _conjunto(s, f"sorteio {i}", NUMEROS_SORTEIO, NUMEROS_SORTEIO)
        for i, s in enumerate(lista_sort)
    ]
    frequentes = (
        None
        if numeros_frequentes is None
        else _conjunto(numeros_frequentes, "números frequentes", 1, NUMEROS_CARTELA)
    )

    acertos = [len(a & s) for a, s in zip(apostas, resultados, strict=True)]
    metricas: dict[str, float] = {}
    for k in ACERTOS_CONTADOS:
        metricas[f"acertos_{k}"] = sum(1 for h in acertos if h == k) / n_sort
    metricas["taxa_acerto_media"] = sum(acertos) / n_sort / NUMEROS_SORTEIO
    if frequentes is not None:
        apostados = sum(len(a & frequentes) for a in apostas)
        certos = sum(
            len(a & frequentes & s) for a, s in zip(apostas, resultados, strict=True)
        )
        metricas["precisao_numeros_frequentes"] = (
            certos / apostados if apostados else 0.0
        )
    metricas["cobertura_padroes"] = (
        sum(1 for a, s in zip(apostas, resultados, strict=True) if cobre_padrao(a, s))
        / n_sort
    )
    return metricas


def _checar_tamanho(tamanho_aposta: int) -> None:
    if (
        isinstance(tamanho_aposta, bool)
        or not isinstance(tamanho_aposta, int)
        or not TAMANHO_MIN_APOSTA <= tamanho_aposta <= TAMANHO_MAX_APOSTA
    ):
        raise ErroValidacao(
            f"tamanho da aposta {tamanho_aposta!r} inválido; use de "
            f"{TAMANHO_MIN_APOSTA} a {TAMANHO_MAX_APOSTA}"
        )


def linha_base_aleatoria(tamanho_aposta: int = 15) -> dict[str, Any]:
    """What a random bet of `tamanho_aposta` numbers scores against a random draw.

    Hits follow the hypergeometric law: P(k) = C(n, k)·C(25 − n, 15 − k) / C(25, 15).
    `distribuicao[k]` is P(k) for k = 0..15 (it sums to 1).
    """
    _checar_tamanho(tamanho_aposta)
    n = tamanho_aposta
    total = math.comb(NUMEROS_CARTELA, NUMEROS_SORTEIO)
    distribuicao = [
        math.comb(n, k) * math.comb(NUMEROS_CARTELA - n, NUMEROS_SORTEIO - k) / total
        for k in range(NUMEROS_SORTEIO + 1)
    ]
    media = n * NUMEROS_SORTEIO / NUMEROS_CARTELA
    base: dict[str, Any] = {"tamanho_aposta": n}
    for k in ACERTOS_CONTADOS:
        base[f"acertos_{k}"] = distribuicao[k]
    base["media_acertos"] = media
    base["taxa_acerto_media"] = media / NUMEROS_SORTEIO
    # Each number is drawn with probability 15/25, whatever F the caller picks.
    base["precisao_numeros_frequentes"] = NUMEROS_SORTEIO / NUMEROS_CARTELA
    base["distribuicao"] = distribuicao
    return base


def comparar_com_acaso(
    metricas: Mapping[str, Any], tamanho_aposta: int = 15
) -> dict[str, dict[str, Any]]:
    """For each metric that has a chance baseline, observed vs. chance.

    Each entry: observado, acaso, razao (observado / acaso) and supera_acaso
    (observado > acaso). Metrics absent from `metricas` are left out.
    """
    base = linha_base_aleatoria(tamanho_aposta)
    validas = validar_metricas(metricas)
    comparaveis = [f"acertos_{k}" for k in ACERTOS_CONTADOS] + [
        "taxa_acerto_media",
        "precisao_numeros_frequentes",
    ]
    saida: dict[str, dict[str, Any]] = {}
    for nome in comparaveis:
        if nome not in validas:
            continue
        observado, acaso = validas[nome], base[nome]
        saida[nome] = {
            "observado": observado,
            "acaso": acaso,
            "razao": observado / acaso,
            "supera_acaso": observado > acaso,
        }
    return saida
