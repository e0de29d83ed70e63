"""Train a small Lotofácil-style scikit-learn model and save it with joblib.

Used by the demo tour: `--arvores` changes the model between two backups.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier


def main() -> None:
    p = argparse.ArgumentParser(description="treina um modelo de exemplo")
    p.add_argument("saida", type=Path)
    p.add_argument("--arvores", type=int, default=50)
    p.add_argument("--semente", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.semente)
    # 500 past draws as 25-number indicator vectors; target: is 13 in the next draw.
    sorteios = np.zeros((500, 25), dtype=np.int8)
    for linha in sorteios:
        linha[rng.choice(25, 15, replace=False)] = 1
    x, y = sorteios[:-1], sorteios[1:, 12]
    modelo = RandomForestClassifier(
        n_estimators=args.arvores, random_state=args.semente
    )
    modelo.fit(x, y)
    args.saida.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(modelo, args.saida)
    print(f"modelo salvo em {args.saida} ({args.arvores} árvores)")


if __name__ == "__main__":
    main()
