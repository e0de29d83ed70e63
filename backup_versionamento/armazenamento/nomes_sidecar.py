"""How a sidecar is sealed, opened and found by its key (mixed into `Repositorio`).

With names in clear the key says the model and version; with hidden names
(`nomes_chaveados`, docs/FORMATO.md) the key is a keyed id, resolved from this
machine's summaries or by reading the sidecar, which must hash back to its key.
An encrypted sidecar's object id binds it to its key: moved elsewhere, it is
refused.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import blake3

from ..erros import ErroBackup, ErroIntegridade, ErroObjetoCorrompido
from .backends import Backend
from .blob import TIPO_SIDECAR, Codificador
from .sidecar import PREFIXO, Nomes, Sidecar, id_objeto_chave, motivo_json

if TYPE_CHECKING:
    from .resumos import IndiceResumos


def id_objeto_sidecar(modelo: str, versao: str) -> bytes:
    """Object id of a sidecar blob: a sidecar moved elsewhere fails authentication."""
    return blake3.blake3(f"{modelo}/{versao}".encode()).digest()


class NomesSidecar:
    """Seal, open and name sidecars by key."""

    backend: Backend
    codificador: Codificador
    nomes: Nomes
    resumos: IndiceResumos
    _nomes_por_chave: dict[str, tuple[str, str]]
    _nomes_aquecidos: bool

    def descrever(self) -> str:
        raise NotImplementedError

    def ler_versao(self, modelo: str, versao: str) -> Sidecar:
        raise NotImplementedError

    def selar_sidecar(
        self, modelo: str, versao: str, claro: bytes
    ) -> bytes | list[bytes | memoryview]:
        """Canonical JSON as is, or an encrypted blob of kind 3 when encrypted."""
        if self.codificador.cifra is None:
            return claro
        return self.codificador.codificar(
            claro, TIPO_SIDECAR, self._id_objeto(modelo, versao), sempre_tentar=True
        )

    def _id_objeto(self, modelo: str, versao: str) -> bytes:
        # Hidden names: the key is bound, and the key is bound to the names.
        if self.nomes.ocultos:
            return id_objeto_chave(self.nomes.chave_sidecar(modelo, versao))
        return id_objeto_sidecar(modelo, versao)

    def abrir_sidecar(self, modelo: str, versao: str, bruto: bytes) -> bytes:
        return self._abrir_em(
            self.nomes.chave_sidecar(modelo, versao),
            self._id_objeto(modelo, versao),
            bruto,
        )

    def _abrir_em(self, chave: str, id_objeto: bytes, bruto: bytes) -> bytes:
        if self.codificador.cifra is None:
            return bruto
        try:
            return bytes(
                self.codificador.decodificar(bruto, TIPO_SIDECAR, id_objeto, nome=chave)
            )
        except ErroObjetoCorrompido as e:  # name the file, not the object id
            raise ErroObjetoCorrompido(
                f"{self.descrever()}/{chave}: metadado recusado ({e.mensagem})", chave
            ) from None

    def nome_da_chave(self, chave: str) -> tuple[str, str]:
        """(model, version) of a listed sidecar key; raises ErroBackup if unreadable.

        In clear, the key says it. Hidden, this machine's summaries or an earlier
        read say it, else the sidecar is read (decrypted, not signature-checked:
        callers read the version next) and must hash back to `chave`.
        """
        if not self.nomes.ocultos:
            segs = self.nomes.segmentos(chave)
            if segs is None:
                raise ErroIntegridade(f"{self.descrever()}/{chave}: não é um metadado")
            return segs
        achado = self._nomes_por_chave.get(chave)
        if achado is None and not self._nomes_aquecidos:
            self._nomes_aquecidos = True
            for m, v in self.resumos.conhecidas():
                self._nomes_por_chave[self.nomes.chave_sidecar(m, v)] = (m, v)
            achado = self._nomes_por_chave.get(chave)
        if achado is not None:
            return achado
        origem = f"{self.descrever()}/{chave}"
        claro = self._abrir_em(chave, id_objeto_chave(chave), self.backend.ler(chave))
        try:
            dados = json.loads(claro)
        except (ValueError, UnicodeDecodeError) as e:
            raise ErroIntegridade(
                f"{origem}: metadado corrompido ({motivo_json(e)})"
            ) from None
        modelo = dados.get("modelo") if isinstance(dados, dict) else None
        versao = dados.get("versao") if isinstance(dados, dict) else None
        if not isinstance(modelo, str) or not isinstance(versao, str):
            raise ErroIntegridade(f"{origem}: metadado sem modelo ou versão")
        self.nomes.conferir(chave, modelo, versao, origem)
        self._nomes_por_chave[chave] = (modelo, versao)
        return modelo, versao

    def chaves_sidecars(self, modelo: str | None = None) -> list[str]:
        """Keys of every sidecar (of one model), sorted, from a listing."""
        prefixo = self.nomes.prefixo(modelo) if modelo else PREFIXO
        return sorted(
            info.chave
            for info in self.backend.listar(prefixo)
            if self.nomes.segmentos(info.chave) is not None
        )

    def _rotulos(self, chave: str, segs: tuple[str, str]) -> tuple[str, str]:
        """Names to report an unreadable sidecar by (its key's ids when hidden)."""
        if not self.nomes.ocultos:
            return segs
        if not self._nomes_aquecidos:
            with contextlib.suppress(ErroBackup):
                self.nome_da_chave(chave)
        return self._nomes_por_chave.get(chave, (f"(nome oculto {segs[0]})", segs[1]))

    def iterar_sidecars(self) -> Iterator[tuple[str, str, Sidecar | ErroBackup]]:
        """Every (modelo, versao, sidecar or the error reading it), from the store."""
        chaves = sorted(i.chave for i in self.backend.listar(PREFIXO))
        ocupados = set()
        for chave in chaves:
            resto = chave[len(PREFIXO) :]
            partes = resto.split("/")
            if len(partes) > 2:
                # Keys under "<versao>.json/": a folder took the sidecar's place.
                lugar = f"{PREFIXO}{partes[0]}/{partes[1]}"
                segs = self.nomes.segmentos(lugar)
                if segs is not None and lugar not in ocupados:
                    ocupados.add(lugar)
                    yield (
                        *self._rotulos(lugar, segs),
                        ErroIntegridade(
                            f"{self.descrever()}/{lugar}: uma pasta "
                            "ocupa o lugar do metadado da versão; restaure o arquivo "
                            "de uma cópia do repositório"
                        ),
                    )
                continue
            segs = self.nomes.segmentos(chave)
            if segs is None:
                continue
            try:
                modelo, versao = self.nome_da_chave(chave)
            except ErroBackup as e:
                yield (*self._rotulos(chave, segs), e)
                continue
            try:
                yield modelo, versao, self.ler_versao(modelo, versao)
            except ErroBackup as e:
                yield modelo, versao, e
