"""Text that crosses the boundary with a person: user strings shown safely,
Portuguese plurals, and JSON errors explained in Portuguese.

Standard library only, base layer: config, the manager, the log and the CLI use it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

# Control (Cc), format (Cf: bidi overrides, zero-width), surrogate, private-use and
# unassigned characters, plus line/paragraph separators: any of them can move the
# cursor, rewrite a terminal line or hide text in a log.
_CATEGORIAS_ESCAPADAS = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_CURTOS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SUSPEITO = re.compile(r"[^\x20-\x7e\u00a0-\u02ff]")


def _escapar(c: str) -> str:
    if c in _CURTOS:
        return _CURTOS[c]
    if unicodedata.category(c) not in _CATEGORIAS_ESCAPADAS:
        return c
    n = ord(c)
    if n <= 0xFF:
        return f"\\x{n:02x}"
    if n <= 0xFFFF:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def seguro(valor: object) -> str:
    """`valor` as text that cannot drive a terminal or forge a log line.

    Control characters, ANSI escape sequences, bidi overrides and line breaks are
    shown escaped the way `repr` shows them (``\\x1b``, ``\\n``); accents and other
    printable text stay as they are.
    """
    texto = str(valor)
    if not _SUSPEITO.search(texto):  # the common case: plain text, no copy
        return texto
    return "".join(_escapar(c) if _SUSPEITO.match(c) else c for c in texto)


# Credentials inside a URL: the password of 'usuario:senha@' and the value of a
# query parameter whose name says secret ('?token=', '&api_key=', '&X-Amz-Signature=').
_URL_SENHA = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s]*):[^@/?#\s]*@")
_URL_PARAMETRO = re.compile(
    r"(?P<pre>[?&;](?P<nome>[^=&#\s]*"
    r"(?:token|senha|pass|pwd|secret|segredo|key|chave|sig|credential|auth)"
    r"[^=&#\s]*)=)[^&#\s]*",
    re.IGNORECASE,
)


def mascarar_url(texto: str) -> str:
    """`texto` with the credentials of any URL in it replaced by '***'."""
    if "://" not in texto and "=" not in texto:
        return texto
    texto = _URL_SENHA.sub(r"\g<pre>:***@", texto)
    return _URL_PARAMETRO.sub(r"\g<pre>***", texto)


def inteiro_enorme(valor: object) -> str | None:
    """ "um inteiro de 401 dígitos" for an int too long to print in a message, else
    None. Never raises (CPython refuses str() of ints past 4300 digits)."""
    if isinstance(valor, bool) or not isinstance(valor, int) or abs(valor) < 10**15:
        return None
    try:
        return f"um inteiro de {len(str(abs(valor)))} dígitos"
    except ValueError:
        return "um inteiro de milhares de dígitos"


def plural(n: int, singular: str, plural_: str | None = None) -> str:
    """`n` with the noun that agrees: "1 objeto", "2 objetos", "0 versões"."""
    forma = singular if n == 1 else (plural_ if plural_ is not None else singular + "s")
    return f"{n} {forma}"


def tamanho_legivel(n: int | float | None) -> str:
    """Bytes for a person: "512 B", "1.5 MB"; "-" when unknown."""
    if n is None:
        return "-"
    for unidade in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unidade == "TB":
            return f"{n:.0f} {unidade}" if unidade == "B" else f"{n:.1f} {unidade}"
        n /= 1024
    return f"{n:.1f} TB"


_MENSAGENS_JSON = (
    ("Expecting value", "esperado um valor (número, texto, lista ou objeto)"),
    (
        "Expecting property name enclosed in double quotes",
        "esperado o nome de uma chave entre aspas duplas (ou vírgula sobrando "
        "antes de '}')",
    ),
    ("Expecting ':' delimiter", "esperado ':' depois do nome da chave"),
    ("Expecting ',' delimiter", "esperada uma vírgula entre os itens"),
    ("Unterminated string starting at", "texto sem aspas de fechamento"),
    ("Invalid control character", "caractere de controle dentro de um texto"),
    ("Invalid \\uXXXX escape", "sequência \\uXXXX inválida"),
    ("Invalid \\escape", "barra invertida inválida (use \\\\ para uma barra)"),
    ("Extra data", "conteúdo sobrando depois do fim do JSON"),
    ("Illegal trailing comma", "vírgula sobrando antes do fechamento"),
)


class _Proibida:
    """Placeholder for NaN/Infinity, so the error can name the key that holds it."""

    def __init__(self, nome: str) -> None:
        self.nome = nome


def _achar_proibida(valor: Any, caminho: str = "") -> tuple[str, str] | None:
    """(dotted key, constant) of the first NaN/Infinity in a parsed document."""
    if isinstance(valor, _Proibida):
        return caminho, valor.nome
    filhos = (
        valor.items()
        if isinstance(valor, dict)
        else enumerate(valor)
        if isinstance(valor, list)
        else ()
    )
    for k, v in filhos:
        sub = (
            f"{caminho}[{k}]"
            if isinstance(k, int)
            else (f"{caminho}.{k}" if caminho else str(k))
        )
        achado = _achar_proibida(v, sub)
        if achado:
            return achado
    return None


def decodificar_json(texto: str) -> Any:
    """Parse JSON written by a person; errors come as ValueError in Portuguese.

    NaN and Infinity (which Python's json accepts) are refused: no key or metric
    can use them, and saying so here names the line.
    """
    if not texto.strip():
        raise ValueError("o arquivo está vazio; esperado um objeto JSON ({...})")
    try:
        dados = json.loads(texto, parse_constant=_Proibida)
    except json.JSONDecodeError as e:
        motivo = next(
            (pt for en, pt in _MENSAGENS_JSON if e.msg.startswith(en)),
            "sintaxe inválida",
        )
        raise ValueError(
            f"JSON inválido na linha {e.lineno}, coluna {e.colno}: {motivo}"
        ) from None
    except RecursionError:
        raise ValueError("JSON inválido: aninhamento profundo demais") from None
    except ValueError as e:
        if "digits" in str(e):  # CPython's limit on int <-> str conversion
            raise ValueError(
                "JSON inválido: número inteiro com dígitos demais"
            ) from None
        raise
    achado = _achar_proibida(dados)
    if achado:
        chave, nome = achado
        onde = f"chave {chave}: " if chave else ""
        raise ValueError(
            f"{onde}{nome} não é um número JSON válido; use um número finito "
            "(ou remova a chave)"
        )
    return dados
