"""Live models in and out of the repository, each in its library's own format.

`serializar` writes a model object into a folder the way its library means it to
be kept; `carregar` reads such a file back into an object. The manager wraps
them (`versionar_objeto`, `carregar_modelo`) with a temporary folder, the backup,
the restore and the validation's safety checks in between.

- Keras (`keras.Model`): `.keras` by `model.save`; back as a `keras.Model`.
- PyTorch (`torch.nn.Module`): `.pt`, its `state_dict` by `torch.save`; back as
  the state_dict, or loaded into the module given as `modulo_torch`.
- XGBoost (sklearn API or Booster): `.ubj` by `save_model`; back as the same
  class (the file records `_estimator_type`) or an `xgboost.Booster`.
- LightGBM (sklearn API or Booster): `.txt` by the booster's `save_model`; back
  as a `lightgbm.Booster` (its `predict` is the classifier's `predict_proba`).
- scikit-learn (any estimator or pipeline): `.joblib` by `joblib.dump`.

Every ML library is imported lazily, only when an object of it comes by: backup,
restore and listings never pay for TensorFlow (tests/test_partida.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .erros import ErroArgumento, ErroNaoSuportado

# library -> file extension of its native format (the model name carries it, so
# validation, `auto` change detection and `restaurar` all see a known format).
EXTENSOES = {
    "keras": ".keras",
    "torch": ".pt",
    "xgboost": ".ubj",
    "lightgbm": ".txt",
    "sklearn": ".joblib",
}
# Extensions also accepted when the caller already named the file.
_ACEITAS = {
    "keras": (".keras",),
    "torch": (".pt", ".pth"),
    "xgboost": (".ubj", ".json"),
    "lightgbm": (".txt",),
    "sklearn": (".joblib", ".pkl"),
}
_PRIORIDADE = ("keras", "tensorflow", "torch", "xgboost", "lightgbm", "sklearn")


def biblioteca_de(objeto: Any) -> str:
    """Which library `objeto` belongs to, from its class hierarchy (no import)."""
    raizes = {c.__module__.split(".")[0] for c in type(objeto).__mro__}
    for nome in _PRIORIDADE:
        if nome in raizes:
            return "keras" if nome == "tensorflow" else nome
    raise ErroArgumento(
        f"objeto do tipo {type(objeto).__module__}.{type(objeto).__qualname__} não é "
        "um modelo suportado (Keras, PyTorch nn.Module, XGBoost, LightGBM ou "
        "scikit-learn); salve-o num arquivo e use criar_backup(caminho)"
    )


def nome_arquivo(nome: str, biblioteca: str) -> str:
    """`nome` with its library's extension (kept if it already has an accepted one)."""
    if nome.lower().endswith(_ACEITAS[biblioteca]):
        return nome
    return nome + EXTENSOES[biblioteca]


def serializar(objeto: Any, pasta: Path, nome: str) -> Path:
    """Write `objeto` into `pasta` in its library's format; the file written."""
    biblioteca = biblioteca_de(objeto)
    destino = Path(pasta) / nome_arquivo(nome, biblioteca)
    if biblioteca == "keras":
        objeto.save(destino)
    elif biblioteca == "torch":
        import torch

        if not isinstance(objeto, torch.nn.Module):
            raise ErroArgumento(
                f"objeto PyTorch do tipo {type(objeto).__qualname__}: só um "
                "torch.nn.Module é guardado (o seu state_dict)"
            )
        torch.save(objeto.state_dict(), destino)
    elif biblioteca == "xgboost":
        objeto.save_model(destino)
    elif biblioteca == "lightgbm":
        booster = getattr(objeto, "booster_", objeto)
        booster.save_model(str(destino))
    else:
        import joblib

        joblib.dump(objeto, destino)
    return destino


def carregar(caminho: Path, formato: str, *, modulo_torch: Any = None) -> Any:
    """Load a file `serializar` wrote (or any file of these formats).

    `formato` is the validation's format name (validacao.formatos); the caller
    has already run the safety checks on the file.
    """
    from .validacao import formatos as f

    if formato in (f.KERAS, f.KERAS_H5):
        import keras

        # safe_mode: a Lambda layer's pickled code is refused, never run.
        return keras.saving.load_model(caminho, safe_mode=True)
    if formato == f.TORCH:
        import torch

        estado = torch.load(caminho, map_location="cpu", weights_only=True)
        if modulo_torch is None:
            return estado
        modulo_torch.load_state_dict(estado)
        modulo_torch.eval()
        return modulo_torch
    if formato in (f.XGBOOST_UBJ, f.XGBOOST_JSON):
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(caminho)
        meta = json.loads(booster.attr("scikit_learn") or "{}")
        classe = {
            "classifier": xgboost.XGBClassifier,
            "regressor": xgboost.XGBRegressor,
            "ranker": xgboost.XGBRanker,
        }.get(meta.get("_estimator_type"))
        if classe is None:
            return booster
        modelo = classe()
        modelo.load_model(caminho)
        return modelo
    if formato == f.LIGHTGBM_TXT:
        import lightgbm

        return lightgbm.Booster(model_file=str(caminho))
    if formato in (f.JOBLIB, f.PICKLE):
        import joblib

        return joblib.load(caminho)
    raise ErroNaoSuportado(
        f"{caminho.name}: formato {formato!r} não é carregado como objeto; restaure "
        "o arquivo com restaurar_backup e carregue-o com a sua biblioteca"
    )
