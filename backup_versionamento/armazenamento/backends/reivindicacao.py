"""Exclusive create that holds even on stores ignoring `If-None-Match: *`.

Some S3-compatible stores (s3rver, AWS S3 before August 2024, older MinIO and
Ceph RGW) accept a conditional PUT and simply overwrite: two machines would be
told they both created version 1.4.0. Never trusting a capability unseen, the
wrapper probes the store once (a probe key created twice, conditionally; the
second must be refused) and keeps the answer in this machine's state, per
endpoint and bucket. Where conditional create works, it is used as is. Where it
does not, `gravar(exclusivo=True)` runs restic's claim protocol, which needs only
strongly consistent reads and lists:

1. if the key exists: False;
2. write a claim under a unique name in `travas/reivindicacoes/<hash of key>/`;
3. list that folder: if another live claim is there, remove ours, back off at
   random and start again;
4. alone: if the key exists meanwhile, False; else write it, then remove the
   claim.

Two claimers can both back off, never both write: whoever lists second sees the
first one's claim, which stays until the key is written. That needs a listing
that shows a key as soon as it is written; a store without conditional create is
probed for that too (`sondar_listagem_imediata`), and where a fresh key is not
listed, exclusive create is refused (ErroNaoSuportado) rather than assumed.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from pathlib import Path

import blake3

from ...erros import ErroChaveAusente, ErroNaoSuportado, ErroTrava
from .base import Backend, BackendEnvolto, Partes

log = logging.getLogger("SistemaBackup")

PREFIXO_REIVINDICACOES = "travas/reivindicacoes/"
# Publishing one object takes a request or two: a claim older than this
# belongs to a process that died in between.
VALIDADE_REIVINDICACAO_S = 120.0
TENTATIVAS = 200


def sondar_criacao_condicional(backend: Backend) -> bool:
    """Create a fresh probe key twice, conditionally: True if the second is refused."""
    chave = f"travas/sonda-{uuid.uuid4().hex}"
    try:
        if not backend.gravar(chave, b"1", exclusivo=True):
            return False
        recusou = not backend.gravar(chave, b"2", exclusivo=True)
        return recusou and backend.ler(chave) == b"1"
    finally:
        backend.apagar(chave)


def sondar_listagem_imediata(backend: Backend) -> bool:
    """Write a fresh claim-like key and list its folder at once: True if listed.

    One look proves a lag, not its absence; it catches a store that always lags
    (a cache in front of the listing), which is what the claims cannot survive.
    """
    pasta = f"{PREFIXO_REIVINDICACOES}sonda-{uuid.uuid4().hex}/"
    chave = f"{pasta}sonda.json"
    backend.gravar(chave, b"{}")
    try:
        return any(info.chave == chave for info in backend.listar(pasta))
    finally:
        backend.apagar(chave)


def _ler_cache(arquivo: Path | None, chave: str) -> bool | None:
    if arquivo is None:
        return None
    try:
        valor = json.loads(arquivo.read_text(encoding="utf-8")).get(chave)
    except (OSError, ValueError, AttributeError):
        return None
    return valor if isinstance(valor, bool) else None


def _gravar_cache(arquivo: Path | None, chave: str, valor: bool) -> None:
    if arquivo is None:
        return
    # lazy: the state layer is only needed once per store and machine
    from ...base.escrita import escrever_json_atomico

    try:
        dados = json.loads(arquivo.read_text(encoding="utf-8"))
        if not isinstance(dados, dict):
            dados = {}
    except (OSError, ValueError):
        dados = {}
    dados[chave] = valor
    try:
        arquivo.parent.mkdir(parents=True, exist_ok=True)
        escrever_json_atomico(arquivo, dados)
    except OSError as e:  # a cache: probing again next time is fine
        log.warning("%s: resultado da sonda não guardado (%s)", arquivo, e)


class BackendCriacaoSondada(BackendEnvolto):
    """Honor `exclusivo=True` on any store: probed, else by claims (see module)."""

    def __init__(
        self,
        interno: Backend,
        *,
        cache: Path | None = None,
        chave_cache: str = "",
    ) -> None:
        super().__init__(interno)
        self.cache = cache
        self.chave_cache = chave_cache or interno.descrever()
        self._capaz: bool | None = None
        self._recusa: str | None = None
        self._trava = threading.Lock()

    @property
    def criacao_condicional(self) -> bool | None:
        return True  # by the store or by claims

    def capaz(self) -> bool:
        """Whether the store itself honors conditional create (probed once).

        Raises ErroNaoSuportado when it does not and its listing lags too: the
        claims would then let two writers both publish one key."""
        with self._trava:
            if self._recusa is not None:
                raise ErroNaoSuportado(self._recusa)
            if self._capaz is None:
                if self.interno.criacao_condicional:
                    self._capaz = True
                else:
                    capaz = _ler_cache(self.cache, self.chave_cache)
                    if capaz is None:
                        capaz = sondar_criacao_condicional(self.interno)
                        if not capaz and not sondar_listagem_imediata(self.interno):
                            # not cached: a fixed server is seen on the next run
                            self._recusa = (
                                f"{self.interno.descrever()}: o servidor ignora a "
                                "escrita condicional (If-None-Match: *) e a listagem "
                                "não mostra logo um objeto recém-gravado; sem uma "
                                "das duas, duas máquinas poderiam publicar a mesma "
                                "versão. Nada foi publicado. Use um servidor com "
                                "escrita condicional ou listagem imediata (AWS S3, "
                                "MinIO e Ceph RGW atuais têm as duas) ou um único "
                                "escritor: repositório numa pasta local desta "
                                "máquina (docs/S3.md, consistência)"
                            )
                            raise ErroNaoSuportado(self._recusa)
                        _gravar_cache(self.cache, self.chave_cache, capaz)
                    if not capaz:
                        log.warning(
                            "%s: o servidor ignora a escrita condicional "
                            "(If-None-Match: *); versões e travas são criadas com "
                            "reivindicações (docs/S3.md)",
                            self.interno.descrever(),
                        )
                    self._capaz = capaz
            return self._capaz

    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        if not exclusivo or self.capaz():
            return self.interno.gravar(chave, partes, exclusivo=exclusivo)
        return self._gravar_reivindicando(chave, partes)

    def _reivindicacao(self) -> bytes:
        return json.dumps(
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "expira_em_s": time.time() + VALIDADE_REIVINDICACAO_S,
            }
        ).encode()

    def _outras_vivas(self, pasta: str, minha: str) -> bool:
        for info in self.interno.listar(pasta):
            if info.chave == minha:
                continue
            try:
                expira = float(json.loads(self.interno.ler(info.chave))["expira_em_s"])
            except ErroChaveAusente:
                continue  # released meanwhile
            except (ValueError, KeyError, TypeError):
                expira = info.modificado + VALIDADE_REIVINDICACAO_S
            if time.time() < expira:
                return True
            self.interno.apagar(info.chave)  # its process died mid-publication
        return False

    def _gravar_reivindicando(self, chave: str, partes: Partes) -> bool:
        pasta = (
            f"{PREFIXO_REIVINDICACOES}{blake3.blake3(chave.encode()).hexdigest()[:32]}/"
        )
        for tentativa in range(TENTATIVAS):
            if self.interno.existe(chave):
                return False
            minha = f"{pasta}{uuid.uuid4().hex}.json"
            self.interno.gravar(minha, self._reivindicacao())
            try:
                if not self._outras_vivas(pasta, minha):
                    if self.interno.existe(chave):
                        return False
                    self.interno.gravar(chave, partes)
                    return True
            finally:
                self.interno.apagar(minha)
            time.sleep(random.uniform(0, min(1.0, 0.01 * 2 ** min(tentativa, 7))))
        raise ErroTrava(
            f"{self.interno.descrever()}/{chave}: outros processos disputaram a "
            f"criação {TENTATIVAS} vezes seguidas (o servidor não tem escrita "
            "condicional e a criação usa reivindicações); tente de novo"
        )

    # -- delegated ------------------------------------------------------------------


class BackendSemCondicional(BackendEnvolto):
    """A store that ignores conditional writes (for tests): it just overwrites."""

    @property
    def criacao_condicional(self) -> bool | None:
        return None  # it claims nothing; a probe finds out

    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        self.interno.gravar(chave, partes)
        return True
