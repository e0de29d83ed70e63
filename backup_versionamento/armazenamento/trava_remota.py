"""A lock object in the repository itself, for stores shared by machines.

flock only excludes processes of one machine. On an object store garbage
collection is excluded by `travas/limpeza.json`, created with an exclusive
write (If-None-Match on S3): owner, host, pid, creation and expiry times. A
thread refreshes the expiry while the collection runs; a lock past its expiry
belongs to a collector that died. Such a stale lock is reported with what to do
and removed only on request (`limpeza --quebrar-trava`), never silently.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from ..erros import ErroChaveAusente, ErroTrava
from .backends import Backend

log = logging.getLogger("SistemaBackup")

CHAVE_TRAVA_LIMPEZA = "travas/limpeza.json"
# Rewritten by every collection when it starts: a new id there tells a backup
# that a collection ran while it was writing.
CHAVE_ULTIMA_LIMPEZA = "travas/limpeza_ultima.json"
# A live collector pushes its expiry this far ahead, every RENOVACAO_S.
VALIDADE_S = 300.0
RENOVACAO_S = 60.0


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ler_trava(
    backend: Backend, chave: str = CHAVE_TRAVA_LIMPEZA
) -> dict[str, Any] | None:
    """The lock's record (with 'expirada'), or None when there is no lock."""
    try:
        bruto = backend.ler(chave)
    except ErroChaveAusente:
        return None
    try:
        dados = json.loads(bruto)
        if not isinstance(dados, dict):
            raise ValueError("não é um objeto")
        expira = float(dados["expira_em_s"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        # Unreadable: treat as stale, so a person decides (never ignored).
        dados, expira = {"dono": "?", "host": "?", "pid": 0}, 0.0
    dados["expirada"] = time.time() > expira
    return dados


def descrever_trava(dados: dict[str, Any]) -> str:
    return (
        f"{dados.get('dono', '?')}@{dados.get('host', '?')} "
        f"(pid {dados.get('pid', '?')}, desde {dados.get('criada_em', '?')}, "
        f"expira {dados.get('expira_em', '?')})"
    )


def erro_trava_expirada(descricao: str, dados: dict[str, Any]) -> ErroTrava:
    return ErroTrava(
        f"{descricao}: trava de limpeza expirada de {descrever_trava(dados)}; a "
        "limpeza que a criou parou sem terminar. Confira que ela não está mais "
        "rodando naquela máquina e remova a trava com "
        "`inicializar_backup.py limpeza --quebrar-trava`"
    )


class TravaRemota:
    """Hold the lock object; refresh it from a thread until released."""

    def __init__(
        self,
        backend: Backend,
        chave: str = CHAVE_TRAVA_LIMPEZA,
        *,
        validade_s: float = VALIDADE_S,
        renovacao_s: float = RENOVACAO_S,
    ) -> None:
        self.backend = backend
        self.chave = chave
        self.validade_s = validade_s
        self.renovacao_s = renovacao_s
        self.id = uuid.uuid4().hex
        self.criada = time.time()
        self._parar = threading.Event()
        self._thread: threading.Thread | None = None

    def _registro(self) -> bytes:
        expira = time.time() + self.validade_s
        try:
            dono = getpass.getuser()
        except (KeyError, OSError):
            dono = "?"
        dados = {
            "id": self.id,
            "dono": dono,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "criada_em": _iso(self.criada),
            "expira_em": _iso(expira),
            "expira_em_s": expira,
        }
        return (json.dumps(dados, ensure_ascii=False) + "\n").encode()

    def adquirir(self) -> None:
        descricao = self.backend.descrever()
        if self.backend.gravar(self.chave, self._registro(), exclusivo=True):
            self.backend.gravar(CHAVE_ULTIMA_LIMPEZA, self._registro())
            self._thread = threading.Thread(
                target=self._renovar, name="backup-trava-remota", daemon=True
            )
            self._thread.start()
            return
        dados = ler_trava(self.backend, self.chave)
        if dados is None:  # released between our write and read: try once more
            return self.adquirir()
        if dados["expirada"]:
            raise erro_trava_expirada(descricao, dados)
        raise ErroTrava(
            f"{descricao}: limpeza em andamento em {descrever_trava(dados)}; "
            "tente de novo quando ela terminar"
        )

    def _renovar(self) -> None:
        while not self._parar.wait(self.renovacao_s):
            try:
                dados = ler_trava(self.backend, self.chave)
                if dados is None or dados.get("id") != self.id:
                    log.error(
                        "%s: a trava de limpeza foi removida ou tomada por outro "
                        "processo durante a limpeza",
                        self.backend.descrever(),
                    )
                    return
                self.backend.gravar(self.chave, self._registro())
            except Exception as e:  # a blip: the next round tries again
                log.warning("trava de limpeza: falha ao renovar (%s)", e)

    def liberar(self) -> None:
        self._parar.set()
        if self._thread is not None:
            self._thread.join()
        dados = ler_trava(self.backend, self.chave)
        if dados is not None and dados.get("id") == self.id:
            self.backend.apagar(self.chave)


@contextmanager
def trava_limpeza(backend: Backend) -> Iterator[None]:
    """Exclude other machines' collections; a no-op where flock already excludes."""
    if backend.exclusao_real:
        yield
        return
    trava = TravaRemota(backend)
    trava.adquirir()
    try:
        yield
    finally:
        trava.liberar()


def esperar_sem_limpeza(
    backend: Backend, espera_s: float, *, intervalo_s: float = 1.0
) -> None:
    """Before a backup publishes on a shared store: wait out a running collection.

    A stale lock does not block backups (no collection is running); it is
    logged so someone removes it.
    """
    if backend.exclusao_real:
        return
    limite = time.monotonic() + espera_s
    while True:
        dados = ler_trava(backend)
        if dados is None:
            return
        if dados["expirada"]:
            log.warning("%s", erro_trava_expirada(backend.descrever(), dados))
            return
        if time.monotonic() >= limite:
            raise ErroTrava(
                f"{backend.descrever()}: limpeza em andamento em "
                f"{descrever_trava(dados)} há mais de {espera_s:.0f}s; tente o "
                "backup de novo quando ela terminar"
            )
        time.sleep(intervalo_s)


def marca_limpeza(backend: Backend) -> str | None:
    """Id of the last collection started here ("" if none); None where flock excludes.

    A backup takes it before writing and again before publishing: a change
    means a collection ran meanwhile and may have deleted packs the backup
    deduplicated against, so the backup checks its chunks before publishing.
    """
    if backend.exclusao_real:
        return None
    dados = ler_trava(backend, CHAVE_ULTIMA_LIMPEZA)
    return str(dados.get("id", "?")) if dados is not None else ""


def quebrar_trava(backend: Backend) -> dict[str, Any] | None:
    """Remove the collection lock on request; returns what it held (None: none)."""
    dados = ler_trava(backend)
    if dados is not None:
        backend.apagar(CHAVE_TRAVA_LIMPEZA)
        log.warning(
            "%s: trava de limpeza removida a pedido: %s",
            backend.descrever(),
            descrever_trava(dados),
        )
    return dados
