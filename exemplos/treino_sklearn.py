"""Train a scikit-learn Lotofácil model and version the live object, no files.

    python exemplos/treino_sklearn.py --base ./backups_modelos

Each run: train, score the bets with the Lotofácil metrics on held-out draws,
`versionar_objeto` (the version, with its metrics), point `candidato` at it,
promote it to `producao` when its acertos_13 beats production's, and load
`@producao` back with `carregar_modelo` to make the next bet.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from lotofacil import apostas, argumentos, numeros, proximos, sorteios_simulados
from sklearn.ensemble import RandomForestClassifier

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.metricas import calcular_metricas

NOME = "lotofacil_rf"


def probabilidades(modelo: Any, x: np.ndarray) -> np.ndarray:
    # A multi-output forest gives one (n, 2) array per number.
    return np.stack([p[:, -1] for p in modelo.predict_proba(x)], axis=1)


def main() -> None:
    p = argumentos(__doc__.splitlines()[0])
    p.add_argument("--arvores", type=int, default=30)
    args = p.parse_args()

    sorteios = sorteios_simulados(400, args.semente)
    x, y = proximos(sorteios)
    x_treino, y_treino, x_teste, y_teste = x[:300], y[:300], x[300:], y[300:]
    modelo = RandomForestClassifier(
        n_estimators=args.arvores, max_depth=6, random_state=args.semente
    ).fit(x_treino, y_treino)
    reais = numeros(y_teste)
    metricas = calcular_metricas(apostas(probabilidades(modelo, x_teste)), reais)

    with GerenciadorBackupVersionamento(args.base, args.config) as g:
        versao = g.versionar_objeto(
            modelo,
            NOME,
            "auto",
            metricas=metricas,
            descricao=f"floresta de {args.arvores} árvores, semente {args.semente}",
        )
        nome = f"{NOME}.joblib"
        g.definir_alias(nome, "candidato", versao, "último treino")
        atuais = g.aliases(nome)
        promovida = False
        if "producao" not in atuais:
            promovida = True
        else:
            em_producao = g.obter_versao(nome, "@producao")["metricas"]
            promovida = metricas["acertos_13"] > em_producao.get("acertos_13", -1)
        if promovida:
            g.definir_alias(nome, "producao", versao, "acertos_13 melhor")
        producao = g.carregar_modelo(nome, "@producao")
        proxima = apostas(probabilidades(producao, sorteios[-1:]))[0]
        print(
            json.dumps(
                {
                    "versao": versao,
                    "metricas": metricas,
                    "promovida": promovida,
                    "aliases": g.aliases(nome),
                    "proxima_aposta": proxima,
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
