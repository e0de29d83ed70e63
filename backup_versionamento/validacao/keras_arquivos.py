"""Keras files read as data: the config JSON and the weight arrays, no Keras import.

Both the legacy HDF5 (.h5) and the Keras 3 zip (.keras) keep the architecture as a
JSON config and the weights as HDF5 datasets, so the structural check and the
change inspection can read them with h5py alone, without importing TensorFlow and
without deserializing a single layer.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .pickle_seguro import PERIGOSO, classificar_global

# Config keys that change between two saves of the same model.
_VOLATEIS = {
    "shared_object_id",
    "module",
    "registered_name",
    "build_config",
    "compile_config",
}
_MODULOS_KERAS = (
    "keras",
    "tensorflow",
    "tf_keras",
    "keras_hub",
    "keras_nlp",
    "keras_cv",
)
_NOMES_ZIP_OBRIGATORIOS = ("config.json", "metadata.json")
_PESOS_ZIP = "model.weights.h5"


class ErroKeras(Exception):
    """The Keras file does not have the expected layout."""


@dataclass
class AnaliseConfig:
    """What a Keras config declares, found without deserializing it."""

    classe_modelo: str = ""
    camadas: list[dict[str, Any]] = field(default_factory=list)
    lambdas: list[str] = field(default_factory=list)
    personalizadas: list[str] = field(default_factory=list)
    perigosas: list[str] = field(default_factory=list)


def _texto_attr(valor: Any) -> str:
    return valor.decode("utf-8") if isinstance(valor, bytes) else str(valor)


def _visitar(no: Any, visita: Callable[[dict[str, Any]], None]) -> None:
    pilha = [no]
    while pilha:
        atual = pilha.pop()
        if isinstance(atual, dict):
            visita(atual)
            pilha.extend(atual.values())
        elif isinstance(atual, list):
            pilha.extend(atual)


def analisar_config(config: dict[str, Any]) -> AnaliseConfig:
    """Layers, Python bytecode (Lambda) and non-Keras references in a config."""
    analise = AnaliseConfig(classe_modelo=str(config.get("class_name", "")))
    interno = config.get("config", {})
    camadas = interno.get("layers", []) if isinstance(interno, dict) else []
    analise.camadas = [c for c in camadas if isinstance(c, dict)]

    def visita(d: dict[str, Any]) -> None:
        classe = d.get("class_name")
        cfg = d.get("config")
        if classe == "Lambda" and isinstance(cfg, dict):
            funcao = cfg.get("function")
            keras3 = (
                isinstance(funcao, dict) and funcao.get("class_name") == "__lambda__"
            )
            keras2 = "lambda" in (
                cfg.get("function_type"),
                cfg.get("output_shape_type"),
            )
            if keras3 or keras2:
                analise.lambdas.append(str(cfg.get("name", "?")))
        modulo = d.get("module")
        if isinstance(modulo, str) and isinstance(classe, str):
            if classificar_global(modulo, classe) == PERIGOSO:
                analise.perigosas.append(f"{modulo}.{classe}")
            elif modulo.split(".")[0] not in _MODULOS_KERAS and modulo != "builtins":
                analise.personalizadas.append(f"{modulo}.{classe}")
        registrado = d.get("registered_name")
        if isinstance(registrado, str) and ">" in registrado:
            analise.personalizadas.append(registrado)

    _visitar(config, visita)
    analise.personalizadas = sorted(set(analise.personalizadas))
    return analise


def ler_json_attr(valor: Any) -> dict[str, Any]:
    dados = json.loads(_texto_attr(valor))
    if not isinstance(dados, dict):
        raise ErroKeras("model_config não é um objeto JSON")
    return dados


# --- normalized architecture --------------------------------------------------------


def _sem_volateis(no: Any) -> Any:
    if isinstance(no, dict):
        return {k: _sem_volateis(v) for k, v in no.items() if k not in _VOLATEIS}
    if isinstance(no, list):
        return [_sem_volateis(v) for v in no]
    return no


def _trocar_nomes(no: Any, indices: dict[str, str]) -> Any:
    """Layer names are generated (dense_3); connections are kept as positions."""
    if isinstance(no, dict):
        return {k: _trocar_nomes(v, indices) for k, v in no.items()}
    if isinstance(no, list):
        return [
            indices.get(v, v) if isinstance(v, str) else _trocar_nomes(v, indices)
            for v in no
        ]
    return no


def _nome_camada(camada: dict[str, Any]) -> str:
    cfg = camada.get("config")
    nome = camada.get("name") or (cfg.get("name") if isinstance(cfg, dict) else None)
    return str(nome) if nome is not None else ""


def camadas_normalizadas(
    config: dict[str, Any],
) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """(model class, layers without generated names, model-level parameters)."""
    analise = analisar_config(config)
    nomes = [_nome_camada(c) for c in analise.camadas]
    indices = {n: f"#{i}" for i, n in enumerate(nomes) if n}
    camadas = []
    for nome, camada in zip(nomes, analise.camadas, strict=True):
        cfg = camada.get("config")
        cfg = dict(cfg) if isinstance(cfg, dict) else {}
        cfg.pop("name", None)
        item: dict[str, Any] = {
            "nome": nome,
            "classe": str(camada.get("class_name")),
            "config": _trocar_nomes(_sem_volateis(cfg), indices),
        }
        if camada.get("inbound_nodes"):
            item["config"]["_entradas"] = _trocar_nomes(
                _sem_volateis(camada["inbound_nodes"]), indices
            )
        camadas.append(item)
    interno = config.get("config", {}) if isinstance(config.get("config"), dict) else {}
    parametros = {
        k: _trocar_nomes(_sem_volateis(v), indices)
        for k, v in interno.items()
        if k not in ("layers", "name")
    }
    return analise.classe_modelo, camadas, parametros


# --- weights -----------------------------------------------------------------------


def _natural(nome: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", nome)]


def _datasets(grupo: Any, h5py: Any) -> list[tuple[str, Any]]:
    encontrados: list[tuple[str, Any]] = []

    def visita(caminho: str, objeto: Any) -> None:
        if isinstance(objeto, h5py.Dataset):
            encontrados.append((caminho, objeto))

    grupo.visititems(visita)
    return encontrados


def pesos_por_camada(h5: Any, nomes: list[str]) -> Iterator[tuple[str, Any]]:
    """(layer name, dataset) in a stable order, for legacy and Keras 3 layouts.

    Optimizer state is left out: it is training state, not the model.
    """
    import h5py

    grupo = h5.get("model_weights", h5)
    if "layer_names" in grupo.attrs:
        for nome in (_texto_attr(n) for n in grupo.attrs["layer_names"]):
            if nome not in grupo:
                raise ErroKeras(f"grupo de pesos da camada '{nome}' ausente")
            camada = grupo[nome]
            pesos = [_texto_attr(w) for w in camada.attrs.get("weight_names", [])]
            for peso in pesos:
                if peso not in camada:
                    raise ErroKeras(f"peso '{peso}' da camada '{nome}' ausente")
                yield nome, camada[peso]
        return
    if "layers" in h5:
        # Keras 3 names the groups by a path ("dense") and keeps the layer's own
        # name ("dense_2") as an attribute of its "vars" group.
        ordem = {n: i for i, n in enumerate(nomes)}
        reais = {}
        for chave in h5["layers"]:
            grupo = h5["layers"][chave]
            atributo = grupo["vars"].attrs.get("name") if "vars" in grupo else None
            reais[chave] = _texto_attr(atributo) if atributo is not None else chave
        chaves = sorted(
            reais, key=lambda c: (ordem.get(reais[c], len(ordem)), _natural(c))
        )
        for chave in chaves:
            for _, ds in sorted(
                _datasets(h5["layers"][chave], h5py), key=lambda x: _natural(x[0])
            ):
                yield reais[chave], ds
    if "vars" in h5:
        for chave in sorted(h5["vars"].keys(), key=_natural):
            yield "", h5["vars"][chave]


def ler_dataset(ds: Any, consumir: Callable[[bytes], None] | None = None) -> int:
    """Read a whole dataset in slices (so a truncated file fails here); bytes read."""
    import numpy as np

    if ds.shape is None:
        return 0
    if ds.ndim == 0 or ds.size * ds.dtype.itemsize <= (64 << 20):
        dados = np.ascontiguousarray(ds[()])
        if consumir:
            consumir(dados.tobytes())
        return int(dados.nbytes)
    linhas = max(1, (64 << 20) // max(1, ds.size // ds.shape[0] * ds.dtype.itemsize))
    total = 0
    for i in range(0, ds.shape[0], linhas):
        dados = np.ascontiguousarray(ds[i : i + linhas])
        if consumir:
            consumir(dados.tobytes())
        total += int(dados.nbytes)
    return total


# --- opening -----------------------------------------------------------------------


@dataclass
class ArquivoKeras:
    """An open Keras model file: config (None for weights-only files) and weights."""

    config: dict[str, Any] | None
    metadados: dict[str, Any]
    pesos: Any


@contextmanager
def abrir_keras(caminho: Path, zip_keras: bool) -> Iterator[ArquivoKeras]:
    """Open .h5 or .keras with h5py; the zip's weights go to a temporary file."""
    import h5py

    if not zip_keras:
        with h5py.File(caminho, "r") as h5:
            config = (
                ler_json_attr(h5.attrs["model_config"])
                if ("model_config" in h5.attrs)
                else None
            )
            meta = {
                k: _texto_attr(h5.attrs[k])
                for k in ("keras_version", "backend")
                if k in h5.attrs
            }
            if "training_config" in h5.attrs:
                meta["training_config"] = _texto_attr(h5.attrs["training_config"])
            yield ArquivoKeras(config, meta, h5)
        return
    with zipfile.ZipFile(caminho) as z:
        nomes = set(z.namelist())
        faltando = [n for n in _NOMES_ZIP_OBRIGATORIOS if n not in nomes]
        if faltando:
            raise ErroKeras(f"arquivo .keras sem {', '.join(faltando)}")
        config = json.loads(z.read("config.json"))
        meta = json.loads(z.read("metadata.json"))
        if not isinstance(config, dict) or not isinstance(meta, dict):
            raise ErroKeras("config.json ou metadata.json não é um objeto JSON")
        if _PESOS_ZIP not in nomes:
            yield ArquivoKeras(config, meta, None)
            return
        with tempfile.TemporaryDirectory(prefix="bv_keras_") as tmp:
            destino = Path(tmp) / "pesos.h5"
            with z.open(_PESOS_ZIP) as origem, open(destino, "wb") as saida:
                shutil.copyfileobj(origem, saida, 1 << 20)
            with h5py.File(destino, "r") as h5:
                yield ArquivoKeras(config, meta, h5)


def nomes_inseguros_zip(nomes: list[str]) -> list[str]:
    return [n for n in nomes if n.startswith(("/", "\\")) or ".." in Path(n).parts]
