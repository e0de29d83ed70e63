"""Fault injection around any backend, for tests of crash and failure paths.

Faults are planned from the test (fail the Nth write, truncate it, run out of
space after a byte budget, fail reads of some keys, run a hook before each
write, e.g. to SIGKILL the process at a chosen stage); everything else is the
inner backend's real behaviour.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from ...erros import ErroEspacoInsuficiente, ErroRepositorio
from .base import (
    Backend,
    BackendEnvolto,
    InfoObjeto,
    Partes,
    como_vistas,
    validar_chave,
)


class BackendComFalhas(BackendEnvolto):
    """Thread-safe fault-injecting wrapper with counters of what went through."""

    def __init__(self, interno: Backend) -> None:
        super().__init__(interno)
        self.gravacoes = 0  # gravar calls seen (failed ones included)
        self.leituras = 0  # ler and ler_intervalo calls seen
        self.bytes_gravados = 0  # bytes the inner backend accepted
        self._trava = threading.Lock()
        self._falhas_gravacao: dict[int, BaseException] = {}
        self._truncamentos: dict[int, tuple[int, bool]] = {}
        self._orcamento: int | None = None
        # prefix -> (error, remaining times or None for always)
        self._falhas_leitura: dict[str, tuple[BaseException, int | None]] = {}
        self._gancho: Callable[[str], None] | None = None
        self._gancho_depois: Callable[[str], None] | None = None
        self._gancho_apagar: Callable[[str], None] | None = None

    # --- planning faults -------------------------------------------------

    def falhar_gravacao(self, n: int, erro: BaseException) -> None:
        """The n-th gravar from now (1 = the next) raises `erro`, writing nothing."""
        self._exigir_positivo(n)
        with self._trava:
            self._falhas_gravacao[self.gravacoes + n] = erro

    def truncar_gravacao(
        self, n: int, bytes_mantidos: int, *, visivel: bool = False
    ) -> None:
        """The n-th gravar from now keeps `bytes_mantidos` bytes and raises.

        With `visivel=False` nothing becomes visible (what an atomic store does
        when a write dies midway); `visivel=True` stores the truncated bytes
        under the key, emulating a crash of a non-atomic store.
        """
        self._exigir_positivo(n)
        with self._trava:
            self._truncamentos[self.gravacoes + n] = (bytes_mantidos, visivel)

    def sem_espaco_apos(self, bytes_total: int | None) -> None:
        """Writes that would take the bytes written past the budget fail (None: off)."""
        with self._trava:
            self._orcamento = bytes_total

    def falhar_leitura(
        self,
        chave_prefixo: str,
        erro: BaseException | None,
        *,
        vezes: int | None = None,
    ) -> None:
        """Reads of keys starting with the prefix raise `erro` (`vezes` times, or
        always when None); `erro=None` removes the fault for that prefix."""
        with self._trava:
            if erro is None:
                self._falhas_leitura.pop(chave_prefixo, None)
            else:
                self._falhas_leitura[chave_prefixo] = (erro, vezes)

    def antes_de_gravar(self, gancho: Callable[[str], None] | None) -> None:
        """Call `gancho(chave)` before each write (None removes it)."""
        self._gancho = gancho

    def depois_de_gravar(self, gancho: Callable[[str], None] | None) -> None:
        """Call `gancho(chave)` after each write that stored something (None removes).

        Lets a test stop the process right after a stage is durable (e.g. just
        after a sidecar is published, before any cache is updated).
        """
        self._gancho_depois = gancho

    def antes_de_apagar(self, gancho: Callable[[str], None] | None) -> None:
        """Call `gancho(chave)` before each delete (None removes it)."""
        self._gancho_apagar = gancho

    @staticmethod
    def _exigir_positivo(n: int) -> None:
        if n < 1:
            raise ValueError(f"n começa em 1 (a próxima gravação), não {n}")

    # --- the protocol -----------------------------------------------------

    def _contar_leitura(self, chave: str) -> None:
        validar_chave(chave)
        with self._trava:
            self.leituras += 1
            for prefixo, (erro, vezes) in self._falhas_leitura.items():
                if chave.startswith(prefixo):
                    if vezes is not None:
                        if vezes <= 1:
                            del self._falhas_leitura[prefixo]
                        else:
                            self._falhas_leitura[prefixo] = (erro, vezes - 1)
                    break
            else:
                return
        raise erro

    def ler(self, chave: str) -> bytes:
        self._contar_leitura(chave)
        return self.interno.ler(chave)

    def ler_intervalo(self, chave: str, inicio: int, tamanho: int) -> bytes:
        self._contar_leitura(chave)
        return self.interno.ler_intervalo(chave, inicio, tamanho)

    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        validar_chave(chave)
        gancho = self._gancho
        if gancho is not None:
            gancho(chave)
        vistas = como_vistas(partes)
        tamanho = sum(v.nbytes for v in vistas)
        with self._trava:
            self.gravacoes += 1
            erro = self._falhas_gravacao.pop(self.gravacoes, None)
            truncamento = self._truncamentos.pop(self.gravacoes, None)
            if erro is None and truncamento is None:
                if (
                    self._orcamento is not None
                    and self.bytes_gravados + tamanho > self._orcamento
                ):
                    raise ErroEspacoInsuficiente(
                        f"{self.descrever()}: {chave}: espaço insuficiente "
                        f"(falha injetada: limite de {self._orcamento} bytes); "
                        "nada foi gravado"
                    )
                self.bytes_gravados += tamanho  # reserved; returned below if unused
        if erro is not None:
            raise erro
        if truncamento is not None:
            mantidos, visivel = truncamento
            if visivel:
                parcial = b"".join(vistas)[:mantidos]
                self.interno.gravar(chave, parcial, exclusivo=exclusivo)
                with self._trava:
                    self.bytes_gravados += len(parcial)
            raise ErroRepositorio(
                f"{self.descrever()}: {chave}: gravação interrompida após "
                f"{mantidos} bytes (falha injetada)"
            )
        gravou = False
        try:
            gravou = self.interno.gravar(chave, vistas, exclusivo=exclusivo)
        finally:
            if not gravou:
                with self._trava:
                    self.bytes_gravados -= tamanho
        depois = self._gancho_depois
        if gravou and depois is not None:
            depois(chave)
        return gravou

    def apagar(self, chave: str) -> None:
        gancho = self._gancho_apagar
        if gancho is not None:
            gancho(validar_chave(chave))
        self.interno.apagar(chave)


class BackendListagemAtrasada(BackendEnvolto):
    """An eventually consistent store, for tests (kopia's blobtesting has one):
    `ler`, `info` and `existe` see every write and delete at once, but `listar`
    shows a key's change only after `listagens` later listings; until then it
    shows the key as it was (absent, or with its old size and time)."""

    def __init__(self, interno: Backend, listagens: int = 3) -> None:
        super().__init__(interno)
        self.listagens = listagens
        self._trava = threading.Lock()
        # key -> (listings left before the change shows, what listings show now)
        self._atrasadas: dict[str, tuple[int, InfoObjeto | None]] = {}

    def _atrasar(self, chave: str, antes: InfoObjeto | None) -> None:
        with self._trava:
            _, visto = self._atrasadas.get(chave, (0, antes))
            self._atrasadas[chave] = (self.listagens, visto)

    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        # Only a write that changed the key lags: a refused exclusive create
        # leaves the object (and what listings show of it) as it was.
        antes = self.interno.info(chave)
        gravou = self.interno.gravar(chave, partes, exclusivo=exclusivo)
        if gravou:
            self._atrasar(chave, antes)
        return gravou

    def apagar(self, chave: str) -> None:
        self._atrasar(chave, self.interno.info(chave))
        self.interno.apagar(chave)

    def listar(self, prefixo: str) -> Iterator[InfoObjeto]:
        reais = {i.chave: i for i in self.interno.listar(prefixo)}
        with self._trava:
            for chave, (restantes, visto) in list(self._atrasadas.items()):
                if chave.startswith(prefixo):
                    reais.pop(chave, None)
                    if visto is not None:
                        reais[chave] = visto
                if restantes <= 1:
                    del self._atrasadas[chave]
                else:
                    self._atrasadas[chave] = (restantes - 1, visto)
        return iter(list(reais.values()))
