"""Mirror mode: a local repository copied to S3 after each change, in background.

With `integracao.cloud_storage.habilitado` and a local `diretorios.base`, every
`backup_criado`, `versao_fixada` and `limpeza_concluida` pushes what the bucket
lacks (armazenamento.sincronia: key objects, header, packs, index fragments,
sidecars, pins: a complete repository); with `apagar_no_espelho` it also
deletes what limpeza removed here. It runs on the bus's worker thread: it
never blocks nor fails the backup.
A failure is retried a few times, then logged and shown in `status`; the next
event (or `inicializar_backup.py sincronizar`) sends whatever is still missing.
"""

from __future__ import annotations

import logging
import threading
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
EVENTOS_ESPELHO = frozenset({"backup_criado", "versao_fixada", "limpeza_concluida"})
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

    def __init__(self, config: dict[str, Any], local: Backend, saude: Saude) -> None:
        self.config = config
        self.local = local
        self.saude = saude
        self.config_nuvem = config["integracao"]["cloud_storage"]
        self.endereco = endereco_espelho(self.config_nuvem)
        self.apagar = bool(self.config_nuvem["apagar_no_espelho"])
        self.threads = int(config["performance"]["threads_backup"])
        self._destino: Backend | None = None
        self._parar = threading.Event()

    def __call__(self, evento: Evento) -> None:
        if evento.nome not in EVENTOS_ESPELHO:
            return
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
                mensagem = f"{evento.nome}: envio para {self.endereco} falhou: {e}"
                log.warning(
                    "Espelho: %s (o backup local está completo; o que faltar vai "
                    "no próximo envio ou com `inicializar_backup.py sincronizar`)",
                    mensagem,
                )
                self.saude.erro(mensagem)
                return
            if r["interrompido"]:
                return
            texto = (
                f"{evento.nome}: {r['objetos_copiados']} objeto(s), "
                f"{tamanho_legivel(r['bytes_copiados'])} enviados para {self.endereco}"
            )
            log.info("Espelho: %s", texto)
            self.saude.sucesso(texto)
            return

    def parar(self) -> None:
        """Stop between objects (the manager is closing); the rest goes next time."""
        self._parar.set()
