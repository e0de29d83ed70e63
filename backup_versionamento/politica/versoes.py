"""Semantic versions: parse, order, and the next version for a kind of change."""

from __future__ import annotations

from dataclasses import dataclass

from ..base.nomes_versao import (
    e_versao,
    ordem_versao,
    versao_invalida,
)
from ..erros import ErroTipoMudanca

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


@dataclass(frozen=True, order=True)
class Versao:
    major: int
    minor: int
    patch: int

    @classmethod
    def ler(cls, texto: str) -> Versao:
        limpo = texto.strip().lstrip("v")
        if not e_versao(limpo):
            raise versao_invalida(texto)
        return cls(*ordem_versao(limpo))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def incrementar(self, parte: str) -> Versao:
        if parte == "major":
            return Versao(self.major + 1, 0, 0)
        if parte == "minor":
            return Versao(self.major, self.minor + 1, 0)
        return Versao(self.major, self.minor, self.patch + 1)


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


def proxima_versao(ultima: Versao | str | None, incremento: str) -> Versao:
    """The version after `ultima` (a name as the repository lists it, or parsed)."""
    if ultima is None:
        return Versao.ler(PRIMEIRA)
    if isinstance(ultima, str):
        ultima = Versao.ler(ultima)
    return ultima.incrementar(incremento)
