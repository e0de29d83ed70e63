"""Mirror mode: a local repository copied to S3 after each change, in background.

With `integracao.cloud_storage.habilitado` and a local `diretorios.base`, every
`backup_criado`, `versao_fixada` and `limpeza_concluida` pushes what the bucket
lacks (armazenamento.sincronia: key objects, header, packs, index fragments,
sidecars, pins: a complete repository); with `apagar_no_espelho` it also
deletes what limpeza removed here. It runs on the bus's worker thread: it
never blocks nor fails the backup.
A failure is retried a few times, then logged and shown in `status`; the next
event (or `inicializar_backup.py sincronizar`) sends whatever is still missing.

A change not yet pushed is marked in the per-machine state folder
(`espelho/pendente`): before exiting, any process with the mirror on pushes it
for at most `espera_ao_sair_segundos`, so a short CLI command or a push cut by
the exit is finished by the next process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from ..armazenamento.backends import Backend
from ..armazenamento.sincronia import sincronizar
from ..erros import ErroBackup
from ..eventos import Evento
from ..registro import NOME_LOGGER
from ..texto import tamanho_legivel
from .saude import Saude

log = logging.getLogger(NOME_LOGGER)

NOME = "espelho"
EVENTOS_ESPELHO = frozenset(
    {
        "backup_criado",
        "versao_fixada",
        "limpeza_concluida",
        "alias_definido",
        "alias_removido",
    }
)
TENTATIVAS = 3
ESPERA_INICIAL_S = 1.0


def endereco_espelho(nuvem: dict[str, Any]) -> str:
    """`s3://bucket/prefix` of the configured bucket."""
    prefixo = str(nuvem.get("prefixo") or "").strip("/")
    return f"s3://{nuvem['bucket']}" + (f"/{prefixo}" if prefixo else "")


def backend_espelho(config: dict[str, Any]) -> Backend:
    from ..armazenamento.backends.endereco import backend_s3

    return backend_s3(endereco_espelho(config["integracao"]["cloud_storage"]), config)


def opcoes_apagar(config: dict[str, Any], apagar: bool) -> dict[str, Any]:
    """Deletion propagation with the same grace and lease rules as limpeza."""
    retencao = config["retencao"]
    return {
        "apagar": apagar,
        "carencia_s": retencao["carencia_coleta_minutos"] * 60,
        "espera_s": retencao["espera_backups_minutos"] * 60,
    }


class Espelho:
    """Bus subscriber that pushes the local repository to the bucket."""

    def __init__(
        self,
        config: dict[str, Any],
        local: Backend,
        saude: Saude,
        pasta_estado: Path | None = None,
    ) -> None:
        self.config = config
        self.local = local
        self.saude = saude
        self.config_nuvem = config["integracao"]["cloud_storage"]
        self.endereco = endereco_espelho(self.config_nuvem)
        self.apagar = bool(self.config_nuvem["apagar_no_espelho"])
        self.espera_ao_sair = float(self.config_nuvem["espera_ao_sair_segundos"])
        self.threads = int(config["performance"]["threads_backup"])
        self.marca = None if pasta_estado is None else pasta_estado / NOME / "pendente"
        self._destino: Backend | None = None
        self._parar = threading.Event()
        self._enviando = threading.Lock()
        # The mark's time when this process last finished a push attempt.
        self._tentada: int | None = None

    def __call__(self, evento: Evento) -> None:
        if evento.nome not in EVENTOS_ESPELHO:
            return
        self._marcar()
        with self._enviando:
            self._enviar(evento.nome)

    def pendente(self) -> bool:
        return self.marca is not None and self.marca.exists()

    def concluir(self) -> None:
        """Before exit: push what is pending for at most `espera_ao_sair` s."""
        if not self.pendente() or self.espera_ao_sair <= 0:
            return
        if self._momento_marca() == self._tentada:
            return  # this process already tried since the last change
        if not self._enviando.acquire(timeout=self.espera_ao_sair):
            return
        prazo = threading.Timer(self.espera_ao_sair, self._parar.set)
        prazo.start()
        try:
            inicio = time.monotonic()
            self._enviar("pendente")
            if self._parar.is_set():
                log.warning(
                    "Espelho %s: envio interrompido ao sair após %.0f s "
                    "(integracao.cloud_storage.espera_ao_sair_segundos); o resto vai "
                    "no próximo processo ou com `inicializar_backup.py sincronizar`",
                    self.endereco,
                    time.monotonic() - inicio,
                )
        finally:
            prazo.cancel()
            self._enviando.release()

    def _marcar(self) -> None:
        if self.marca is None:
            return
        try:
            self.marca.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.marca.touch()
        except OSError as e:
            log.warning("Espelho: não foi possível marcar %s: %s", self.marca, e)

    def _enviar(self, motivo: str) -> None:
        """Push what the bucket lacks (a few tries); clear the mark when done."""
        marcada = self._momento_marca()
        espera = ESPERA_INICIAL_S
        for tentativa in range(1, TENTATIVAS + 1):
            if self._parar.is_set():
                return
            try:
                if self._destino is None:
                    self._destino = backend_espelho(self.config)
                r = sincronizar(
                    self.local,
                    self._destino,
                    threads=self.threads,
                    parar=self._parar,
                    **opcoes_apagar(
                        self.config, self.config_nuvem["apagar_no_espelho"]
                    ),
                )
            except ErroBackup as e:
                if tentativa < TENTATIVAS:
                    log.info(
                        "Espelho %s: falha (%s); tentativa %d de %d em %.0f s",
                        self.endereco,
                        e,
                        tentativa + 1,
                        TENTATIVAS,
                        espera,
                    )
                    if self._parar.wait(espera):
                        return
                    espera *= 2
                    continue
                mensagem = f"{motivo}: envio para {self.endereco} falhou: {e}"
                log.warning(
                    "Espelho: %s (o backup local está completo; o que faltar vai "
                    "no próximo envio ou com `inicializar_backup.py sincronizar`)",
                    mensagem,
                )
                self.saude.erro(mensagem)
                self._tentada = marcada
                return
            if r["interrompido"]:
                return
            self._limpar_marca(marcada)
            texto = (
                f"{motivo}: {r['objetos_copiados']} objeto(s), "
                f"{tamanho_legivel(r['bytes_copiados'])} enviados para {self.endereco}"
            )
            log.info("Espelho: %s", texto)
            self.saude.sucesso(texto)
            return

    def _momento_marca(self) -> int | None:
        try:
            return None if self.marca is None else self.marca.stat().st_mtime_ns
        except OSError:
            return None

    def _limpar_marca(self, marcada: int | None) -> None:
        """Clear the mark unless a newer change marked it during the push."""
        if marcada is not None and self._momento_marca() == marcada:
            with contextlib.suppress(OSError):
                self.marca.unlink()  # type: ignore[union-attr]

    def parar(self) -> None:
        """Stop between objects (the manager is closing); the rest goes next time."""
        self._parar.set()
