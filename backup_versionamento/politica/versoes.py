"""Semantic versions: parse, order, and the next version for a kind of change."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..erros import ErroTipoMudanca, ErroVersaoNaoEncontrada

PRIMEIRA = "1.0.0"
ULTIMA = "ultima"

# tipo_mudanca -> which part of the version goes up.
INCREMENTOS: dict[str, str] = {
    "major": "major",
    "arquitetura": "major",
    "minor": "minor",
    "melhoria": "minor",
    "retreino": "minor",
    "patch": "patch",
    "correcao": "patch",
    "correção": "patch",
    "ajuste": "patch",
}
AUTO = "auto"
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


@dataclass(frozen=True, order=True)
class Versao:
    major: int
    minor: int
    patch: int

    @classmethod
    def ler(cls, texto: str) -> Versao:
        m = _SEMVER.match(texto.strip().lstrip("v"))
        if not m:
            raise ErroVersaoNaoEncontrada(
                f"versão inválida: {texto!r}; use o formato major.minor.patch "
                f"(ex.: 1.2.3), '{ULTIMA}' ou '@alias' (ex.: @producao)"
            )
        return cls(int(m[1]), int(m[2]), int(m[3]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def incrementar(self, parte: str) -> Versao:
        if parte == "major":
            return Versao(self.major + 1, 0, 0)
        if parte == "minor":
            return Versao(self.major, self.minor + 1, 0)
        return Versao(self.major, self.minor, self.patch + 1)


def e_versao(texto: str) -> bool:
    return bool(_SEMVER.match(texto))


def incremento_de(tipo_mudanca: str) -> str:
    """Map a kind of change to 'major' | 'minor' | 'patch' (or 'auto')."""
    tipo = (tipo_mudanca or "").strip().lower()
    if tipo == AUTO:
        return AUTO
    if tipo not in INCREMENTOS:
        validos = ", ".join([*INCREMENTOS, AUTO])
        raise ErroTipoMudanca(
            f"tipo de mudança desconhecido: {tipo_mudanca!r}; use um de: {validos}"
        )
    return INCREMENTOS[tipo]


def proxima_versao(ultima: Versao | None, incremento: str) -> Versao:
    if ultima is None:
        return Versao.ler(PRIMEIRA)
    return ultima.incrementar(incremento)
