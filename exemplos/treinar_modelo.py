"""Train a small Lotofácil-style scikit-learn model and save it with joblib.

Used by the demo tour: `--arvores` changes the model between two backups.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
from lotofacil import proximos, sorteios_simulados
from sklearn.ensemble import RandomForestClassifier


def main() -> None:
    p = argparse.ArgumentParser(description="treina um modelo de exemplo")
    p.add_argument("saida", type=Path)
    p.add_argument("--arvores", type=int, default=50)
    p.add_argument("--semente", type=int, default=0)
    args = p.parse_args()
    # 500 past draws; target: is 13 in the next draw.
    x, seguintes = proximos(sorteios_simulados(500, args.semente))
    y = seguintes[:, 12]
    modelo = RandomForestClassifier(
        n_estimators=args.arvores, random_state=args.semente
    )
    modelo.fit(x, y)
    args.saida.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(modelo, args.saida)
    print(f"modelo salvo em {args.saida} ({args.arvores} árvores)")


if __name__ == "__main__":
    main()
