import pytest

from backup_versionamento.erros import ErroTipoMudanca, ErroVersaoNaoEncontrada
from backup_versionamento.politica.versoes import (
    Versao,
    incremento_de,
    proxima_versao,
)


@pytest.mark.parametrize(
    ("tipo", "esperado"),
    [
        ("major", "2.0.0"),
        ("arquitetura", "2.0.0"),
        ("minor", "1.3.0"),
        ("melhoria", "1.3.0"),
        ("retreino", "1.3.0"),
        ("patch", "1.2.4"),
        ("correcao", "1.2.4"),
        ("correção", "1.2.4"),
        ("ajuste", "1.2.4"),
        ("MELHORIA", "1.3.0"),
    ],
)
def test_tabela_semver(tipo: str, esperado: str) -> None:
    assert str(proxima_versao(Versao(1, 2, 3), incremento_de(tipo))) == esperado


def test_primeira_versao_e_1_0_0_qualquer_tipo() -> None:
    for tipo in ("major", "minor", "patch"):
        assert str(proxima_versao(None, incremento_de(tipo))) == "1.0.0"


@pytest.mark.parametrize("tipo", ["", "xpto", "maior", None])
def test_tipo_desconhecido(tipo: str) -> None:
    with pytest.raises(ErroTipoMudanca) as e:
        incremento_de(tipo)
    assert "tipo de mudança desconhecido" in str(e.value)
    assert e.value.codigo_saida == 7


def test_ordem_numerica_nao_lexica() -> None:
    vs = sorted(Versao.ler(v) for v in ["1.10.0", "1.9.0", "1.2.10", "1.2.9", "10.0.0"])
    assert [str(v) for v in vs] == ["1.2.9", "1.2.10", "1.9.0", "1.10.0", "10.0.0"]


@pytest.mark.parametrize("texto", ["1.2", "a.b.c", "01.2.3", "1.2.3.4", ""])
def test_versao_invalida(texto: str) -> None:
    with pytest.raises(ErroVersaoNaoEncontrada):
        Versao.ler(texto)
