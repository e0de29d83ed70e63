"""Retry as a wrapper around any backend (as restic does), not inside each one."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from ...erros import ErroChaveAusente, ErroTransitorio
from ...registro import NOME_LOGGER
from .base import (
    Backend,
    BackendEnvolto,
    InfoObjeto,
    Partes,
    como_vistas,
    iguais,
    validar_chave,
)

log = logging.getLogger(NOME_LOGGER)

T = TypeVar("T")


class BackendComRetentativas(BackendEnvolto):
    """Retries every operation on ErroTransitorio, exponential backoff + full jitter.

    Other errors pass through unchanged; after the last try the last
    ErroTransitorio is raised. Every operation of the protocol is idempotent
    except an exclusive create whose first attempt may have landed while its
    answer was lost: that case is recognized by reading the object back.
    """

    def __init__(
        self,
        interno: Backend,
        *,
        tentativas: int = 5,
        espera_inicial: float = 0.05,
        espera_maxima: float = 2.0,
        dormir: Callable[[float], None] = time.sleep,
    ) -> None:
        if tentativas < 1:
            raise ValueError(f"tentativas deve ser >= 1, não {tentativas}")
        super().__init__(interno)
        self.tentativas = tentativas
        self.espera_inicial = espera_inicial
        self.espera_maxima = espera_maxima
        self._dormir = dormir
        self._aleatorio = random.Random()

    def _esperar(self, tentativa: int, erro: ErroTransitorio, operacao: str) -> None:
        """Full jitter: a uniform wait in [0, min(max, initial * 2**try)]."""
        teto = min(self.espera_maxima, self.espera_inicial * 2**tentativa)
        espera = self._aleatorio.uniform(0, teto)
        log.warning(
            "%s: falha temporária (%s); tentativa %d de %d em %.2f s",
            operacao,
            erro,
            tentativa + 2,
            self.tentativas,
            espera,
        )
        self._dormir(espera)

    def _repetir(self, operacao: str, funcao: Callable[[], T]) -> T:
        for tentativa in range(self.tentativas):
            try:
                return funcao()
            except ErroTransitorio as e:
                if tentativa + 1 >= self.tentativas:
                    raise
                self._esperar(tentativa, e, operacao)
        raise AssertionError("inalcançável")  # pragma: no cover

    def ler(self, chave: str) -> bytes:
        return self._repetir(f"ler {chave}", lambda: self.interno.ler(chave))

    def ler_intervalo(self, chave: str, inicio: int, tamanho: int) -> bytes:
        return self._repetir(
            f"ler {chave}",
            lambda: self.interno.ler_intervalo(chave, inicio, tamanho),
        )

    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        validar_chave(chave)
        vistas = como_vistas(partes)  # reusable by every attempt
        if not exclusivo:
            return self._repetir(
                f"gravar {chave}", lambda: self.interno.gravar(chave, vistas)
            )
        falhou_antes = False
        for tentativa in range(self.tentativas):
            try:
                if self.interno.gravar(chave, vistas, exclusivo=True):
                    return True
                if not falhou_antes:
                    return False
                # A failed attempt may have created it: ours if the bytes match.
                existente = self._repetir(
                    f"ler {chave}", lambda: self.interno.ler(chave)
                )
                return iguais(existente, vistas)
            except ErroChaveAusente:
                # Deleted between our create and the read back: create again.
                if tentativa + 1 >= self.tentativas:
                    raise
            except ErroTransitorio as e:
                falhou_antes = True
                if tentativa + 1 >= self.tentativas:
                    raise
                self._esperar(tentativa, e, f"gravar {chave}")
        raise AssertionError("inalcançável")  # pragma: no cover

    def info(self, chave: str) -> InfoObjeto | None:
        return self._repetir(f"consultar {chave}", lambda: self.interno.info(chave))

    def existe(self, chave: str) -> bool:
        return self._repetir(f"consultar {chave}", lambda: self.interno.existe(chave))

    def listar(self, prefixo: str) -> Iterator[InfoObjeto]:
        # Collected whole so a retry after a failure mid-listing yields no duplicates.
        return iter(
            self._repetir(
                f"listar {prefixo!r}", lambda: list(self.interno.listar(prefixo))
            )
        )

    def apagar(self, chave: str) -> None:
        self._repetir(f"apagar {chave}", lambda: self.interno.apagar(chave))
