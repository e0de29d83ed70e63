"""Configuration loading, the part every domain shares: sections, rules, merge.

A domain describes its own section (`Secao`: defaults that *are* the schema,
and rules for the keys that need more than a type check); `config.py` only
assembles the sections and runs them. A user value must have the same JSON type
as its default (ints are accepted where a float is expected); unknown keys are
errors, reported with the key's full path.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..erros import ErroBackup, ErroConfiguracao
from ..texto import decodificar_json, inteiro_enorme
from .escrita import mensagem_os

# A rule gets the merged value at its key; it returns a problem or None.
Regra = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Secao:
    """One top-level section: its defaults, its rules (full key paths, in the
    order their problems are reported) and keys that take a second JSON type."""

    nome: str
    padrao: dict[str, Any]
    regras: dict[str, Regra] = field(default_factory=dict)
    tipos_alternativos: dict[str, type] = field(default_factory=dict)


def faixa(minimo: float, maximo: float, *, acima_de_zero: bool = False) -> Regra:
    """A number in [minimo, maximo] (or in (0, maximo] with `acima_de_zero`).

    Checked before any arithmetic touches the value: JSON ints have no size
    limit and NaN/Infinity parse as floats.
    """

    def regra(v: Any) -> str | None:
        if isinstance(v, float) and not math.isfinite(v):
            return f"{v} não é um número finito"
        recebido = f"(recebido {inteiro_enorme(v) or v})"
        if acima_de_zero and not v > 0:
            return f"deve ser maior que zero {recebido}"
        if v < minimo:
            return (
                f"não pode ser negativo {recebido}"
                if minimo == 0
                else f"deve estar entre {minimo} e {maximo} {recebido}"
            )
        if v > maximo:
            return f"deve ser no máximo {maximo} {recebido}"
        return None

    return regra


# Generic bounds for rules that only state a sign: large enough for any real use,
# small enough that no later arithmetic (seconds -> datetime, MB -> bytes) breaks.
TETO_GENERICO = 10**9
positivo = faixa(0, TETO_GENERICO, acima_de_zero=True)
nao_negativo = faixa(0, TETO_GENERICO)

_HORARIO = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def horarios(v: list[Any]) -> str | None:
    ruins = [h for h in v if not isinstance(h, str) or not _HORARIO.match(h)]
    return (
        f"horários inválidos {ruins}: use o formato HH:MM (00:00 a 23:59)"
        if ruins
        else None
    )


def horario(v: str) -> str | None:
    return None if _HORARIO.match(v) else f"'{v}' não é um horário HH:MM"


def lista_de_texto(v: list[Any]) -> str | None:
    return (
        None if all(isinstance(x, str) for x in v) else "deve ser uma lista de textos"
    )


def um_de(opcoes: set[str] | tuple[str, ...]) -> Regra:
    def regra(v: Any) -> str | None:
        return (
            None
            if v in opcoes
            else f"'{v}' não é aceito; use um de: {', '.join(sorted(opcoes))}"
        )

    return regra


def nao_vazio(v: str) -> str | None:
    return None if v.strip() else "não pode ser vazio"


_NOMES_TIPO = {
    bool: "booleano (true/false)",
    int: "número inteiro",
    float: "número",
    str: "texto",
    list: "lista",
    dict: "objeto",
}


def _tipo_confere(padrao: Any, valor: Any) -> bool:
    if isinstance(padrao, bool) or isinstance(valor, bool):
        return isinstance(padrao, bool) and isinstance(valor, bool)
    if isinstance(padrao, float):
        return isinstance(valor, (int, float))
    return isinstance(valor, type(padrao))


def mesclar(
    padrao: dict[str, Any],
    usuario: dict[str, Any],
    prefixo: str,
    problemas: list[str],
    tipos_alternativos: dict[str, type],
) -> dict[str, Any]:
    """`usuario` over a copy of `padrao`, each type checked; problems appended."""
    resultado = copy.deepcopy(padrao)
    for chave, valor in usuario.items():
        caminho = f"{prefixo}{chave}"
        if chave not in padrao:
            problemas.append(
                f"{caminho}: chave desconhecida (confira a grafia; "
                f"chaves válidas aqui: {', '.join(padrao)})"
            )
            continue
        esperado = padrao[chave]
        alternativo = tipos_alternativos.get(caminho)
        if alternativo is not None and isinstance(valor, alternativo):
            resultado[chave] = valor
            continue
        if not _tipo_confere(esperado, valor):
            problemas.append(
                f"{caminho}: esperado {_NOMES_TIPO[type(esperado)]}, "
                f"recebido {json.dumps(valor, ensure_ascii=False)}"
            )
            continue
        if isinstance(esperado, dict):
            resultado[chave] = mesclar(
                esperado, valor, caminho + ".", problemas, tipos_alternativos
            )
        else:
            resultado[chave] = valor
    return resultado


def valor(cfg: dict[str, Any], caminho: str) -> Any:
    """The value at a dotted key path ('a.b.c')."""
    atual: Any = cfg
    for parte in caminho.split("."):
        atual = atual[parte]
    return atual


def ler_arquivo(arquivo: Path) -> dict[str, Any]:
    """Parse a config file into a raw dict, with errors that name the file."""
    if not arquivo.exists():
        raise ErroConfiguracao(
            f"{arquivo}: arquivo de configuração não encontrado; confira o caminho "
            "passado em --config ou rode sem --config para usar os padrões"
        )
    return ler_objeto_json(arquivo, ErroConfiguracao, "o conteúdo")


def ler_objeto_json(
    arquivo: Path, erro: type[ErroBackup], o_que: str
) -> dict[str, Any]:
    """A UTF-8 file holding one JSON object (config, metrics), with errors of
    type `erro` that name the file and `o_que` it holds."""
    try:
        texto = arquivo.read_text(encoding="utf-8")
    except OSError as e:
        raise erro(f"{arquivo}: não foi possível ler ({mensagem_os(e)})") from None
    except UnicodeDecodeError:
        raise erro(f"{arquivo}: {o_que} não está em UTF-8") from None
    try:
        dados = decodificar_json(texto)
    except ValueError as e:
        raise erro(f"{arquivo}: {e}") from None
    if not isinstance(dados, dict):
        raise erro(f"{arquivo}: {o_que} deve ser um objeto JSON ({{...}})")
    return dados
