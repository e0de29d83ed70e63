"""A Keras callback that backs the model up while it trains.

    from backup_versionamento import GerenciadorBackupVersionamento
    from backup_versionamento.keras import CallbackBackup

    g = GerenciadorBackupVersionamento("./backups")
    cb = CallbackBackup(g, "lotofacil_rede", monitor="val_loss", modo="min")
    modelo.fit(x, y, validation_split=0.2, epochs=30, callbacks=[cb])
    cb.versoes  # [{"epoca": 1, "versao": "1.0.0", "metricas": {...}}, ...]

Importing this module imports Keras: only training scripts do it.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import keras

from .erros import ErroArgumento
from .politica.versoes import incremento_de
from .registro import NOME_LOGGER

if TYPE_CHECKING:
    from .gerenciador import GerenciadorBackupVersionamento

log = logging.getLogger(NOME_LOGGER)

MODOS = ("min", "max")
MetricasExtras = Callable[[int, Mapping[str, float]], Mapping[str, Any]]


class CallbackBackup(keras.callbacks.Callback):
    """Save the model (`.keras`) after an epoch and back it up with its metrics.

    With `so_melhores` (default) only epochs where `monitor` improves (`modo`
    "min" or "max") are saved; otherwise every epoch. The epoch's logs (loss,
    val_loss, the compiled metrics; non-finite values left out) become the
    version's metrics, plus whatever `metricas_extras(epoca, logs)` returns (e.g.
    the Lotofácil metrics of `metricas.calcular_metricas` on a validation set);
    the epoch number goes into the description. A failed backup never stops the
    training: it is logged, kept in `falhas`, and reported when training ends.
    """

    def __init__(
        self,
        gerenciador: GerenciadorBackupVersionamento,
        nome: str,
        monitor: str = "val_loss",
        modo: str = "min",
        so_melhores: bool = True,
        tipo_mudanca: str = "retreino",
        *,
        descricao: str = "",
        metricas_extras: MetricasExtras | None = None,
    ) -> None:
        super().__init__()
        if modo not in MODOS:
            raise ErroArgumento(
                f"modo {modo!r} inválido; use 'min' (ex.: val_loss) ou 'max' "
                "(ex.: val_accuracy)"
            )
        if not isinstance(nome, str) or not nome:
            raise ErroArgumento("nome: o nome do modelo no repositório (texto)")
        incremento_de(tipo_mudanca)  # a wrong kind fails now, not after an epoch
        self.gerenciador = gerenciador
        self.nome = nome
        self.monitor = monitor
        self.modo = modo
        self.so_melhores = so_melhores
        self.tipo_mudanca = tipo_mudanca
        self.descricao = descricao
        self.metricas_extras = metricas_extras
        self.melhor: float | None = None
        self.versoes: list[dict[str, Any]] = []
        self.falhas: list[dict[str, Any]] = []
        self._avisou_monitor = False

    def _melhorou(self, valor: float | None) -> bool:
        if valor is None:
            if not self._avisou_monitor:
                self._avisou_monitor = True
                log.warning(
                    "CallbackBackup: %r não está nos logs da época; cada época "
                    "será guardada (confira monitor=)",
                    self.monitor,
                )
            return True
        if self.melhor is None:
            return True
        return valor < self.melhor if self.modo == "min" else valor > self.melhor

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        epoca = epoch + 1
        metricas = _numericas(logs or {})
        atual = metricas.get(self.monitor)
        if self.so_melhores and not self._melhorou(atual):
            return
        total = (self.params or {}).get("epochs")
        descricao = f"época {epoca}" + (f"/{total}" if total else "")
        if atual is not None:
            descricao += f", {self.monitor}={atual:.6g}"
        if self.descricao:
            descricao += f": {self.descricao}"
        try:
            if self.metricas_extras is not None:
                metricas.update(self.metricas_extras(epoca, dict(metricas)))
            versao = self.gerenciador.versionar_objeto(
                self.model, self.nome, self.tipo_mudanca, metricas, descricao
            )
        except Exception as e:  # the training goes on whatever the backup did
            log.error(
                "CallbackBackup: backup da época %d de %s falhou (o treino "
                "continua): %s",
                epoca,
                self.nome,
                e,
            )
            self.falhas.append({"epoca": epoca, "erro": str(e)})
            return
        if atual is not None:
            self.melhor = atual
        self.versoes.append({"epoca": epoca, "versao": versao, "metricas": metricas})
        log.info("CallbackBackup: época %d de %s -> %s", epoca, self.nome, versao)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.falhas:
            epocas = ", ".join(str(f["epoca"]) for f in self.falhas)
            aviso = (
                f"CallbackBackup: o treino de {self.nome} terminou, mas "
                f"{len(self.falhas)} backup(s) falharam (épocas {epocas}): "
                f"{self.falhas[-1]['erro']}"
            )
            log.warning("%s", aviso)
            # The log may go only to a file: whoever watches the training sees it.
            print(f"AVISO: {aviso}", file=sys.stderr)


def _numericas(logs: Mapping[str, Any]) -> dict[str, float]:
    """The epoch's logs as plain finite floats (NaN/inf cannot be stored)."""
    saida = {}
    for nome, valor in logs.items():
        try:
            numero = float(valor)
        except (TypeError, ValueError):
            continue
        if math.isfinite(numero):
            saida[str(nome)] = numero
    return saida
