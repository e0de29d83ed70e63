"""Configuration hardening: every number has a sane range, checked before any
arithmetic; dangerous allow-list entries are refused; JSON errors in Portuguese."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import config
from backup_versionamento.erros import ErroConfiguracao

from .conftest import cli


def _aninhar(caminho: str, valor: object) -> dict[str, Any]:
    partes = caminho.split(".")
    dados: dict[str, Any] = {partes[-1]: valor}
    for p in reversed(partes[:-1]):
        dados = {p: dados}
    return dados


def _chaves_numericas(d: dict[str, Any], prefixo: str = "") -> list[str]:
    saida = []
    for k, v in d.items():
        if isinstance(v, dict):
            saida += _chaves_numericas(v, f"{prefixo}{k}.")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            saida.append(prefixo + k)
    return saida


NUMERICAS = _chaves_numericas(config.PADRAO)


def test_ha_chaves_numericas() -> None:
    assert "retencao.carencia_coleta_minutos" in NUMERICAS
    assert "validacao.tempo_limite_segundos" in NUMERICAS
    assert len(NUMERICAS) >= 14


@pytest.mark.parametrize("chave", NUMERICAS)
@pytest.mark.parametrize("valor", [10**400, 10**30, -(10**30)])
def test_toda_chave_numerica_tem_faixa(chave: str, valor: int) -> None:
    with pytest.raises(ErroConfiguracao) as e:
        config.validar(_aninhar(chave, valor))
    problemas = [p for p in e.value.problemas if p.startswith(chave + ":")]
    assert problemas, e.value.problemas
    # A huge number is described, never printed in full.
    assert all(len(p) < 300 for p in problemas), problemas


@pytest.mark.parametrize("chave", NUMERICAS)
def test_padrao_de_cada_chave_numerica_passa(chave: str) -> None:
    config.validar(_aninhar(chave, config._valor(config.PADRAO, chave)))


@pytest.mark.parametrize(
    ("texto", "trecho"),
    [
        ('{"retencao": {"carencia_coleta_minutos": 1' + "0" * 400 + "}}", "dígitos"),
        ('{"validacao": {"tempo_limite_segundos": 1' + "0" * 30 + "}}", "no máximo"),
        ('{"backup_automatico": {"periodo_silencio_segundos": 1e400}}', "finito"),
        ('{"backup_automatico": {"periodo_silencio_segundos": NaN}}', "NaN"),
        ('{"backup_automatico": {"periodo_silencio_segundos": -Infinity}}', "Infinity"),
    ],
)
def test_numeros_absurdos_no_arquivo(tmp_path: Path, texto: str, trecho: str) -> None:
    arq = tmp_path / "c.json"
    arq.write_text(texto)
    with pytest.raises(ErroConfiguracao) as e:
        config.carregar(arq)
    assert trecho in str(e.value)
    r = cli("config", "--validar", "--config", str(arq))
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr and trecho in r.stderr


def test_inteiro_gigante_acima_do_limite_do_python(tmp_path: Path) -> None:
    arq = tmp_path / "c.json"
    arq.write_text('{"retencao": {"carencia_coleta_minutos": ' + "9" * 5000 + "}}")
    r = cli("config", "--validar", "--config", str(arq))
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr and "dígitos demais" in r.stderr


def test_carencia_enorme_nao_quebra_limpeza(tmp_path: Path) -> None:
    arq = tmp_path / "c.json"
    arq.write_text(json.dumps({"retencao": {"carencia_coleta_minutos": 10**400}}))
    r = cli("limpeza", "--config", str(arq), "--base", str(tmp_path / "repo"))
    assert r.returncode == 3, r.stderr
    assert "retencao.carencia_coleta_minutos: deve ser no máximo" in r.stderr


@pytest.mark.parametrize(
    ("texto", "trecho"),
    [
        ("", "vazio"),
        ('{"diretorios": }', "linha 1, coluna 16: esperado um valor"),
        ('{"diretorios": {"base": "x",}}', "entre aspas duplas"),
        ('{"diretorios" {}}', "esperado ':'"),
        ('{"a": 1} {}', "conteúdo sobrando"),
        ('{"a": "sem fim}', "sem aspas de fechamento"),
    ],
)
def test_json_invalido_em_portugues(tmp_path: Path, texto: str, trecho: str) -> None:
    arq = tmp_path / "c.json"
    arq.write_text(texto)
    with pytest.raises(ErroConfiguracao) as e:
        config.carregar(arq)
    mensagem = str(e.value)
    assert str(arq) in mensagem and trecho in mensagem
    assert "Expecting" not in mensagem and "Extra data" not in mensagem


# --- validacao.globais_permitidos ---------------------------------------------------

PERIGOSOS = [
    "os.system",
    "posix.system",
    "nt.system",
    "subprocess.Popen",
    "subprocess.*",
    "builtins.eval",
    "builtins.exec",
    "builtins.__import__",
    "builtins.getattr",
    "builtins.open",
    "__builtin__.eval",
    "importlib.import_module",
    "importlib.*",
    "runpy.run_path",
    "pickle.loads",
    "ctypes.CDLL",
    "builtins.*",
    "os.*",
    "torch.load",
    "numpy.load",
]


@pytest.mark.parametrize("valor", PERIGOSOS)
def test_globais_permitidos_perigoso_recusado(valor: str) -> None:
    with pytest.raises(ErroConfiguracao) as e:
        config.validar({"validacao": {"globais_permitidos": ["sklearn.X", valor]}})
    (problema,) = e.value.problemas
    assert problema.startswith("validacao.globais_permitidos:")
    assert repr(valor) in problema
    assert "sklearn.X" not in problema


@pytest.mark.parametrize("valor", ["os", "*", "a..b", "modulo.Nome()", ""])
def test_globais_permitidos_mal_escrito_recusado(valor: str) -> None:
    with pytest.raises(ErroConfiguracao) as e:
        config.validar({"validacao": {"globais_permitidos": [valor]}})
    assert "modulo.Nome" in e.value.problemas[0]


def test_globais_permitidos_legitimos_aceitos() -> None:
    cfg = config.validar(
        {
            "validacao": {
                "globais_permitidos": [
                    "collections.UserDict",
                    "meu_pacote.modelos.RedeLotofacil",
                    "meu_pacote.modelos.*",
                    "sklearn.*",
                ]
            }
        }
    )
    assert len(cfg["validacao"]["globais_permitidos"]) == 4


def test_globais_permitidos_perigoso_na_cli(tmp_path: Path) -> None:
    arq = tmp_path / "c.json"
    arq.write_text(json.dumps({"validacao": {"globais_permitidos": ["os.system"]}}))
    r = cli("config", "--validar", "--config", str(arq))
    assert r.returncode == 3
    assert "validacao.globais_permitidos" in r.stderr and "'os.system'" in r.stderr


def test_inteiro_alem_do_limite_de_conversao_na_api() -> None:
    """A dict from Python may hold ints that str() refuses (> 4300 digits)."""
    with pytest.raises(ErroConfiguracao) as e:
        config.validar({"retencao": {"carencia_coleta_minutos": 10**5000}})
    assert "milhares de dígitos" in str(e.value)
