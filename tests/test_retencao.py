"""Retention policy: table tests with a frozen clock (no disk involved)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from backup_versionamento import config
from backup_versionamento.erros import ErroConfiguracao, ErroIntegridade
from backup_versionamento.politica.retencao import (
    Decisao,
    PoliticaRetencao,
    aplicar_politica,
    resumo,
)

# Tuesday of ISO week 2026-W48.
AGORA = datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone.utc)


def v(
    versao: str,
    criado_em: str,
    metricas: dict[str, Any] | None = None,
    fixada: bool = False,
) -> dict[str, Any]:
    return {
        "versao": versao,
        "criado_em": criado_em,
        "metricas": metricas or {},
        "fixada": fixada,
        "descricao": "",
        "sha256": "0" * 64,
    }


def por_versao(decisoes: list[Decisao]) -> dict[str, Decisao]:
    return {d.versao: d for d in decisoes}


def mantidas(decisoes: list[Decisao]) -> set[str]:
    return {d.versao for d in decisoes if d.manter}


SO_SEMANAIS = PoliticaRetencao("nenhuma", "nenhuma", "semanais")


def test_lista_vazia() -> None:
    assert aplicar_politica([], PoliticaRetencao(), AGORA) == []
    assert resumo([]) == {
        "total": 0,
        "mantidas": 0,
        "removidas": 0,
        "versoes_mantidas": [],
        "versoes_removidas": [],
    }


def test_uma_versao_antiga_e_mantida_por_ser_a_mais_recente() -> None:
    decisoes = aplicar_politica(
        [v("1.0.0", "2025-01-01T00:00:00Z")], PoliticaRetencao(), AGORA
    )
    assert decisoes == [Decisao("1.0.0", True, ["mais recente"])]


def test_politica_padrao_cenario_completo_na_ordem_da_entrada() -> None:
    versoes = [
        v("1.2.1", "2026-11-02T08:00:00Z"),
        v("1.0.0", "2026-07-01T00:00:00Z"),
        v("1.4.0", "2026-11-24T11:00:00Z"),
        v("1.1.0", "2026-09-10T08:00:00Z"),
        v("1.1.1", "2026-09-12T20:00:00Z"),
        v("1.2.0", "2026-11-01T09:00:00Z"),
        v("1.2.2", "2026-11-02T18:00:00Z"),
        v("1.3.0", "2026-11-20T10:00:00Z"),
        v("1.3.1", "2026-11-20T11:00:00Z"),
    ]
    decisoes = aplicar_politica(versoes, PoliticaRetencao(), AGORA)
    assert [d.versao for d in decisoes] == [x["versao"] for x in versoes]
    esperado = {
        "1.2.1": (
            False,
            [
                "não é a mais recente do dia 2026-11-02 (últimos 30 dias)",
                "não é a mais recente da semana 2026-W45 (últimos 90 dias)",
            ],
        ),
        "1.0.0": (False, ["mais antiga que 90 dias"]),
        "1.4.0": (
            True,
            [
                "mais recente",
                "últimos 7 dias",
                "diária de 2026-11-24",
                "semanal 2026-W48",
            ],
        ),
        "1.1.0": (False, ["não é a mais recente da semana 2026-W37 (últimos 90 dias)"]),
        "1.1.1": (True, ["semanal 2026-W37"]),
        "1.2.0": (True, ["diária de 2026-11-01", "semanal 2026-W44"]),
        "1.2.2": (True, ["diária de 2026-11-02", "semanal 2026-W45"]),
        "1.3.0": (True, ["últimos 7 dias"]),
        "1.3.1": (True, ["últimos 7 dias", "diária de 2026-11-20", "semanal 2026-W47"]),
    }
    obtido = {d.versao: (d.manter, d.motivos) for d in decisoes}
    assert obtido == esperado
    r = resumo(decisoes)
    assert (r["total"], r["mantidas"], r["removidas"]) == (9, 6, 3)
    assert r["versoes_removidas"] == ["1.2.1", "1.0.0", "1.1.0"]


@pytest.mark.parametrize(
    ("politica", "versoes", "esperado"),
    [
        # Exactly 7 days old is inside the 7-day window, one second more is not.
        pytest.param(
            PoliticaRetencao("todas", "nenhuma", "nenhuma"),
            [
                v("1.0.0", "2026-11-17T11:59:59Z"),
                v("1.0.1", "2026-11-17T12:00:00Z"),
                v("2.0.0", "2026-11-24T12:00:00Z"),
            ],
            {"1.0.1", "2.0.0"},
            id="borda-7-dias",
        ),
        pytest.param(  # exactly 90 days old is inside; one second more is not
            PoliticaRetencao("nenhuma", "nenhuma", "todas"),
            [
                v("1.0.0", "2026-08-26T11:59:59Z"),
                v("1.0.1", "2026-08-26T12:00:00Z"),
                v("2.0.0", "2026-11-24T12:00:00Z"),
            ],
            {"1.0.1", "2.0.0"},
            id="borda-90-dias",
        ),
        pytest.param(  # 23:59:59 and 00:00:00 fall on two UTC days
            PoliticaRetencao("nenhuma", "diarias", "nenhuma"),
            [
                v("1.0.0", "2026-11-10T12:00:00Z"),
                v("1.0.1", "2026-11-10T23:59:59Z"),
                v("1.0.2", "2026-11-11T00:00:00Z"),
                v("2.0.0", "2026-11-24T10:00:00Z"),
            ],
            {"1.0.1", "1.0.2", "2.0.0"},
            id="borda-dia",
        ),
        pytest.param(  # Sunday 23:59:59 is W45, Monday 00:00 is W46
            SO_SEMANAIS,
            [
                v("1.0.0", "2026-11-08T10:00:00Z"),
                v("1.0.1", "2026-11-08T23:59:59Z"),
                v("1.0.2", "2026-11-09T00:00:00Z"),
                v("2.0.0", "2026-11-24T10:00:00Z"),
            ],
            {"1.0.1", "1.0.2", "2.0.0"},
            id="borda-semana",
        ),
        pytest.param(
            PoliticaRetencao("nenhuma", "nenhuma", "mensais"),
            [
                v("1.0.0", "2026-09-30T08:00:00Z"),
                v("1.0.1", "2026-09-30T23:59:59Z"),
                v("1.0.2", "2026-10-01T00:00:00Z"),
                v("1.0.3", "2026-10-15T00:00:00Z"),
                v("2.0.0", "2026-11-24T10:00:00Z"),
            ],
            {"1.0.1", "1.0.3", "2.0.0"},
            id="borda-mes",
        ),
        pytest.param(  # same timestamp: the higher semver is the newest of the day
            PoliticaRetencao("nenhuma", "diarias", "nenhuma"),
            [
                v("1.0.0", "2026-11-10T12:00:00Z"),
                v("1.0.1", "2026-11-10T12:00:00Z"),
                v("2.0.0", "2026-11-24T10:00:00Z"),
            ],
            {"1.0.1", "2.0.0"},
            id="empate-de-horario",
        ),
        pytest.param(  # a version dated in the future counts as age zero
            PoliticaRetencao("todas", "nenhuma", "nenhuma"),
            [
                v("1.0.0", "2026-11-25T12:00:00Z"),
                v("1.0.1", "2026-11-01T12:00:00Z"),
                v("2.0.0", "2026-11-24T10:00:00Z"),
            ],
            {"1.0.0", "2.0.0"},
            id="data-futura",
        ),
    ],
)
def test_bordas_dos_baldes(
    politica: PoliticaRetencao, versoes: list[dict[str, Any]], esperado: set[str]
) -> None:
    assert mantidas(aplicar_politica(versoes, politica, AGORA)) == esperado


def test_semana_iso_atravessa_o_ano() -> None:
    # 2027-01-01 (Friday) belongs to ISO week 2026-W53, like 2026-12-31.
    agora = datetime(2027, 1, 5, 12, 0, tzinfo=timezone.utc)
    versoes = [
        v("1.0.0", "2026-12-31T10:00:00Z"),
        v("1.0.1", "2027-01-01T09:00:00Z"),
        v("1.0.2", "2027-01-04T09:00:00Z"),
        v("1.0.3", "2027-01-04T08:00:00Z"),
    ]
    d = por_versao(aplicar_politica(versoes, SO_SEMANAIS, agora))
    assert d["1.0.1"].motivos == ["semanal 2026-W53"]
    assert d["1.0.0"].motivos == [
        "últimos 7 dias: regra 'nenhuma'",
        "últimos 30 dias: regra 'nenhuma'",
        "não é a mais recente da semana 2026-W53 (últimos 90 dias)",
    ]
    # 1.0.3 is the highest semver, 1.0.2 the newest of W01 by the clock: both stay.
    assert d["1.0.3"].motivos == ["mais recente"]
    assert d["1.0.2"].motivos == ["semanal 2027-W01"]


def test_todas_mantem_tudo_ate_90_dias() -> None:
    todas = PoliticaRetencao("todas", "todas", "todas")
    versoes = [
        v(f"1.0.{i}", f"2026-{m:02d}-15T00:00:00Z") for i, m in enumerate(range(6, 12))
    ]
    d = por_versao(aplicar_politica(versoes, todas, AGORA))
    # June, July and August are older than 90 days (cutoff 2026-08-26T12:00).
    assert {x for x, dec in d.items() if dec.manter} == {"1.0.3", "1.0.4", "1.0.5"}
    assert d["1.0.3"].motivos == ["últimos 90 dias"]
    assert d["1.0.4"].motivos == ["últimos 90 dias"]
    assert d["1.0.5"].motivos == ["mais recente", "últimos 30 dias", "últimos 90 dias"]
    assert d["1.0.0"].motivos == ["mais antiga que 90 dias"]


def test_nenhuma_mantem_so_a_mais_recente_e_fixadas() -> None:
    nenhuma = PoliticaRetencao("nenhuma", "nenhuma", "nenhuma")
    versoes = [
        v("1.0.0", "2026-11-24T08:00:00Z"),
        v("1.0.1", "2026-11-24T09:00:00Z", fixada=True),
        v("1.0.2", "2026-11-24T10:00:00Z"),
        v("1.0.3", "2026-11-24T11:00:00Z"),
    ]
    d = por_versao(aplicar_politica(versoes, nenhuma, AGORA))
    assert {x for x, dec in d.items() if dec.manter} == {"1.0.1", "1.0.3"}
    assert d["1.0.1"].motivos == ["fixada pelo usuário"]
    assert d["1.0.3"].motivos == ["mais recente"]
    assert d["1.0.0"].motivos == [
        "últimos 7 dias: regra 'nenhuma'",
        "últimos 30 dias: regra 'nenhuma'",
        "últimos 90 dias: regra 'nenhuma'",
    ]


def _horarias(n: int) -> list[dict[str, Any]]:
    """n versions one hour apart on 2026-11-23, 1.0.0 the oldest."""
    return [v(f"1.0.{i}", f"2026-11-23T{i:02d}:00:00Z") for i in range(n)]


def test_limite_remove_as_mais_antigas_primeiro() -> None:
    politica = PoliticaRetencao(maximo_versoes=4)
    decisoes = aplicar_politica(_horarias(10), politica, AGORA)
    assert mantidas(decisoes) == {"1.0.6", "1.0.7", "1.0.8", "1.0.9"}
    d = por_versao(decisoes)
    assert d["1.0.0"].motivos == ["excede o máximo de 4 versões"]
    assert d["1.0.5"].motivos == ["excede o máximo de 4 versões"]
    assert resumo(decisoes)["removidas"] == 6


def test_limite_conta_as_protegidas_mas_nao_as_remove() -> None:
    versoes = _horarias(10)
    versoes[0]["fixada"] = True
    versoes[2]["fixada"] = True
    decisoes = aplicar_politica(versoes, PoliticaRetencao(maximo_versoes=4), AGORA)
    # 2 pinned + latest are protected and count: one slot is left, for 1.0.8.
    assert mantidas(decisoes) == {"1.0.0", "1.0.2", "1.0.8", "1.0.9"}
    d = por_versao(decisoes)
    assert d["1.0.0"].motivos == ["fixada pelo usuário", "últimos 7 dias"]


def test_protegidas_acima_do_limite_ficam_todas() -> None:
    versoes = _horarias(6)
    for x in versoes[:3]:
        x["fixada"] = True
    decisoes = aplicar_politica(versoes, PoliticaRetencao(maximo_versoes=2), AGORA)
    assert mantidas(decisoes) == {"1.0.0", "1.0.1", "1.0.2", "1.0.5"}


def test_limite_nao_conta_as_ja_removidas_pelo_tempo() -> None:
    versoes = [
        v("1.0.0", "2026-01-01T00:00:00Z"),
        v("1.0.1", "2026-02-01T00:00:00Z"),
        v("1.0.2", "2026-11-23T00:00:00Z"),
        v("1.0.3", "2026-11-24T00:00:00Z"),
    ]
    decisoes = aplicar_politica(versoes, PoliticaRetencao(maximo_versoes=2), AGORA)
    d = por_versao(decisoes)
    assert mantidas(decisoes) == {"1.0.2", "1.0.3"}
    assert d["1.0.0"].motivos == ["mais antiga que 90 dias"]


def test_mais_recente_e_a_maior_versao_semantica() -> None:
    # 2.0.0 was written before 1.10.0 by the clock, but it is the highest semver;
    # 1.10.0 > 1.9.0 numerically, not as text.
    nenhuma = PoliticaRetencao("nenhuma", "nenhuma", "nenhuma")
    versoes = [
        v("1.9.0", "2026-11-24T09:00:00Z"),
        v("2.0.0", "2026-11-24T10:00:00Z"),
        v("1.10.0", "2026-11-24T11:00:00Z"),
    ]
    assert mantidas(aplicar_politica(versoes, nenhuma, AGORA)) == {"2.0.0"}


def test_versao_fora_do_formato_do_repositorio_e_recusada() -> None:
    # The repository only writes MAJOR.MINOR.PATCH (politica.versoes is the one
    # parser): anything else in a listing is damaged data, not a pre-release.
    nenhuma = PoliticaRetencao("nenhuma", "nenhuma", "nenhuma")
    for ruim in ("2.0.0-rc.1", "1.2", "v1.x.0"):
        with pytest.raises(ErroIntegridade, match=r"MAJOR\.MINOR\.PATCH"):
            aplicar_politica([v(ruim, "2026-11-24T09:00:00Z")], nenhuma, AGORA)


def test_mais_recente_fica_mesmo_com_limite_e_idade() -> None:
    versoes = [
        v("1.0.0", "2025-05-01T00:00:00Z", fixada=True),
        v("1.0.1", "2025-06-01T00:00:00Z"),
    ]
    decisoes = aplicar_politica(versoes, PoliticaRetencao(maximo_versoes=1), AGORA)
    assert [(d.versao, d.manter) for d in decisoes] == [
        ("1.0.0", True),
        ("1.0.1", True),
    ]
    assert decisoes[1].motivos == ["mais recente"]


def _com_metricas() -> list[dict[str, Any]]:
    velho = "2026-01-%02dT00:00:00Z"  # all older than 90 days
    return [
        v("1.0.0", velho % 1, {"acertos_13": 0.10}),
        v("1.0.1", velho % 2, {"acertos_13": 0.30}),
        v("1.0.2", velho % 3, {"acertos_13": 0.20}),
        v("1.0.3", velho % 4, {"outra": 0.99}),
        v("1.0.4", velho % 5, {"acertos_13": True}),
        v("1.0.5", velho % 6, {"acertos_13": float("nan")}),
        v("1.0.6", velho % 7, {"acertos_13": 0.05}),
        v("1.0.7", velho % 8, {"acertos_13": "0.99"}),
        v("2.0.0", "2026-11-24T00:00:00Z", {"acertos_13": 0.15}),
    ]


def test_melhores_por_metrica_maior_melhor() -> None:
    politica = PoliticaRetencao(metrica_melhores="acertos_13", quantidade_melhores=2)
    d = por_versao(aplicar_politica(_com_metricas(), politica, AGORA))
    assert {x for x, dec in d.items() if dec.manter} == {"1.0.1", "1.0.2", "2.0.0"}
    assert d["1.0.1"].motivos == ["melhor por acertos_13 (1º)"]
    assert d["1.0.2"].motivos == ["melhor por acertos_13 (2º)"]


def test_melhores_por_metrica_menor_melhor() -> None:
    politica = PoliticaRetencao(
        metrica_melhores="acertos_13", quantidade_melhores=3, maior_melhor=False
    )
    d = por_versao(aplicar_politica(_com_metricas(), politica, AGORA))
    # Ranks 0.05, 0.10, 0.15; bool, NaN, text and missing values never compete.
    assert {x for x, dec in d.items() if dec.manter} == {"1.0.6", "1.0.0", "2.0.0"}
    assert d["2.0.0"].motivos == [
        "mais recente",
        "melhor por acertos_13 (3º)",
        "últimos 7 dias",
        "diária de 2026-11-24",
        "semanal 2026-W48",
    ]


def test_melhores_empate_favorece_a_mais_nova_e_desligado_com_zero() -> None:
    versoes = [
        v("1.0.0", "2026-01-01T00:00:00Z", {"m": 0.5}),
        v("1.0.1", "2026-01-02T00:00:00Z", {"m": 0.5}),
        v("2.0.0", "2026-11-24T00:00:00Z"),
    ]
    uma = PoliticaRetencao(metrica_melhores="m", quantidade_melhores=1)
    assert mantidas(aplicar_politica(versoes, uma, AGORA)) == {"1.0.1", "2.0.0"}
    desligada = PoliticaRetencao(metrica_melhores="m", quantidade_melhores=0)
    assert mantidas(aplicar_politica(versoes, desligada, AGORA)) == {"2.0.0"}


def test_melhores_protegidas_contra_o_limite() -> None:
    versoes = _horarias(6)
    versoes[0]["metricas"] = {"acertos_11": 0.9}
    politica = PoliticaRetencao(
        maximo_versoes=2, metrica_melhores="acertos_11", quantidade_melhores=1
    )
    assert mantidas(aplicar_politica(versoes, politica, AGORA)) == {"1.0.0", "1.0.5"}


def test_de_config_usa_as_chaves_do_config() -> None:
    assert PoliticaRetencao.de_config(config.PADRAO["retencao"]) == PoliticaRetencao()
    politica = PoliticaRetencao.de_config(
        {
            "por_tempo": {"ultimos_30_dias": "mensais"},
            "por_quantidade": {"maximo_versoes_por_modelo": 7},
            "manter_melhores": {
                "metrica": "acertos_14",
                "quantidade": 2,
                "maior_melhor": False,
            },
        }
    )
    assert politica == PoliticaRetencao(
        "todas", "mensais", "semanais", 7, "acertos_14", 2, False
    )
    assert PoliticaRetencao.de_config({}) == PoliticaRetencao()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ultimos_7_dias": "horarias"},
        {"maximo_versoes": 0},
        {"maximo_versoes": True},
        {"quantidade_melhores": -1},
    ],
)
def test_politica_invalida(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ErroConfiguracao) as e:
        PoliticaRetencao(**kwargs)
    assert "retencao." in str(e.value)


@pytest.mark.parametrize(
    ("versoes", "trecho"),
    [
        ([v("1.0.0", "ontem")], "criado_em 'ontem'"),
        ([{"versao": "1.0.0"}], "criado_em ausente"),
        ([v("1.0", "2026-11-24T00:00:00Z")], "'1.0'"),
        (
            [v("1.0.0", "2026-11-24T00:00:00Z"), v("1.0.0", "2026-11-23T00:00:00Z")],
            "mais de uma vez",
        ),
        ([{"criado_em": "2026-11-24T00:00:00Z"}], "sem 'versao'"),
    ],
)
def test_entrada_corrompida_para_tudo(
    versoes: list[dict[str, Any]], trecho: str
) -> None:
    with pytest.raises(ErroIntegridade) as e:
        aplicar_politica(versoes, PoliticaRetencao(), AGORA)
    assert trecho in str(e.value)


def test_fusos_horarios() -> None:
    # 2026-11-21T01:00+03:00 is 2026-11-20T22:00Z: the day bucket is the UTC one.
    versoes = [
        v("1.0.0", "2026-11-21T01:00:00+03:00"),
        v("1.0.1", "2026-11-20T21:00:00Z"),
        v("2.0.0", "2026-11-24T00:00:00Z"),
    ]
    politica = PoliticaRetencao("nenhuma", "diarias", "nenhuma")
    agora_ingenuo = datetime(2026, 11, 24, 12, 0)
    d = por_versao(aplicar_politica(versoes, politica, agora_ingenuo))
    assert d["1.0.0"].motivos == ["diária de 2026-11-20"]
    assert not d["1.0.1"].manter


def test_decisao_como_dict_e_resumo() -> None:
    decisoes = aplicar_politica(
        [v("1.0.0", "2025-01-01T00:00:00Z"), v("1.0.1", "2026-11-24T00:00:00Z")],
        PoliticaRetencao(),
        AGORA,
    )
    assert decisoes[0].como_dict() == {
        "versao": "1.0.0",
        "manter": False,
        "motivos": ["mais antiga que 90 dias"],
    }
    assert resumo(decisoes) == {
        "total": 2,
        "mantidas": 1,
        "removidas": 1,
        "versoes_mantidas": ["1.0.1"],
        "versoes_removidas": ["1.0.0"],
    }
