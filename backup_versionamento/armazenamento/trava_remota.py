"""Lock objects in the repository itself, for repositories shared by machines.

flock only excludes processes of one machine (and of one state folder). In the
repository, garbage collection is excluded by `travas/limpeza.json`, created
with an exclusive write (link() locally, If-None-Match on S3): owner, host, pid,
creation and expiry times. Every backup holds a lease, `travas/concessoes/<id>.json`
(the same record under a unique name, so no conditional write is needed), for
its whole write phase. The protocol (docs/FORMATO.md, "Travas"), restic's
shared/exclusive locks:

- a backup writes its lease, then reads the collection lock: if a live one is
  there it removes its lease, waits and tries again;
- a collection creates its lock, then lists leases and waits (bounded) while a
  live one exists.

With a strongly consistent store one of the two always sees the other, so a
collection never deletes while a backup may be deduplicating. Threads refresh
the expiry of both; one past its expiry belongs to a process that died (or
stalled). A stale lock or lease is reported with what to do and removed only on
request (`limpeza --quebrar-trava`), never silently, except a lease of this
very host whose process no longer exists.
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

from ..base.tempo import iso_utc
from ..erros import ErroBackup, ErroChaveAusente, ErroTrava
from .backends import Backend

log = logging.getLogger("SistemaBackup")

CHAVE_TRAVA_LIMPEZA = "travas/limpeza.json"
# Rewritten by every collection when it starts: a new id there tells a backup
# that a collection ran while it was writing.
CHAVE_ULTIMA_LIMPEZA = "travas/limpeza_ultima.json"
PREFIXO_CONCESSOES = "travas/concessoes/"
# A live collector pushes its expiry this far ahead, every RENOVACAO_S.
VALIDADE_S = 300.0
RENOVACAO_S = 60.0


def _iso(t: float) -> str:
    return iso_utc(datetime.fromtimestamp(t, timezone.utc))


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
        # Set when the refresh finds the object gone or taken (broken on purpose).
        self.perdida = False
        self._renovada = time.monotonic()

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
            self._iniciar_renovacao()
            return
        dados = ler_trava(self.backend, self.chave)
        if dados is None:  # released between our write and read: try once more
            return self.adquirir()
        if _processo_morto(dados) and _apagar_se_for(self.backend, self.chave, dados):
            return self.adquirir()
        if dados["expirada"]:
            raise erro_trava_expirada(descricao, dados)
        raise ErroTrava(
            f"{descricao}: limpeza em andamento em {descrever_trava(dados)}; "
            "tente de novo quando ela terminar"
        )

    def _iniciar_renovacao(self) -> None:
        self._renovada = time.monotonic()
        self._thread = threading.Thread(
            target=self._renovar, name="backup-trava-remota", daemon=True
        )
        self._thread.start()

    def _renovar(self) -> None:
        while not self._parar.wait(self.renovacao_s):
            try:
                dados = ler_trava(self.backend, self.chave)
                if dados is None or dados.get("id") != self.id:
                    self.perdida = True
                    log.error(
                        "%s: %s foi removida ou tomada por outro processo",
                        self.backend.descrever(),
                        self.chave,
                    )
                    return
                self.backend.gravar(self.chave, self._registro())
                self._renovada = time.monotonic()
            except Exception as e:  # a blip: the next round tries again
                log.warning("%s: falha ao renovar (%s)", self.chave, e)

    def valida(self) -> bool:
        """Still ours and refreshed recently enough that others count it live."""
        return not self.perdida and time.monotonic() - self._renovada < self.validade_s

    def exigir_valida(self) -> None:
        """Raise before deleting anything once the lock is no longer ours."""
        dados = ler_trava(self.backend, self.chave)
        if dados is None or dados.get("id") != self.id:
            self.perdida = True
        if not self.valida():
            raise ErroTrava(
                f"{self.backend.descrever()}: {self.chave} foi removida ou expirou "
                "durante a limpeza; ela parou antes de apagar mais nada (backups "
                "podem estar gravando). Rode a limpeza de novo"
            )

    def liberar(self) -> None:
        self._parar.set()
        if self._thread is not None:
            self._thread.join()
        dados = ler_trava(self.backend, self.chave)
        if dados is not None and dados.get("id") == self.id:
            self.backend.apagar(self.chave)


@contextmanager
def trava_limpeza(
    backend: Backend, espera_backups_s: float = 0.0, *, intervalo_s: float = 0.2
) -> Iterator[TravaRemota]:
    """Exclude other collections, then wait out every backup's lease.

    Even a local folder needs the lock object: processes with different state
    folders (or machines sharing a mount) share no flock. Before deleting, the
    holder checks `exigir_valida()`: a lock broken meanwhile lets backups in.
    """
    trava = TravaRemota(backend)
    trava.adquirir()
    try:
        esperar_concessoes(backend, espera_backups_s, intervalo_s=intervalo_s)
        yield trava
    finally:
        trava.liberar()


class Concessao(TravaRemota):
    """A backup's lease: a lock record under a unique name, refreshed while held."""

    def __init__(self, backend: Backend, **opcoes: Any) -> None:
        super().__init__(backend, "", **opcoes)
        self.chave = f"{PREFIXO_CONCESSOES}{self.id}.json"

    def adquirir(self, espera_s: float = 0.0, intervalo_s: float = 0.2) -> None:
        """Write the lease, then look for a collection; back off while one runs."""
        limite = time.monotonic() + espera_s
        while True:
            esperar_sem_limpeza(
                self.backend,
                max(0.0, limite - time.monotonic()),
                intervalo_s=intervalo_s,
            )
            self.backend.gravar(self.chave, self._registro())
            dados = ler_trava(self.backend)
            if dados is None or dados["expirada"] or _processo_morto(dados):
                self._iniciar_renovacao()
                return
            # A collection started meanwhile and may not have seen our lease
            # yet: it goes first, we never block it.
            self.backend.apagar(self.chave)


