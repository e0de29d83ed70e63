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
from .estatistica import (
    holm,
    intervalo_clopper_pearson,
    p_valor_unilateral,
    poder,
    valor_critico,
)
from .texto import inteiro_enorme

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
    if isinstance(valor, numbers.Integral) and not isinstance(valor, bool):
        return inteiro_enorme(int(valor)) or repr(valor)
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


# The decision rule of `comparar_com_acaso` (docs/METRICAS.md explains each).
ALFA = 0.05
# "Enough draws" means: a model that hits a tier twice as often as chance would
# be detected at least half of the time.
EFEITO_REFERENCIA = 2.0
PODER_MINIMO = 0.5
# Below this many pairs the normal approximation for the mean hit rate is poor.
MINIMO_SORTEIOS_MEDIA = 30

SUPERA = "supera o acaso"
NAO_SUPERA = "não supera o acaso"
INSUFICIENTE = "não há sorteios suficientes para decidir"
NAO_TESTAVEL = "não testável"


def _porcentagem(x: float) -> str:
    return "menor que 1%" if x < 0.01 else f"de {x:.0%}"


def _contagem(nome: str, taxa: float, total: int, por_par: int = 1) -> int:
    """The integer count behind a rate over `total` pairs (refuse a rounded rate)."""
    bruto = taxa * total * por_par
    contagem = round(bruto)
    if abs(bruto - contagem) > 1e-6 * max(1, por_par):
        raise ErroValidacao(
            f"métrica '{nome}' = {taxa!r} com {total} sorteios dá {bruto:.4g} "
            "acertos, que não é um número inteiro: informe a fração exata "
            "(acertos / sorteios, como calcular_metricas devolve) ou o número certo "
            "de sorteios"
        )
    return contagem


def _checar_n(n_sorteios: Any) -> int | None:
    if n_sorteios is None:
        return None
    if (
        isinstance(n_sorteios, bool)
        or not isinstance(n_sorteios, numbers.Integral)
        or not 1 <= int(n_sorteios) <= MAIOR_INTEIRO
    ):
        raise ErroValidacao(
            f"n_sorteios {_mostrar(n_sorteios)} inválido: use o número de sorteios "
            "avaliados (inteiro >= 1)"
        )
    return int(n_sorteios)


def _teste_faixa(
    nome: str, observado: float, acaso: float, n: int, confianca: float
) -> dict[str, Any]:
    acertos = _contagem(nome, observado, n)
    inferior, superior = intervalo_clopper_pearson(acertos, n, confianca)
    return {
        "metodo": "binomial exato unilateral; IC de Clopper-Pearson",
        "acertos": acertos,
        "p_valor": p_valor_unilateral(acertos, n, acaso),
        "intervalo_confianca": [inferior, superior],
    }


def _teste_media(
    observado: float, tamanho_aposta: int, n: int, confianca: float
) -> dict[str, Any]:
    """Mean hits per pair against the exact hypergeometric mean and variance
    (normal approximation of the sum of n independent pairs)."""
    acertos = _contagem("taxa_acerto_media", observado, n, NUMEROS_SORTEIO)
    p_num = NUMEROS_SORTEIO / NUMEROS_CARTELA
    media = tamanho_aposta * p_num
    variancia = (
        tamanho_aposta
        * p_num
        * (1 - p_num)
        * (NUMEROS_CARTELA - tamanho_aposta)
        / (NUMEROS_CARTELA - 1)
    )
    erro_padrao = math.sqrt(variancia / n)
    z = (acertos / n - media) / erro_padrao
    from statistics import NormalDist  # lazy: startup time (docs/DESEMPENHO.md)

    quantil = NormalDist().inv_cdf(1 - (1 - confianca) / 2)
    return {
        "metodo": "normal (média e variância hipergeométricas exatas); aproximado",
        "acertos": acertos,
        "p_valor": 0.5 * math.erfc(z / math.sqrt(2)),
        "intervalo_confianca": [
            max(0.0, (acertos / n - quantil * erro_padrao) / NUMEROS_SORTEIO),
            min(1.0, (acertos / n + quantil * erro_padrao) / NUMEROS_SORTEIO),
        ],
    }


