"""Train a Keras Lotofácil model with the backup callback: every improvement kept.

    python exemplos/treino_keras.py --base ./backups_modelos --epocas 10

`CallbackBackup` saves the model after each epoch where val_loss improves and
backs it up with that epoch's logs plus the Lotofácil metrics on held-out draws;
at the end the best version becomes `@producao` and is loaded back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
from lotofacil import apostas, argumentos, numeros, proximos, sorteios_simulados

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.keras import CallbackBackup
from backup_versionamento.metricas import calcular_metricas

NOME = "lotofacil_rede"


def main() -> None:
    p = argumentos(__doc__.splitlines()[0])
    p.add_argument("--epocas", type=int, default=10)
    args = p.parse_args()

    keras.utils.set_random_seed(args.semente)
    sorteios = sorteios_simulados(300, args.semente, np.float32)
    x, y = proximos(sorteios)
    x_val, y_val = x[-60:], y[-60:]
    reais = numeros(y_val)
    modelo = keras.Sequential(
        [
            keras.Input((25,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(25, activation="sigmoid"),
        ]
    )
    modelo.compile(optimizer="adam", loss="binary_crossentropy")

    def lotofacil(epoca: int, logs: Mapping[str, float]) -> dict[str, Any]:
        previsto = modelo.predict(x_val, verbose=0)
        return calcular_metricas(apostas(previsto), reais)

    with GerenciadorBackupVersionamento(args.base, args.config) as g:
        cb = CallbackBackup(g, NOME, monitor="val_loss", metricas_extras=lotofacil)
        modelo.fit(
            x[:-60],
            y[:-60],
            validation_data=(x_val, y_val),
            epochs=args.epocas,
            batch_size=32,
            verbose=0,
            callbacks=[cb],
        )
        nome = f"{NOME}.keras"
        melhor = cb.versoes[-1]["versao"] if cb.versoes else None
        if melhor:
            g.definir_alias(nome, "producao", melhor, "menor val_loss do treino")
            producao = g.carregar_modelo(nome, "@producao")
            proxima = apostas(producao.predict(sorteios[-1:], verbose=0))[0]
        else:
            proxima = []
        print(
            json.dumps(
                {
                    "versoes": [
                        {"epoca": v["epoca"], "versao": v["versao"]} for v in cb.versoes
                    ],
                    "falhas": cb.falhas,
                    "producao": melhor,
                    "proxima_aposta": proxima,
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
