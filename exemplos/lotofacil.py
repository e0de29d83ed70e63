"""What the training examples share: simulated Lotofácil draws and the bets.

The scripts of this folder import it by name (`python exemplos/X.py` puts the
folder first on sys.path).
"""

from __future__ import annotations

import argparse

import numpy as np


def sorteios_simulados(n: int, semente: int, tipo: type = np.int8) -> np.ndarray:
    """n draws as 25-number indicator rows (15 ones each), the same for a seed."""
    rng = np.random.default_rng(semente)
    saida = np.zeros((n, 25), dtype=tipo)
    for linha in saida:
        linha[rng.choice(25, 15, replace=False)] = 1
    return saida


def proximos(sorteios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(draw, next draw) pairs: what a model learns to predict."""
    return sorteios[:-1], sorteios[1:]


def numeros(linhas: np.ndarray) -> list[list[int]]:
    """The drawn numbers (1..25) of each indicator row."""
    return [sorted(int(i) + 1 for i in np.flatnonzero(r)) for r in linhas]


def apostas(probabilidades: np.ndarray) -> list[list[int]]:
    """The 15 most likely numbers (1..25) of each row."""
    return [sorted(int(i) + 1 for i in np.argsort(-p)[:15]) for p in probabilidades]


def argumentos(descricao: str) -> argparse.ArgumentParser:
    """The options every example takes: the repository, its config, the seed."""
    p = argparse.ArgumentParser(description=descricao)
    p.add_argument("--base", default="./backups_modelos", help="repositório")
    p.add_argument("--config", help="config_backup.json (padrão: o da pasta atual)")
    p.add_argument("--semente", type=int, default=0)
    return p
