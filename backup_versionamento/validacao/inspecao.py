"""Describe a model's architecture and fingerprint its weights, to infer the change.

Formats whose architecture and weights are plain data (Keras config + HDF5, XGBoost
JSON/UBJSON, LightGBM text, ONNX protobuf, TFLite flatbuffer) are read here, in
process, with no code from the file and no heavy import. Formats that need the
library to rebuild the object (pickles, PyTorch, SavedModel, GraphDef) are
described by the sandboxed child (`_filho.py`) after the safety scan.

Every description has the same shape, so `politica.mudanca` compares any two:
`{"tipo", "classe", "camadas": [{"nome", "classe", "config", "formas"}],
"parametros": {...}}`. Generated names ("dense_3") are kept for display but
left out of the architecture digest.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import zipfile
from array import array
from pathlib import Path
from typing import Any

from . import formatos as fmt
from . import leitores
from .keras_arquivos import (
    ErroKeras,
    abrir_keras,
    camadas_normalizadas,
    ler_dataset,
    pesos_por_camada,
)

# Formats described by the sandboxed child (they must be loaded to be described).
FORMATOS_NO_FILHO = {fmt.PICKLE, fmt.JOBLIB, fmt.TORCH, fmt.SAVEDMODEL, fmt.TF_PB}

_PARAMS_EXECUCAO_LGB = {
    "num_threads",
    "verbosity",
    "verbose",
    "seed",
    "data_random_seed",
    "bagging_seed",
    "feature_fraction_seed",
    "extra_seed",
    "drop_seed",
    "objective_seed",
    "data",
    "valid",
    "output_model",
    "input_model",
    "device_type",
    "gpu_platform_id",
    "gpu_device_id",
    "gpu_use_dp",
    "num_gpu",
    "deterministic",
    "force_col_wise",
    "force_row_wise",
    "saved_feature_importance_type",
    "snapshot_freq",
    "output_result",
    "convert_model",
    "convert_model_language",
}


def json_canonico(obj: Any) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def digest_arquitetura(arquitetura: dict[str, Any]) -> str:
    """SHA-256 of the architecture without display names or runtime settings."""
    forma = {
        "tipo": arquitetura.get("tipo"),
        "classe": arquitetura.get("classe"),
        "camadas": [
            {k: c.get(k) for k in ("classe", "config", "formas")}
            for c in arquitetura.get("camadas", [])
        ],
        "parametros": arquitetura.get("parametros", {}),
    }
    return hashlib.sha256(json_canonico(forma)).hexdigest()


def montar(
    formato: str,
    biblioteca: str,
    versao: str | None,
    arquitetura: dict[str, Any],
    digest_pesos: str | None,
    metadados: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "formato": formato,
        "biblioteca": biblioteca,
        "versao_biblioteca": versao,
        "arquitetura": arquitetura,
        "digest_arquitetura": digest_arquitetura(arquitetura),
        "digest_pesos": digest_pesos,
        "metadados": metadados or {},
    }


# --- Keras -----------------------------------------------------------------------


def _keras(caminho: Path, info: fmt.InfoFormato) -> dict[str, Any] | None:
    with abrir_keras(caminho, info.formato == fmt.KERAS) as arq:
        if arq.config is not None:
            classe, camadas, parametros = camadas_normalizadas(arq.config)
        else:
            classe, camadas, parametros = "pesos", [], {}
        nomes = [c["nome"] for c in camadas]
        posicao = {n: i for i, n in enumerate(nomes)}
        formas: dict[str, list[list[int]]] = {}
        h = hashlib.sha256()
        if arq.pesos is not None:
            for nome, ds in pesos_por_camada(arq.pesos, nomes):
                formas.setdefault(nome, []).append(list(ds.shape or ()))
                h.update(
                    f"{posicao.get(nome, nome)}\x00{ds.dtype.str}\x00"
                    f"{tuple(ds.shape or ())}\x00".encode()
                )
                ler_dataset(ds, h.update)
        if arq.config is None:
            camadas = [
                {"nome": n, "classe": "pesos", "config": {}, "formas": f}
                for n, f in formas.items()
            ]
        for c in camadas:
            c["formas"] = formas.get(c["nome"], [])
        versao = arq.metadados.get("keras_version")
        meta = {k: v for k, v in arq.metadados.items() if k != "keras_version"}
        if arq.config is not None and "compile_config" in arq.config:
            meta["compile_config"] = arq.config["compile_config"]
    arquitetura = {
        "tipo": "keras",
        "classe": classe,
        "camadas": camadas,
        "parametros": parametros,
    }
    return montar(
        info.formato,
        "tensorflow",
        f"keras {versao}" if versao else None,
        arquitetura,
        h.hexdigest(),
        meta,
    )


# --- tree models ----------------------------------------------------------------


def _hash_numeros(h: Any, valores: Any) -> None:
    """Hash a list of numbers the same way whether it came from JSON or UBJSON."""
    if len(valores) == 0:
        h.update(b"[]")
        return
    if isinstance(valores, array):
        inteiro = valores.typecode in "bBhHiIlLqQ"
    else:
        inteiro = all(isinstance(v, int) and not isinstance(v, bool) for v in valores)
    if inteiro:
        h.update(b"i" + array("q", (int(v) for v in valores)).tobytes())
    else:
        h.update(b"f" + array("f", (float(v) for v in valores)).tobytes())


def _hash_arvore(h: Any, no: Any) -> None:
    if isinstance(no, dict):
        for k in sorted(no):
            h.update(k.encode() + b"\x00")
            _hash_arvore(h, no[k])
    elif isinstance(no, array) or (
        isinstance(no, list)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in no)
    ):
        _hash_numeros(h, no)
    elif isinstance(no, list):
        h.update(f"[{len(no)}".encode())
        for v in no:
            _hash_arvore(h, v)
    elif isinstance(no, float):
        _hash_numeros(h, [no])
    else:
        h.update(json_canonico(no))


def _xgboost(caminho: Path, info: fmt.InfoFormato) -> dict[str, Any] | None:
    if info.formato == fmt.XGBOOST_JSON:
        with open(caminho, encoding="utf-8") as f:
            doc = json.load(f)
    else:
        doc = leitores.ler_ubjson(caminho.read_bytes())
    leitores.validar_xgboost(doc)
    learner = doc["learner"]
    gb = learner["gradient_booster"]
    modelo = gb.get("model") or gb.get("gbtree", {}).get("model", {})
    arvores = modelo.get("trees", []) if isinstance(modelo, dict) else []
    lmp = learner.get("learner_model_param", {})
    gtp = modelo.get("gbtree_model_param", {}) if isinstance(modelo, dict) else {}
    parametros = {
        "objetivo": learner.get("objective"),
        "num_class": lmp.get("num_class"),
        "num_feature": lmp.get("num_feature"),
        "num_target": lmp.get("num_target"),
        "boost_from_average": lmp.get("boost_from_average"),
        "num_trees": len(arvores),
        "num_parallel_tree": gtp.get("num_parallel_tree"),
        "feature_names": list(learner.get("feature_names", []) or []),
        "feature_types": list(learner.get("feature_types", []) or []),
    }
    h = hashlib.sha256()
    h.update(str(lmp.get("base_score")).encode() + b"\x00")
    _hash_arvore(h, arvores)
    if gb.get("name") == "gblinear":
        _hash_arvore(h, modelo.get("weights", []))
    if gb.get("name") == "dart":
        _hash_arvore(h, gb.get("weight_drop", []))
    versao = doc.get("version")
    versao_txt = (
        ".".join(str(v) for v in versao) if isinstance(versao, (list, array)) else None
    )
    arquitetura = {
        "tipo": "xgboost",
        "classe": gb.get("name"),
        "camadas": [],
        "parametros": parametros,
    }
    return montar(
        info.formato,
        "xgboost",
        f"xgboost {versao_txt}" if versao_txt else None,
        arquitetura,
        h.hexdigest(),
        {"atributos": learner.get("attributes", {})},
    )


def _lightgbm(caminho: Path, info: fmt.InfoFormato) -> dict[str, Any] | None:
    modelo = leitores.ler_lightgbm(caminho.read_text(encoding="utf-8"))
    cab = modelo["cabecalho"]
    treino = {
        k: v for k, v in modelo["parametros"].items() if k not in _PARAMS_EXECUCAO_LGB
    }
    parametros = {
        "objetivo": cab.get("objective"),
        "num_class": cab.get("num_class"),
        "num_tree_per_iteration": cab.get("num_tree_per_iteration"),
        "label_index": cab.get("label_index"),
        "max_feature_idx": cab.get("max_feature_idx"),
        "feature_names": cab.get("feature_names", "").split(),
        "arvores": len(modelo["arvores"]),
        "treino": treino,
    }
    h = hashlib.sha256()
    h.update(cab.get("feature_infos", "").encode() + b"\x00")
    for arvore in modelo["arvores"]:
        h.update(json_canonico(arvore))
    arquitetura = {
        "tipo": "lightgbm",
        "classe": "Booster",
        "camadas": [],
        "parametros": parametros,
    }
    return montar(
        info.formato,
        "lightgbm",
        None,
        arquitetura,
        h.hexdigest(),
        {"versao_formato": cab.get("version")},
    )


# --- ONNX and TFLite ------------------------------------------------------------


def _atributo_onnx(onnx: Any, a: Any) -> Any:
    valor = onnx.helper.get_attribute_value(a)
    if isinstance(valor, bytes):
        return valor.decode("utf-8", "replace")
    if isinstance(valor, onnx.TensorProto):
        return {"tensor": list(valor.dims), "tipo": int(valor.data_type)}
    if isinstance(valor, onnx.GraphProto):
        return {"subgrafo": [n.op_type for n in valor.node]}
    if isinstance(valor, list):
        return [_atributo_onnx_item(onnx, v) for v in valor]
    return valor if not isinstance(valor, float) else float(valor)


def _atributo_onnx_item(onnx: Any, v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, (onnx.TensorProto, onnx.GraphProto)):
        return str(type(v).__name__)
    return v


def _valor_info(v: Any) -> list[Any]:
    tipo = v.type.tensor_type
    dims = (
        [
            d.dim_value if d.HasField("dim_value") else d.dim_param
            for d in tipo.shape.dim
        ]
        if tipo.HasField("shape")
        else None
    )
    return [v.name, int(tipo.elem_type), dims]


def _onnx(caminho: Path, info: fmt.InfoFormato) -> dict[str, Any] | None:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return None
    modelo = onnx.load(str(caminho), load_external_data=False)
    g = modelo.graph
    h = hashlib.sha256()
    externo = False
    camadas: list[dict[str, Any]] = []
    aprendidos = (onnx.AttributeProto.FLOATS, onnx.AttributeProto.INTS)
    for i, n in enumerate(g.node):
        config: dict[str, Any] = {}
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                # Constant tensors (and ONNX-ML coefficient lists) are learned
                # values: they go to the weights digest, their size to the config.
                h.update(f"no{i}:{a.name}\x00".encode())
                h.update(numpy_helper.to_array(a.t).tobytes())
                config[a.name] = {"tensor": list(a.t.dims), "tipo": int(a.t.data_type)}
            elif n.domain == "ai.onnx.ml" and a.type in aprendidos:
                valores = onnx.helper.get_attribute_value(a)
                h.update(f"no{i}:{a.name}\x00".encode())
                _hash_numeros(h, list(valores))
                config[a.name] = {"tamanho": len(valores)}
            else:
                config[a.name] = _atributo_onnx(onnx, a)
        config["_entradas"] = list(n.input)
        config["_saidas"] = list(n.output)
        camadas.append(
            {
                "nome": n.name or f"{n.op_type}_{i}",
                "classe": f"{n.domain}.{n.op_type}" if n.domain else n.op_type,
                "config": config,
                "formas": [],
            }
        )
    for t in sorted(g.initializer, key=lambda t: t.name):
        h.update(f"{t.name}\x00{t.data_type}\x00{tuple(t.dims)}\x00".encode())
        if t.data_location == onnx.TensorProto.EXTERNAL:
            externo = True
            continue
        h.update(t.raw_data if t.raw_data else numpy_helper.to_array(t).tobytes())
    parametros = {
        "opset": {o.domain or "ai.onnx": int(o.version) for o in modelo.opset_import},
        "entradas": [_valor_info(v) for v in g.input],
        "saidas": [_valor_info(v) for v in g.output],
        "inicializadores": [
            [t.name, list(t.dims), int(t.data_type)]
            for t in sorted(g.initializer, key=lambda t: t.name)
        ],
    }
    arquitetura = {
        "tipo": "onnx",
        "classe": "ModelProto",
        "camadas": camadas,
        "parametros": parametros,
    }
    meta = {
        "produtor": f"{modelo.producer_name} {modelo.producer_version}".strip(),
        "ir_version": int(modelo.ir_version),
    }
    return montar(
        info.formato,
        "onnx",
        f"onnx {onnx.__version__}",
        arquitetura,
        None if externo else h.hexdigest(),
        meta,
    )


def _tflite(caminho: Path, info: fmt.InfoFormato) -> dict[str, Any] | None:
    with (
        open(caminho, "rb") as f,
        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m,
    ):
        modelo = leitores.ler_tflite(m)  # type: ignore[arg-type]
        h = hashlib.sha256()
        for i, (ini, fim) in enumerate(modelo["buffers"]):
            h.update(f"{i}:{fim - ini}\x00".encode())
            h.update(m[ini:fim])
    camadas: list[dict[str, Any]] = []
    parametros: dict[str, Any] = {"subgrafos": []}
    for s, sg in enumerate(modelo["subgrafos"]):
        tensores = sg["tensores"]
        for o, op in enumerate(sg["operadores"]):
            camadas.append(
                {
                    "nome": f"{s}:{o}:{op['op']}",
                    "classe": op["op"],
                    "config": {"entradas": op["entradas"], "saidas": op["saidas"]},
                    "formas": [tensores[k]["forma"] for k in op["entradas"] if k >= 0],
                }
            )
        parametros["subgrafos"].append(
            {
                "entradas": [
                    [tensores[k]["forma"], tensores[k]["tipo"]] for k in sg["entradas"]
                ],
                "saidas": [
                    [tensores[k]["forma"], tensores[k]["tipo"]] for k in sg["saidas"]
                ],
                "tensores": len(tensores),
            }
        )
    arquitetura = {
        "tipo": "tflite",
        "classe": "Model",
        "camadas": camadas,
        "parametros": parametros,
    }
    return montar(
        info.formato,
        "tensorflow",
        None,
        arquitetura,
        h.hexdigest(),
        {"versao_esquema": modelo["versao"], "descricao": modelo["descricao"]},
    )


_ESTATICOS = {
    fmt.KERAS_H5: _keras,
    fmt.KERAS: _keras,
    fmt.XGBOOST_JSON: _xgboost,
    fmt.XGBOOST_UBJ: _xgboost,
    fmt.LIGHTGBM_TXT: _lightgbm,
    fmt.ONNX: _onnx,
    fmt.TFLITE: _tflite,
}


def inspecionar_estatico(caminho: Path, info: fmt.InfoFormato) -> dict[str, Any] | None:
    """Description read from the file as data; None when this format needs loading."""
    funcao = _ESTATICOS.get(info.formato)
    if funcao is None:
        return None
    try:
        return funcao(caminho, info)
    except ImportError:
        return None
    except (
        OSError,
        KeyError,
        ValueError,
        TypeError,
        leitores.ErroLeitura,
        json.JSONDecodeError,
        UnicodeDecodeError,
        ErroKeras,
        zipfile.BadZipFile,
        EOFError,
    ):
        return None


def de_resultado_filho(
    info: fmt.InfoFormato, biblioteca: str, dados: dict[str, Any]
) -> dict[str, Any] | None:
    """Description built from what the sandboxed child returned."""
    arquitetura = dados.get("arquitetura")
    if not isinstance(arquitetura, dict):
        return None
    meta = arquitetura.pop("metadados", None) if "metadados" in arquitetura else None
    return montar(
        info.formato,
        biblioteca,
        dados.get("versao_biblioteca"),
        arquitetura,
        dados.get("digest_pesos"),
        meta,
    )
