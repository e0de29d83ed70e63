"""In-memory backend: the same contract as a folder, for fast tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from ...erros import ErroChaveAusente, ErroIntegridade, ErroPermissao
from .base import InfoObjeto, Partes, como_vistas, validar_chave, validar_intervalo


class BackendMemoria:
    """A dict of key -> (bytes, mtime) behind a lock; bytes are copied in."""

    # flock on this machine says nothing about who else writes "here".
    exclusao_real = False
    # a lock in memory
    criacao_condicional: bool | None = True
    leitura_maxima = 1 << 20
    pasta_local = None  # no folder: nothing to measure, logs in the state folder

    def __init__(self) -> None:
        self.somente_leitura = False
        self._objetos: dict[str, tuple[bytes, float]] = {}
        self._trava = threading.Lock()

    def __repr__(self) -> str:
        return f"BackendMemoria({len(self._objetos)} objetos)"

    def descrever(self) -> str:
        return "memória"

    def restringir(self) -> None:
        """No file modes in memory."""

    def limpar_temporarios(self, idade_s: float) -> tuple[int, int]:
        return 0, 0  # a write is one dict assignment: nothing half-written

    @staticmethod
    def _ausente(chave: str) -> ErroChaveAusente:
        return ErroChaveAusente(f"memória: objeto ausente (chave {chave!r})", chave)

    def _obter(self, chave: str) -> tuple[bytes, float]:
        validar_chave(chave)
        with self._trava:
            objeto = self._objetos.get(chave)
        if objeto is None:
            raise self._ausente(chave)
        return objeto

    def ler(self, chave: str) -> bytes:
        return self._obter(chave)[0]

    def ler_intervalo(self, chave: str, inicio: int, tamanho: int) -> bytes:
        validar_intervalo(inicio, tamanho)
        dados = self._obter(chave)[0]
        if inicio + tamanho > len(dados):
            raise ErroIntegridade(
                f"memória: objeto {chave!r} menor que o esperado (tem {len(dados)} "
                f"bytes; pedidos {tamanho} a partir de {inicio})"
            )
        return dados[inicio : inicio + tamanho]

    def _exigir_escrita(self, chave: str) -> None:
        if self.somente_leitura:
            raise ErroPermissao(f"memória: somente leitura; não grava {chave!r}")

    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        validar_chave(chave)
        self._exigir_escrita(chave)
        dados = b"".join(como_vistas(partes))
        with self._trava:
            if exclusivo and chave in self._objetos:
                return False
            self._objetos[chave] = (dados, time.time())
        return True

    def info(self, chave: str) -> InfoObjeto | None:
        validar_chave(chave)
        with self._trava:
            objeto = self._objetos.get(chave)
        if objeto is None:
            return None
        return InfoObjeto(chave, len(objeto[0]), objeto[1])

    def existe(self, chave: str) -> bool:
        return self.info(chave) is not None

    def listar(self, prefixo: str) -> Iterator[InfoObjeto]:
        with self._trava:
            achados = [
                InfoObjeto(chave, len(dados), modificado)
                for chave, (dados, modificado) in self._objetos.items()
                if chave.startswith(prefixo)
            ]
        yield from achados

    def apagar(self, chave: str) -> None:
        validar_chave(chave)
        self._exigir_escrita(chave)
        with self._trava:
            self._objetos.pop(chave, None)

    def envelhecer(self, chave: str, segundos: float) -> None:
        """Test helper: move the object's modification time `segundos` back."""
        validar_chave(chave)
        with self._trava:
            objeto = self._objetos.get(chave)
            if objeto is None:
                raise self._ausente(chave)
            self._objetos[chave] = (objeto[0], objeto[1] - segundos)
