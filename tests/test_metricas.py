"""Lotofácil metrics: hand-computed examples, the chance baseline, bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from backup_versionamento.erros import ErroValidacao
from backup_versionamento.metricas import (
    calcular_metricas,
    cobre_padrao,
    comparar_com_acaso,
    linha_base_aleatoria,
    validar_metricas,
)

C_25_15 = 3268760  # C(25, 15): every possible draw
UM_A_15 = list(range(1, 16))


def test_exemplo_calculado_a_mao_apostas_de_15() -> None:
    previsoes = [
        UM_A_15,  # 15 hits, same pattern
        UM_A_15,  # vs 11..25: 5 hits, same (8, 9)
        [*range(1, 15), 16],  # 14 hits; 7 odd: pattern differs
        [*range(1, 12), 16, 17, 18, 19],  # 11 hits; (8 odd, 9 frame)
    ]
    sorteios = [UM_A_15, list(range(11, 26)), UM_A_15, UM_A_15]
    m = calcular_metricas(previsoes, sorteios, numeros_frequentes=[1, 16, 20, 25])
    assert m == {
        "acertos_15": 0.25,
        "acertos_14": 0.25,
        "acertos_13": 0.0,
        "acertos_12": 0.0,
        "acertos_11": 0.25,
        "taxa_acerto_media": 0.75,  # (15 + 5 + 14 + 11) / 4 / 15
        "precisao_numeros_frequentes": 0.5,  # F picks {1},{1},{1,16},{1,16}: 3 of 6
        "cobertura_padroes": 0.75,  # all but the third pair
    }


def test_apostas_de_20_numeros() -> None:
    pares = list(range(2, 25, 2))  # 12 even numbers
    oito_impares = [1, 3, 5, 7, 9, 11, 13, 15]
    dez_impares = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 2, 4, 6, 8, 10]
    previsoes = [list(range(1, 21)), list(range(6, 26)), pares + oito_impares]
    sorteios = [UM_A_15, UM_A_15, dez_impares]
    m = calcular_metricas(previsoes, sorteios)
    # Hits: 15, 10 (6..15), 13 (8 odd + 2,4,6,8,10). The third bet has only 8 odd
    # numbers and cannot reproduce a draw with 10; 6..25 can pick 3 odd frame,
    # 5 odd centre, 6 even frame and 1 even centre = (8 odd, 9 frame).
    assert m == {
        "acertos_15": pytest.approx(1 / 3),
        "acertos_14": 0.0,
        "acertos_13": pytest.approx(1 / 3),
        "acertos_12": 0.0,
        "acertos_11": 0.0,
        "taxa_acerto_media": pytest.approx(38 / 45),
        "cobertura_padroes": pytest.approx(2 / 3),
    }
    assert "precisao_numeros_frequentes" not in m


def test_cobre_padrao_confere_as_quatro_celulas() -> None:
    # Cells: odd frame, odd centre, even frame, even centre.
    aposta = frozenset({1, 3, 5, 11} | {7, 9, 13, 17} | {2, 4, 6, 10} | {8, 12, 14})
    sorteio = frozenset({1, 3, 5} | {7, 9, 13, 17} | {2, 4, 6, 10} | {8, 12, 14, 18})
    # The draw is (7 odd, 7 frame), the bet (8, 8): it has enough numbers in three
    # cells, but would need 4 even centre numbers and holds 3.
    assert not cobre_padrao(aposta, sorteio)
    assert cobre_padrao(sorteio, sorteio)
    assert cobre_padrao(aposta | {18, 19}, sorteio)  # 17 numbers: now it fits


def test_precisao_sem_numeros_frequentes_apostados_e_zero() -> None:
    m = calcular_metricas([UM_A_15], [UM_A_15], numeros_frequentes=[20, 25])
    assert m["precisao_numeros_frequentes"] == 0.0


def test_aceita_tuplas_conjuntos_e_numpy() -> None:
    previsoes = np.array([UM_A_15], dtype=np.int64)
    m = calcular_metricas(previsoes, [tuple(range(11, 26))], {1, 2, 11})
    assert m["acertos_11"] == 0.0
    assert m["taxa_acerto_media"] == pytest.approx(5 / 15)
    assert m["precisao_numeros_frequentes"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("previsoes", "sorteios", "frequentes", "trecho"),
    [
        (
            [UM_A_15],
            [list(range(1, 15))],
            None,
            "sorteio 0: tem 14 números; esperado 15",
        ),
        (
            [UM_A_15, UM_A_15],
            [UM_A_15, [*range(2, 16), 26]],
            None,
            "sorteio 1: número 26 fora de 1 a 25",
        ),
        ([[*range(1, 15), 1]], [UM_A_15], None, "previsão 0: números repetidos [1]"),
        (
            [list(range(1, 22))],
            [UM_A_15],
            None,
            "previsão 0: tem 21 números; esperado de 15 a 20",
        ),
        ([list(range(1, 15))], [UM_A_15], None, "previsão 0: tem 14 números"),
        ([[*range(1, 15), 15.0]], [UM_A_15], None, "previsão 0: 15.0 não é"),
        ([[*range(1, 15), True]], [UM_A_15], None, "previsão 0: True não é"),
        ([list(range(0, 15))], [UM_A_15], None, "previsão 0: número 0 fora"),
        (["1,2,3"], [UM_A_15], None, "previsão 0: esperado uma lista"),
        ([UM_A_15], [UM_A_15, UM_A_15], None, "quantidade de previsões (1) difere"),
        ([], [], None, "nenhum sorteio"),
        ([UM_A_15], [UM_A_15], [], "números frequentes: tem 0 números"),
        ([UM_A_15], [UM_A_15], [30], "números frequentes: número 30 fora"),
        ([UM_A_15], [7], None, "sorteio 0: esperado uma lista"),
    ],
)
def test_entrada_invalida(
    previsoes: Any, sorteios: Any, frequentes: Any, trecho: str
) -> None:
    with pytest.raises(ErroValidacao) as e:
        calcular_metricas(previsoes, sorteios, frequentes)
    assert trecho in str(e.value)


def test_linha_base_aposta_de_15_pela_forma_fechada() -> None:
    base = linha_base_aleatoria()
    assert base["tamanho_aposta"] == 15
    # C(15,k) * C(10,15-k) / C(25,15)
    assert base["acertos_15"] == pytest.approx(1 / C_25_15, rel=1e-12)
    assert base["acertos_14"] == pytest.approx(15 * 10 / C_25_15, rel=1e-12)
    assert base["acertos_13"] == pytest.approx(105 * 45 / C_25_15, rel=1e-12)
    assert base["acertos_12"] == pytest.approx(455 * 120 / C_25_15, rel=1e-12)
    assert base["acertos_11"] == pytest.approx(1365 * 210 / C_25_15, rel=1e-12)
    # The lottery's published odds: 1 in 11.4 for 11 hits, 1 in 691.8 for 13.
    assert 1 / base["acertos_11"] == pytest.approx(11.40, abs=0.01)
    assert 1 / base["acertos_13"] == pytest.approx(691.8, abs=0.1)
    assert base["media_acertos"] == 9.0
    assert base["taxa_acerto_media"] == pytest.approx(0.6)
    assert base["precisao_numeros_frequentes"] == pytest.approx(0.6)
    # With 15 numbers at least 5 must be among the 15 drawn (only 10 are left out).
    assert base["distribuicao"][:5] == [0.0] * 5
    assert len(base["distribuicao"]) == 16


def test_linha_base_aposta_de_20() -> None:
    base = linha_base_aleatoria(20)
    # A 20-number bet holds C(20,15) = 15504 of the C(25,15) draws.
    assert base["acertos_15"] == pytest.approx(15504 / C_25_15, rel=1e-12)
    assert base["acertos_14"] == pytest.approx(38760 * 5 / C_25_15, rel=1e-12)
    assert base["distribuicao"][:10] == [0.0] * 10
    assert base["media_acertos"] == 12.0
    assert base["taxa_acerto_media"] == pytest.approx(0.8)


@pytest.mark.parametrize("tamanho", range(15, 21))
def test_distribuicao_soma_um_e_media_confere(tamanho: int) -> None:
    base = linha_base_aleatoria(tamanho)
    dist = base["distribuicao"]
    assert sum(dist) == pytest.approx(1.0, abs=1e-12)
    assert sum(k * p for k, p in enumerate(dist)) == pytest.approx(tamanho * 0.6)


@pytest.mark.parametrize("tamanho", [14, 21, 0, True, 15.0])
def test_tamanho_de_aposta_invalido(tamanho: Any) -> None:
    with pytest.raises(ErroValidacao) as e:
        linha_base_aleatoria(tamanho)
    assert "tamanho da aposta" in str(e.value)


def test_comparar_com_acaso() -> None:
    comp = comparar_com_acaso(
        {"acertos_11": 0.2, "acertos_15": 0.0, "taxa_acerto_media": 0.6, "perda": 0.3},
        n_sorteios=100,
    )
    assert set(comp) == {"acertos_11", "acertos_15", "taxa_acerto_media"}
    assert comp["acertos_11"]["acaso"] == pytest.approx(286650 / C_25_15)
    assert comp["acertos_11"]["razao"] == pytest.approx(0.2 * C_25_15 / 286650)
    assert comp["acertos_11"]["acertos"] == 20
    assert comp["acertos_11"]["supera_acaso"] is True
    assert comp["acertos_15"]["observado"] == 0.0
    assert comp["acertos_15"]["acaso"] == pytest.approx(1 / C_25_15)
    assert comp["acertos_15"]["razao"] == 0.0
    assert comp["acertos_15"]["supera_acaso"] is False
    # Equal to chance is not beating it.
    assert comp["taxa_acerto_media"]["razao"] == pytest.approx(1.0)
    assert comp["taxa_acerto_media"]["supera_acaso"] is False


def test_comparar_com_acaso_aposta_de_20_eleva_a_base() -> None:
    # 20-number bets hold 15504 of the C(25,15) draws: 1 jackpot in 100 draws is
    # what chance gives about half the time, not skill.
    comp = comparar_com_acaso({"acertos_15": 0.01}, tamanho_aposta=20, n_sorteios=100)
    assert comp["acertos_15"]["razao"] == pytest.approx(0.01 * C_25_15 / 15504)
    assert comp["acertos_15"]["supera_acaso"] is False
    # For a 15-number bet the same jackpot is far beyond chance.
    assert comparar_com_acaso({"acertos_15": 0.01}, n_sorteios=100)["acertos_15"][
        "supera_acaso"
    ]


def test_validar_metricas_normaliza() -> None:
    entrada = {
        "acertos_13": 1,
        "taxa_acerto_media": np.float32(0.5),
        "epocas": np.int64(30),
        "perda": 0.25,
        "acertos_15": 0,
    }
    saida = validar_metricas(entrada)
    assert saida == {
        "acertos_13": 1.0,
        "taxa_acerto_media": 0.5,
        "epocas": 30,
        "perda": 0.25,
        "acertos_15": 0.0,
    }
    assert type(saida["epocas"]) is int
    assert type(saida["acertos_13"]) is float
    assert type(saida["taxa_acerto_media"]) is float
    assert saida is not entrada
    assert validar_metricas(None) == {}
    assert validar_metricas({}) == {}


def test_metricas_calculadas_passam_na_validacao() -> None:
    m = calcular_metricas([UM_A_15], [list(range(11, 26))], [1])
    assert validar_metricas(m) == m


@pytest.mark.parametrize(
    ("metricas", "trecho"),
    [
        (
            {"acertos_13": 1.5},
            "métrica 'acertos_13': valor 1.5 fora do intervalo [0, 1]",
        ),
        ({"cobertura_padroes": -0.1}, "'cobertura_padroes': valor -0.1 fora"),
        (
            {"acertos_11": float("nan")},
            "'acertos_11': valor nan não é um número finito",
        ),
        ({"perda": float("inf")}, "'perda': valor inf não é"),
        ({"acertos_12": True}, "'acertos_12': valor True não é"),
        ({"modelo": "lstm"}, "'modelo': valor 'lstm' não é"),
        ({"perda": None}, "'perda': valor None não é"),
        ({"": 0.1}, "nome de métrica inválido"),
        ({3: 0.1}, "nome de métrica inválido: 3"),
        ([0.1, 0.2], "dicionário"),
    ],
)
def test_validar_metricas_recusa(metricas: Any, trecho: str) -> None:
    with pytest.raises(ErroValidacao) as e:
        validar_metricas(metricas)
    assert trecho in str(e.value)


def test_comparar_com_acaso_valida_antes() -> None:
    with pytest.raises(ErroValidacao):
        comparar_com_acaso({"acertos_11": 2.0})