def comparar_com_acaso(
    metricas: Mapping[str, Any],
    tamanho_aposta: int = 15,
    *,
    n_sorteios: int | None = None,
    alfa: float = ALFA,
) -> dict[str, dict[str, Any]]:
    """For each metric that has a chance baseline, observed vs. chance, decided by
    a test (docs/METRICAS.md has the formulas and a worked example).

    Each entry keeps observado, acaso, razao (observado / acaso) and supera_acaso,
    now True only when the test says so: each prize tier (acertos_11..15) by an
    exact one-sided binomial test of its hit count against the hypergeometric
    chance, taxa_acerto_media by a normal test of the mean, with Holm's
    correction across all the tests made. It adds n_sorteios, acertos, p_valor,
    p_ajustado, intervalo_confianca (Clopper-Pearson, 1 - alfa), poder (of
    detecting a model EFEITO_REFERENCIA times better than chance) and decisao:
    SUPERA, NAO_SUPERA, INSUFICIENTE or NAO_TESTAVEL.

    `n_sorteios` (else the metric "n_sorteios", if stored) is the number of
    draws behind the rates; without it nothing can be decided.
    """
    base = linha_base_aleatoria(tamanho_aposta)
    validas = validar_metricas(metricas)
    if not isinstance(alfa, float) or not 0.0 < alfa < 0.5:
        raise ErroValidacao(f"alfa {alfa!r} inválido: use um número entre 0 e 0,5")
    n = _checar_n(n_sorteios if n_sorteios is not None else validas.get("n_sorteios"))
    faixas = [f"acertos_{k}" for k in ACERTOS_CONTADOS]
    comparaveis = [*faixas, "taxa_acerto_media", "precisao_numeros_frequentes"]
    saida: dict[str, dict[str, Any]] = {}
    for nome in comparaveis:
        if nome not in validas:
            continue
        observado, acaso = validas[nome], base[nome]
        saida[nome] = {
            "observado": observado,
            "acaso": acaso,
            "razao": observado / acaso,
            "supera_acaso": False,
            "n_sorteios": n,
            "acertos": None,
            "p_valor": None,
            "p_ajustado": None,
            "intervalo_confianca": None,
            "nivel_confianca": 1 - alfa,
            "poder": None,
            "metodo": None,
        }
        if nome == "precisao_numeros_frequentes":
            saida[nome]["decisao"] = (
                f"{NAO_TESTAVEL}: faltam quantos números frequentes foram apostados"
            )
        elif n is None:
            saida[nome]["decisao"] = (
                f"{INSUFICIENTE}: número de sorteios não informado (n_sorteios)"
            )
        elif nome == "taxa_acerto_media":
            saida[nome].update(_teste_media(observado, tamanho_aposta, n, 1 - alfa))
        else:
            saida[nome].update(_teste_faixa(nome, observado, acaso, n, 1 - alfa))
    testados = [nome for nome, e in saida.items() if e["p_valor"] is not None]
    ajustados = holm([saida[nome]["p_valor"] for nome in testados])
    for nome, p_ajustado in zip(testados, ajustados, strict=True):
        e = saida[nome]
        assert n is not None
        e["p_ajustado"] = p_ajustado
        # Power at the strictest level Holm may apply (alfa / number of tests).
        nivel = alfa / len(testados)
        if nome == "taxa_acerto_media":
            e["poder"] = None
            suficiente = n >= MINIMO_SORTEIOS_MEDIA
            motivo = f"são precisos ao menos {MINIMO_SORTEIOS_MEDIA} sorteios"
        else:
            p1 = min(1.0, EFEITO_REFERENCIA * e["acaso"])
            e["poder"] = poder(n, e["acaso"], p1, nivel)
            suficiente = e["poder"] >= PODER_MINIMO
            motivo = (
                "nem acertando em todos os sorteios o resultado seria significativo"
                if valor_critico(n, e["acaso"], nivel) is None
                else f"o poder de detectar um modelo {EFEITO_REFERENCIA:g} vezes "
                f"melhor que o acaso é {_porcentagem(e['poder'])}"
            )
        if p_ajustado < alfa:
            e["supera_acaso"] = True
            e["decisao"] = SUPERA
        elif suficiente:
            e["decisao"] = NAO_SUPERA
        else:
            e["decisao"] = f"{INSUFICIENTE}: {motivo}"
    return saida


def teste_acaso_para_exibir(
    metricas: Mapping[str, Any], tamanho_aposta: int = 15
) -> dict[str, dict[str, Any]]:
    """`comparar_com_acaso` for reports: one summary per known metric, never raises.

    Whoever shows "supera o acaso" shows the test behind it: decisao, p-values,
    the number of draws and the method. Stored metrics that cannot be tested (a
    rounded rate, a bad n_sorteios) get a decision that says why.
    """
    try:
        resultado = comparar_com_acaso(metricas, tamanho_aposta)
    except ErroValidacao as e:
        return {
            nome: {
                "decisao": f"{NAO_TESTAVEL}: {e}",
                "supera_acaso": False,
                "p_valor": None,
                "p_ajustado": None,
                "n_sorteios": None,
                "metodo": None,
            }
            for nome in METRICAS_CONHECIDAS
            if nome in metricas
        }
    campos = ("decisao", "supera_acaso", "p_valor", "p_ajustado", "n_sorteios")
    return {
        nome: {**{c: e[c] for c in campos}, "metodo": e["metodo"]}
        for nome, e in resultado.items()
    }