@contextmanager
def concessao_backup(backend: Backend, espera_s: float) -> Iterator[Concessao | None]:
    """Hold a lease for a backup's write phase (None on a read-only backend)."""
    if backend.somente_leitura:
        yield None
        return
    concessao = Concessao(backend)
    concessao.adquirir(espera_s)
    try:
        yield concessao
    finally:
        try:
            concessao.liberar()
        except ErroBackup as e:  # the work is done; the lease just expires
            log.warning(
                "%s: concessão %s não removida (%s); ela expira em %.0f s e a "
                "limpeza pede para removê-la",
                backend.descrever(),
                concessao.chave,
                e,
                concessao.validade_s,
            )


def _processo_morto(dados: dict[str, Any]) -> bool:
    """True only when the record's process surely is gone: this host, no such pid."""
    if dados.get("host") != socket.gethostname():
        return False
    pid = dados.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _apagar_se_for(backend: Backend, chave: str, dados: dict[str, Any]) -> bool:
    """Remove a dead process's lock object, unless someone replaced it meanwhile."""
    atual = ler_trava(backend, chave)
    if atual is None or atual.get("id") != dados.get("id"):
        return True  # already gone or replaced: look again
    backend.apagar(chave)
    log.warning(
        "%s: %s de um processo que morreu removida: %s",
        backend.descrever(),
        chave,
        descrever_trava(dados),
    )
    return True


def listar_concessoes(backend: Backend) -> list[dict[str, Any]]:
    """Every backup lease in the repository (each with 'chave' and 'expirada')."""
    saida = []
    for info in backend.listar(PREFIXO_CONCESSOES):
        dados = ler_trava(backend, info.chave)
        if dados is not None:
            dados["chave"] = info.chave
            saida.append(dados)
    return saida


def erro_concessao_expirada(descricao: str, dados: dict[str, Any]) -> ErroTrava:
    return ErroTrava(
        f"{descricao}: concessão expirada de um backup de {descrever_trava(dados)}; "
        "o backup que a criou parou sem terminar e a limpeza não apaga nada "
        "enquanto ele puder estar reaproveitando blocos. Confira que ele não está "
        "mais rodando naquela máquina e remova a concessão com "
        "`inicializar_backup.py limpeza --quebrar-trava`"
    )


def esperar_concessoes(
    backend: Backend, espera_s: float, *, intervalo_s: float = 0.2
) -> None:
    """Under the collection lock: return once no backup holds a lease.

    Leases of this host whose process is gone are removed (nothing can revive
    them); a stale lease of another host stops the collection with what to do.
    """
    limite = time.monotonic() + espera_s
    while True:
        vivas = []
        for dados in listar_concessoes(backend):
            if _processo_morto(dados):
                backend.apagar(dados["chave"])
                log.warning(
                    "%s: concessão de um backup que morreu removida: %s",
                    backend.descrever(),
                    descrever_trava(dados),
                )
            elif dados["expirada"]:
                raise erro_concessao_expirada(backend.descrever(), dados)
            else:
                vivas.append(dados)
        if not vivas:
            return
        if time.monotonic() >= limite:
            raise ErroTrava(
                f"{backend.descrever()}: {len(vivas)} backup(s) em andamento "
                f"(ex.: {descrever_trava(vivas[0])}) há mais de {espera_s:.0f}s; "
                "a limpeza não apaga nada enquanto um backup grava. Tente de novo "
                "quando terminarem (ou aumente retencao.espera_backups_minutos)"
            )
        time.sleep(intervalo_s)


def esperar_sem_limpeza(
    backend: Backend, espera_s: float, *, intervalo_s: float = 1.0
) -> None:
    """Before a backup takes its lease: wait out a running collection.

    A stale lock does not block backups (no collection is running); it is
    logged so someone removes it.
    """
    limite = time.monotonic() + espera_s
    while True:
        dados = ler_trava(backend)
        if dados is None or _processo_morto(dados):
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


def marca_limpeza(backend: Backend) -> str:
    """Id of the last collection started here ("" if none).

    A backup takes it before writing and again before publishing: a change
    means a collection ran meanwhile (its lease was broken or expired) and may
    have deleted packs the backup deduplicated against, so the backup checks
    its chunks before publishing.
    """
    dados = ler_trava(backend, CHAVE_ULTIMA_LIMPEZA)
    return str(dados.get("id", "?")) if dados is not None else ""


def quebrar_concessoes(backend: Backend) -> list[dict[str, Any]]:
    """Remove the expired backup leases on request; returns what they held."""
    removidas = []
    for dados in listar_concessoes(backend):
        if dados["expirada"]:
            backend.apagar(dados["chave"])
            removidas.append(dados)
            log.warning(
                "%s: concessão de backup expirada removida a pedido: %s",
                backend.descrever(),
                descrever_trava(dados),
            )
    return removidas


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
