"""`comparar_com_acaso` decides with a real test; every number is checked against
scipy, computed independently."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from scipy import stats

from backup_versionamento.erros import ErroValidacao
from backup_versionamento.estatistica import (
    cauda_inferior,
    cauda_superior,
    holm,
    intervalo_clopper_pearson,
    p_valor_unilateral,
    poder,
    valor_critico,
)
from backup_versionamento.metricas import (
    INSUFICIENTE,
    NAO_SUPERA,
    NAO_TESTAVEL,
    SUPERA,
    calcular_metricas,
    comparar_com_acaso,
)

# The hypergeometric chance of each prize tier for a 15-number bet.
P15 = {k: stats.hypergeom(25, 15, 15).pmf(k) for k in range(11, 16)}

CASOS_CAUDA = [
    (x, n, p)
    for n in (1, 7, 200, 5000, 200_000)
    for p in (P15[15], P15[14], P15[13], P15[12], P15[11], 0.5, 0.93)
    for x in sorted({0, 1, 2, n // 3, round(n * p), round(n * p) + 3, n - 1, n})
    if 0 <= x <= n
]


@pytest.mark.parametrize(("x", "n", "p"), CASOS_CAUDA)
def test_caudas_conferem_com_scipy(x: int, n: int, p: float) -> None:
    sup, inf = stats.binom.sf(x - 1, n, p), stats.binom.cdf(x, n, p)
    assert cauda_superior(x, n, p) == pytest.approx(sup, rel=1e-8, abs=1e-300)
    assert cauda_inferior(x, n, p) == pytest.approx(inf, rel=1e-8, abs=1e-300)


def test_teste_unilateral_confere_com_binomtest() -> None:
    rng = random.Random(7)
    for _ in range(60):
        n = rng.choice([10, 200, 1000, 30_000])
        p = rng.choice(list(P15.values()))
        x = rng.randint(0, min(n, round(n * p * 4) + 3))
        esperado = stats.binomtest(x, n, p, alternative="greater").pvalue
        assert p_valor_unilateral(x, n, p) == pytest.approx(esperado, rel=1e-8)


@pytest.mark.parametrize(
    ("x", "n"),
    [
        (0, 1),
        (1, 1),
        (0, 200),
        (1, 200),
        (4, 200),
        (40, 200),
        (199, 200),
        (200, 200),
        (1, 100_000),
        (8770, 100_000),
        (3, 3_000_000),
    ],
)
@pytest.mark.parametrize("confianca", [0.95, 0.99])
def test_clopper_pearson_confere_com_quantis_beta(
    x: int, n: int, confianca: float
) -> None:
    alfa = 1 - confianca
    inferior, superior = intervalo_clopper_pearson(x, n, confianca)
    esp_inf = 0.0 if x == 0 else stats.beta.ppf(alfa / 2, x, n - x + 1)
    esp_sup = 1.0 if x == n else stats.beta.ppf(1 - alfa / 2, x + 1, n - x)
    assert inferior == pytest.approx(esp_inf, rel=1e-8, abs=1e-300)
    assert superior == pytest.approx(esp_sup, rel=1e-8)
    ci = stats.binomtest(x, n).proportion_ci(confianca, "exact")
    assert inferior == pytest.approx(ci.low, rel=1e-5, abs=1e-300)
    assert superior == pytest.approx(ci.high, rel=1e-5)


def test_holm_a_mao() -> None:
    # Sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04).
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_valor_critico_e_poder_conferem_com_scipy() -> None:
    n, p0, nivel = 500, P15[12], 0.01
    c = valor_critico(n, p0, nivel)
    assert c is not None
    assert stats.binom.sf(c - 1, n, p0) <= nivel < stats.binom.sf(c - 2, n, p0)
    assert poder(n, p0, 2 * p0, nivel) == pytest.approx(
        stats.binom.sf(c - 1, n, 2 * p0), rel=1e-8
    )
    # 10 draws: even 10 jackpots... would be significant, but 3 draws at 11 hits
    # (p = 0.088): 0.088**3 = 6.7e-4 > 1e-4.
    assert valor_critico(3, P15[11], 1e-4) is None
    assert poder(3, P15[11], 0.5, 1e-4) == 0.0


# --- comparar_com_acaso ------------------------------------------------------------


def _sorteios_e_apostas_ao_acaso(n: int, semente: int) -> tuple[list[Any], list[Any]]:
    rng = random.Random(semente)
    sorteios = [rng.sample(range(1, 26), 15) for _ in range(n)]
    apostas = [rng.sample(range(1, 26), 15) for _ in range(n)]
    return apostas, sorteios


def test_exemplo_da_issue_previsoes_ao_acaso_nao_superam() -> None:
    """0.02 against chance 0.0167 at 12 hits over 200 draws: 4 hits against 3.34
    expected is noise, not skill (the old rule said supera_acaso: True)."""
    comp = comparar_com_acaso({"acertos_12": 0.02}, n_sorteios=200)
    e = comp["acertos_12"]
    assert e["acertos"] == 4 and e["n_sorteios"] == 200
    assert e["p_valor"] == pytest.approx(
        stats.binomtest(4, 200, P15[12], alternative="greater").pvalue, rel=1e-9
    )
    assert e["p_valor"] > 0.3
    assert e["supera_acaso"] is False
    assert e["decisao"].startswith(INSUFICIENTE)
    lo, hi = e["intervalo_confianca"]
    assert lo < P15[12] < hi


@pytest.mark.parametrize("semente", range(5))
def test_apostas_ao_acaso_nunca_superam(semente: int) -> None:
    apostas, sorteios = _sorteios_e_apostas_ao_acaso(300, semente)
    m = calcular_metricas(apostas, sorteios)
    comp = comparar_com_acaso(m, n_sorteios=300)
    assert not any(e["supera_acaso"] for e in comp.values()), comp


def test_modelo_bom_supera_com_holm() -> None:
    # 40 of 200 at 12 hits (chance 3.3 expected); 6 tests in the family.
    metricas = {
        "acertos_15": 0.0,
        "acertos_14": 0.0,
        "acertos_13": 0.0,
        "acertos_12": 0.2,
        "acertos_11": 0.1,
        "taxa_acerto_media": 0.6,
    }
    comp = comparar_com_acaso(metricas, n_sorteios=200)
    p = {k: v["p_valor"] for k, v in comp.items()}
    ajust = dict(zip(p, holm(list(p.values())), strict=True))
    for nome, e in comp.items():
        assert e["p_ajustado"] == pytest.approx(ajust[nome])
    assert comp["acertos_12"]["supera_acaso"] is True
    assert comp["acertos_12"]["decisao"] == SUPERA
    assert comp["acertos_12"]["p_ajustado"] == pytest.approx(
        6 * stats.binomtest(40, 200, P15[12], alternative="greater").pvalue, rel=1e-8
    )
    # 20/200 at 11 hits against 8.8% is noise, and 200 draws are enough to say so.
    assert comp["acertos_11"]["decisao"] == NAO_SUPERA
    # 200 draws cannot tell anything about 14 or 15 hits.
    assert comp["acertos_15"]["decisao"].startswith(INSUFICIENTE)
    assert comp["acertos_14"]["decisao"].startswith(INSUFICIENTE)
    assert comp["taxa_acerto_media"]["supera_acaso"] is False


def test_correcao_muda_a_decisao() -> None:
    """A p-value just under 0.05 alone, but not once five tiers are tested."""
    n, x = 400, 0
    while stats.binom.sf(x - 1, n, P15[12]) > 0.05:
        x += 1
    sozinho = comparar_com_acaso({"acertos_12": x / n}, n_sorteios=n)
    assert sozinho["acertos_12"]["supera_acaso"] is True
    familia = {f"acertos_{k}": 0.0 for k in (11, 13, 14, 15)}
    familia["acertos_12"] = x / n
    junto = comparar_com_acaso(familia, n_sorteios=n)
    assert junto["acertos_12"]["p_valor"] == sozinho["acertos_12"]["p_valor"]
    assert junto["acertos_12"]["supera_acaso"] is False


def test_um_unico_sorteio_nunca_decide() -> None:
    comp = comparar_com_acaso({"acertos_11": 1.0}, n_sorteios=1)
    e = comp["acertos_11"]
    assert e["supera_acaso"] is False
    assert "nem acertando em todos os sorteios" in e["decisao"]
    assert e["poder"] == 0.0


def test_sem_numero_de_sorteios_nao_decide() -> None:
    comp = comparar_com_acaso({"acertos_11": 0.5, "precisao_numeros_frequentes": 0.9})
    assert comp["acertos_11"]["supera_acaso"] is False
    assert comp["acertos_11"]["p_valor"] is None
    assert "n_sorteios" in comp["acertos_11"]["decisao"]
    assert comp["precisao_numeros_frequentes"]["decisao"].startswith(NAO_TESTAVEL)
    # The number of draws may also be stored with the metrics.
    guardado = comparar_com_acaso({"acertos_11": 0.5, "n_sorteios": 200})
    assert guardado["acertos_11"]["supera_acaso"] is True


def test_media_contra_a_normal_hipergeometrica() -> None:
    n, total = 400, 400 * 9 + 120  # 0.3 hits per draw above the mean of 9
    comp = comparar_com_acaso({"taxa_acerto_media": total / n / 15}, n_sorteios=n)
    e = comp["taxa_acerto_media"]
    hyper = stats.hypergeom(25, 15, 15)
    z = (total / n - hyper.mean()) / math.sqrt(hyper.var() / n)
    assert e["p_valor"] == pytest.approx(stats.norm.sf(z), rel=1e-9)
    assert e["supera_acaso"] is True


@pytest.mark.parametrize(
    ("metricas", "n", "trecho"),
    [
        ({"acertos_12": 0.0167}, 200, "não é um número inteiro"),
        ({"acertos_12": 0.02}, 0, "n_sorteios 0 inválido"),
        ({"acertos_12": 0.02}, True, "n_sorteios True inválido"),
        ({"acertos_12": 0.02}, 10**400, "dígitos"),
    ],
)
def test_entrada_invalida(metricas: dict[str, float], n: Any, trecho: str) -> None:
    with pytest.raises(ErroValidacao) as e:
        comparar_com_acaso(metricas, n_sorteios=n)
    assert trecho in str(e.value)


def test_exemplo_do_documento() -> None:
    """The worked example of docs/METRICAS.md, number by number."""
    comp = comparar_com_acaso(
        {
            "acertos_14": 0.0,
            "acertos_13": 4 / 500,
            "acertos_12": 14 / 500,
            "acertos_11": 52 / 500,
        },
        n_sorteios=500,
    )
    e14, e13, e12, e11 = (comp[f"acertos_{k}"] for k in (14, 13, 12, 11))
    assert [e["acertos"] for e in (e14, e13, e12, e11)] == [0, 4, 14, 52]
    assert e13["p_valor"] == pytest.approx(0.006373, abs=5e-7)
    assert e12["p_valor"] == pytest.approx(0.04436, abs=5e-6)
    assert e11["p_valor"] == pytest.approx(0.1148, abs=5e-5)
    assert e14["p_valor"] == 1.0
    assert e13["p_ajustado"] == pytest.approx(4 * 0.006373, abs=5e-6)
    assert e12["p_ajustado"] == pytest.approx(3 * 0.04436, abs=5e-5)
    assert e11["p_ajustado"] == pytest.approx(2 * 0.1148, abs=5e-4)
    assert [round(v, 4) for v in e13["intervalo_confianca"]] == [0.0022, 0.0204]
    assert [round(v, 4) for v in e12["intervalo_confianca"]] == [0.0154, 0.0465]
    assert [round(v, 4) for v in e14["intervalo_confianca"]] == [0.0, 0.0074]
    assert e13["decisao"] == SUPERA and e13["supera_acaso"] is True
    assert e12["decisao"] == NAO_SUPERA and round(e12["poder"], 2) == 0.60
    assert e11["decisao"] == NAO_SUPERA
    assert e14["decisao"] == (
        f"{INSUFICIENTE}: o poder de detectar um modelo 2 vezes melhor que o acaso "
        "é menor que 1%"
    )
