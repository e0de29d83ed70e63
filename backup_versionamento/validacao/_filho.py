"""Sandboxed child: load (and optionally describe) one model, print one JSON line.

Run by `sandbox.executar_isolado` as `python -I -B _filho.py`: no package on the
path, so only the standard library is imported at the top and `pickle_seguro` is
loaded by file path. The task arrives as JSON on stdin. Library output goes to
stderr; the result is the single line `MARCA + json` on the real stdout.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import math
import os
import pickle
import resource
import sys
import time
from pathlib import Path
from typing import Any

MARCA = "@@BV_RESULTADO@@"
_AQUI = Path(__file__).resolve().parent


class BibliotecaAusente(Exception):
    """The library needed for this format is not installed here."""


def _carregar_pickle_seguro() -> Any:
    spec = importlib.util.spec_from_file_location(
        "_bv_pickle_seguro", _AQUI / "pickle_seguro.py"
    )
    assert spec is not None and spec.loader is not None
    modulo = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = modulo
    spec.loader.exec_module(modulo)
    return modulo


def _aplicar_limites(lim: dict[str, int]) -> None:
    pares = (
        ("memoria_bytes", "RLIMIT_AS"),
        ("cpu_s", "RLIMIT_CPU"),
        ("arquivo_bytes", "RLIMIT_FSIZE"),
    )
    for chave, nome in pares:
        recurso = getattr(resource, nome, None)
        if recurso is None or chave not in lim:
            continue
        macio, duro = resource.getrlimit(recurso)
        novo = lim[chave]
        if duro != resource.RLIM_INFINITY and novo > duro:
            novo = duro
        if macio == resource.RLIM_INFINITY or novo < macio:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(recurso, (novo, duro))


def _importar(nome: str, biblioteca: str) -> Any:
    try:
        return importlib.import_module(nome)
    except ModuleNotFoundError as e:
        raise BibliotecaAusente(f"{biblioteca} ({e.name})") from None


def _qual(tipo: type) -> str:
    return f"{tipo.__module__}.{tipo.__qualname__}"


# --- JSON-able descriptions ----------------------------------------------------------


def _jsonavel(v: Any, prof: int = 0) -> Any:
    if prof > 32:
        return repr(v)[:200]
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, (list, tuple)):
        return [_jsonavel(x, prof + 1) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonavel(x, prof + 1) for k, x in v.items()}
    if isinstance(v, type):
        return _qual(v)
    if hasattr(v, "get_params") and not isinstance(v, type):
        try:
            params = v.get_params(deep=False)
        except Exception:
            params = {}
        return {
            "classe": _qual(type(v)),
            "parametros": {k: _jsonavel(x, prof + 1) for k, x in params.items()},
        }
    forma = getattr(v, "shape", None)
    if forma == () and hasattr(v, "item"):
        return _jsonavel(v.item(), prof + 1)
    if forma is not None and hasattr(v, "dtype"):
        tamanho = getattr(v, "size", 0)
        item: dict[str, Any] = {"ndarray": list(forma), "dtype": str(v.dtype)}
        if tamanho and tamanho <= 64 and hasattr(v, "tolist"):
            item["valores"] = _jsonavel(v.tolist(), prof + 1)
        return item
    if callable(v):
        nome = getattr(v, "__qualname__", None) or getattr(v, "__name__", None)
        return f"{getattr(v, '__module__', '?')}.{nome}" if nome else _qual(type(v))
    return {"objeto": _qual(type(v))}


class _Hash:
    """Deterministic digest of a loaded object's learned state."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self._vistos: set[int] = set()

    def _tag(self, texto: str) -> None:
        self.h.update(texto.encode("utf-8", "surrogatepass") + b"\x00")

    def valor(self, v: Any, prof: int = 0) -> None:
        if prof > 40:
            self._tag("<profundo>")
            return
        if v is None or isinstance(v, (bool, int, float, str)):
            self._tag(f"{type(v).__name__}:{v!r}")
            return
        if isinstance(v, (bytes, bytearray, memoryview)):
            self._tag(f"bytes:{len(v)}")
            self.h.update(bytes(v))
            return
        if id(v) in self._vistos:
            self._tag("<ciclo>")
            return
        self._vistos.add(id(v))
        nome_tipo = type(v).__name__
        if hasattr(v, "dtype") and hasattr(v, "shape") and hasattr(v, "tobytes"):
            self._array(v, prof)
        elif isinstance(v, dict):
            self._tag(f"dict:{len(v)}")
            for k in sorted(v, key=repr):
                self._tag(repr(k))
                self.valor(v[k], prof + 1)
        elif isinstance(v, (list, tuple)):
            self._tag(f"{nome_tipo}:{len(v)}")
            for x in v:
                self.valor(x, prof + 1)
        elif isinstance(v, (set, frozenset)):
            self._tag(f"set:{len(v)}")
            for x in sorted(v, key=repr):
                self.valor(x, prof + 1)
        elif nome_tipo == "Booster" and hasattr(v, "save_raw"):
            self._tag("xgboost.Booster")
            self.h.update(bytes(v.save_raw(raw_format="ubj")))
        elif nome_tipo == "Booster" and hasattr(v, "model_to_string"):
            self._tag("lightgbm.Booster")
            self.h.update(v.model_to_string().encode("utf-8"))
        elif hasattr(v, "get_params"):
            self._estimador(v, prof)
        elif hasattr(v, "__getstate__") and not isinstance(v, type):
            try:
                estado = v.__getstate__()
            except Exception:
                estado = repr(type(v))
            self._tag(f"obj:{_qual(type(v))}")
            self.valor(estado, prof + 1)
        else:
            self._tag(f"obj:{_qual(type(v))}")

    def _array(self, a: Any, prof: int) -> None:
        self._tag(f"nd:{a.dtype}:{tuple(a.shape)}")
        nomes = getattr(a.dtype, "names", None)
        if nomes:
            # Field by field: the padding between fields of a structured array is
            # uninitialized memory when the array was filled field-wise (joblib).
            for nome in nomes:
                self._tag(nome)
                self._array(a[nome], prof + 1)
            return
        if getattr(a.dtype, "hasobject", False):
            for x in a.ravel().tolist():
                self.valor(x, prof + 1)
            return
        import numpy as np

        self.h.update(np.ascontiguousarray(a).tobytes())

    def _estimador(self, est: Any, prof: int) -> None:
        # Learned state is what sklearn names with a trailing underscore; nested
        # estimators (Pipeline steps, ensembles' base estimators) hold theirs.
        self._tag(f"est:{_qual(type(est))}")
        estado = vars(est)
        for chave in sorted(estado):
            valor = estado[chave]
            aprendido = chave.endswith("_") and not chave.startswith("__")
            if aprendido or type(valor).__name__ == "Booster":
                self._tag(chave)
                self.valor(valor, prof + 1)
            elif _contem_estimador(valor):
                self._tag(chave)
                self._so_estimadores(valor, prof + 1)

    def _so_estimadores(self, v: Any, prof: int) -> None:
        if hasattr(v, "get_params") and not isinstance(v, type):
            self._estimador(v, prof)
        elif isinstance(v, (list, tuple)):
            for x in v:
                self._so_estimadores(x, prof + 1)
        elif isinstance(v, dict):
            for k in sorted(v, key=repr):
                self._so_estimadores(v[k], prof + 1)

    def hex(self) -> str:
        return self.h.hexdigest()


def _contem_estimador(v: Any, prof: int = 0) -> bool:
    if prof > 3:
        return False
    if hasattr(v, "get_params") and not isinstance(v, type):
        return True
    if isinstance(v, (list, tuple)):
        return any(_contem_estimador(x, prof + 1) for x in v)
    if isinstance(v, dict):
        return any(_contem_estimador(x, prof + 1) for x in v.values())
    return False


_PARAMS_EXECUCAO = {
    "n_jobs",
    "verbose",
    "verbosity",
    "random_state",
    "warm_start",
    "copy",
    "copy_X",
    "nthread",
    "silent",
    "device",
    "memory",
    "n_threads",
    "num_threads",
    "seed",
}


def _descrever_objeto(obj: Any) -> dict[str, Any]:
    """Architecture of a pickled estimator: class and hyperparameters."""
    if hasattr(obj, "get_params") and not isinstance(obj, type):
        params = obj.get_params(deep=False)
        camadas = []
        passos = params.get("steps") or params.get("transformers") or []
        for passo in passos if isinstance(passos, list) else []:
            if isinstance(passo, (list, tuple)) and len(passo) >= 2:
                camadas.append(
                    {
                        "nome": str(passo[0]),
                        "classe": _qual(type(passo[1])),
                        "config": _jsonavel(passo[1]).get("parametros", {})
                        if hasattr(passo[1], "get_params")
                        else {},
                        "formas": [],
                    }
                )
        return {
            "tipo": "estimador",
            "classe": _qual(type(obj)),
            "camadas": camadas,
            "parametros": {
                k: _jsonavel(v) for k, v in params.items() if k not in _PARAMS_EXECUCAO
            },
            "execucao": {
                k: _jsonavel(v) for k, v in params.items() if k in _PARAMS_EXECUCAO
            },
        }
    if isinstance(obj, dict):
        camadas = [
            {
                "nome": str(k),
                "classe": _qual(type(v)),
                "config": _descrever_objeto(v) if hasattr(v, "get_params") else {},
                "formas": [],
            }
            for k, v in obj.items()
        ]
        return {
            "tipo": "objeto",
            "classe": "builtins.dict",
            "camadas": camadas,
            "parametros": {},
        }
    return {
        "tipo": "objeto",
        "classe": _qual(type(obj)),
        "camadas": [],
        "parametros": {},
    }


# --- per-format loaders -----------------------------------------------------------


def _keras(caminho: str, tarefa: dict[str, Any]) -> dict[str, Any]:
    keras = _importar("keras", "keras/tensorflow")
    versao = getattr(keras, "__version__", "?")
    if versao.startswith("2."):
        tf = _importar("tensorflow", "tensorflow")
        modelo = tf.keras.models.load_model(caminho, compile=False)
    else:
        modelo = keras.models.load_model(caminho, compile=False, safe_mode=True)
    return {
        "versao_biblioteca": f"keras {versao}",
        "detalhes": {
            "camadas": len(modelo.layers),
            "parametros": int(modelo.count_params()),
        },
    }


def _variaveis_checkpoint(tf: Any, prefixo: str) -> tuple[list[dict[str, Any]], str]:
    leitor = tf.train.load_checkpoint(prefixo)
    formas = leitor.get_variable_to_shape_map()
    tipos = leitor.get_variable_to_dtype_map()
    h = hashlib.sha256()
    camadas = []
    for nome in sorted(formas):
        if nome == "_CHECKPOINTABLE_OBJECT_GRAPH" or "optimizer" in nome.split("/")[0]:
            continue
        valor = leitor.get_tensor(nome)
        camadas.append(
            {
                "nome": nome,
                "classe": "variavel",
                "config": {"chave": nome, "dtype": tipos[nome].name},
                "formas": [list(formas[nome])],
            }
        )
        h.update(nome.encode() + b"\x00" + str(getattr(valor, "dtype", "")).encode())
        h.update(valor.tobytes() if hasattr(valor, "tobytes") else repr(valor).encode())
    return camadas, h.hexdigest()


def _savedmodel(caminho: str, tarefa: dict[str, Any]) -> dict[str, Any]:
    tf = _importar("tensorflow", "tensorflow")
    obj = tf.saved_model.load(caminho)
    assinaturas = {}
    for nome, funcao in getattr(obj, "signatures", {}).items():
        entradas = funcao.structured_input_signature[1]
        saidas = funcao.structured_outputs
        assinaturas[nome] = {
            "entradas": {k: [str(v.shape), v.dtype.name] for k, v in entradas.items()},
            "saidas": {k: [str(v.shape), v.dtype.name] for k, v in saidas.items()}
            if isinstance(saidas, dict)
            else str(saidas),
        }
    resultado: dict[str, Any] = {
        "versao_biblioteca": f"tensorflow {tf.__version__}",
        "detalhes": {"assinaturas": sorted(assinaturas)},
    }
    prefixo = os.path.join(caminho, "variables", "variables")
    if tarefa.get("inspecionar"):
        camadas: list[dict[str, Any]] = []
        digest = None
        if os.path.exists(prefixo + ".index"):
            camadas, digest = _variaveis_checkpoint(tf, prefixo)
        resultado["arquitetura"] = {
            "tipo": "savedmodel",
            "classe": "SavedModel",
            "camadas": camadas,
            "parametros": {"assinaturas": assinaturas},
        }
        resultado["digest_pesos"] = digest
    return resultado


def _graphdef(caminho: str, tarefa: dict[str, Any]) -> dict[str, Any]:
    tf = _importar("tensorflow", "tensorflow")
    grafo_def = tf.compat.v1.GraphDef()
    with open(caminho, "rb") as f:
        grafo_def.ParseFromString(f.read())
    with tf.Graph().as_default():
        tf.graph_util.import_graph_def(grafo_def, name="")
    resultado: dict[str, Any] = {
        "versao_biblioteca": f"tensorflow {tf.__version__}",
        "detalhes": {"nos": len(grafo_def.node)},
    }
    if tarefa.get("inspecionar"):
        h = hashlib.sha256()
        camadas = []
        for no in grafo_def.node:
            if no.op == "Const":
                h.update(no.name.encode() + b"\x00")
                h.update(no.attr["value"].SerializeToString(deterministic=True))
                forma = [d.size for d in no.attr["value"].tensor.tensor_shape.dim]
                camadas.append(
                    {
                        "nome": no.name,
                        "classe": "Const",
                        "config": {},
                        "formas": [forma],
                    }
                )
            else:
                camadas.append(
                    {
                        "nome": no.name,
                        "classe": no.op,
                        "config": {"entradas": len(no.input)},
                        "formas": [],
                    }
                )
        resultado["arquitetura"] = {
            "tipo": "grafo",
            "classe": "GraphDef",
            "camadas": camadas,
            "parametros": {},
        }
        resultado["digest_pesos"] = h.hexdigest()
    return resultado


def _tflite(caminho: str, tarefa: dict[str, Any]) -> dict[str, Any]:
    interpretador = None
    versao = "?"
    for modulo, rotulo in (
        ("ai_edge_litert.interpreter", "ai-edge-litert"),
        ("tflite_runtime.interpreter", "tflite-runtime"),
    ):
        try:
            m = importlib.import_module(modulo)
        except ImportError:
            continue
        interpretador = m.Interpreter
        versao = rotulo
        break
    if interpretador is None:
        tf = _importar("tensorflow", "tensorflow")
        interpretador = tf.lite.Interpreter
        versao = f"tensorflow {tf.__version__}"
    it = interpretador(model_path=caminho)
    it.allocate_tensors()
    return {
        "versao_biblioteca": versao,
        "detalhes": {
            "entradas": len(it.get_input_details()),
            "saidas": len(it.get_output_details()),
            "tensores": len(it.get_tensor_details()),
        },
    }


def _pickle(caminho: str, tarefa: dict[str, Any]) -> dict[str, Any]:
    ps = _carregar_pickle_seguro()
    extras = tuple(tarefa.get("extras", ()))

    def restrito(module: str, name: str, base: Any) -> Any:
        if (
            ps.classificar_global(module, name, ps.CONTEXTO_GERAL, extras)
            != ps.PERMITIDO
        ):
            raise pickle.UnpicklingError(f"global recusado: {module}.{name}")
        return base(module, name)

    versoes = []
    try:
        numpy_pickle = importlib.import_module("joblib.numpy_pickle")
        utils = importlib.import_module("joblib.numpy_pickle_utils")
        versoes.append(f"joblib {importlib.import_module('joblib').__version__}")
    except ImportError:
        numpy_pickle = None
    if numpy_pickle is not None:

        class Restrito(numpy_pickle.NumpyUnpickler):  # type: ignore[name-defined]
            def find_class(self, module: str, name: str) -> Any:
                return restrito(module, name, super().find_class)

        with (
            open(caminho, "rb") as f,
            utils._validate_fileobject_and_memmap(f, caminho, None) as (fobj, _),
        ):
            if isinstance(fobj, str):
                raise pickle.UnpicklingError("formato joblib antigo (< 0.10) recusado")
            obj = Restrito(caminho, fobj, True, mmap_mode=None).load()
    else:

        class RestritoSimples(pickle.Unpickler):
            def find_class(self, module: str, name: str) -> Any:
                return restrito(module, name, super().find_class)

        with open(caminho, "rb") as f:
            obj = RestritoSimples(f).load()
    for nome in ("sklearn", "xgboost", "lightgbm"):
        if nome in sys.modules:
            versoes.append(f"{nome} {getattr(sys.modules[nome], '__version__', '?')}")
    resultado: dict[str, Any] = {
        "versao_biblioteca": ", ".join(versoes) or f"python {sys.version.split()[0]}",
        "detalhes": {
            "tipo": _qual(type(obj)),
            "tem_predict": callable(getattr(obj, "predict", None)),
        },
    }
    if tarefa.get("inspecionar"):
        resultado["arquitetura"] = _descrever_objeto(obj)
        h = _Hash()
        h.valor(obj)
        resultado["digest_pesos"] = h.hex()
    return resultado


def _xgboost(caminho: str, tarefa: dict[str, Any]) -> dict[str, Any]:
    xgb = _importar("xgboost", "xgboost")
    booster = xgb.Booster()
    booster.load_model(caminho)
    return {
        "versao_biblioteca": f"xgboost {xgb.__version__}",
        "detalhes": {
            "rodadas": int(booster.num_boosted_rounds()),
            "atributos": int(booster.num_features()),
        },
    }


def _lightgbm(caminho: str, tarefa: dict[str, Any]) -> dict[str, Any]:
    lgb = _importar("lightgbm", "lightgbm")
    booster = lgb.Booster(model_file=caminho)
    return {
        "versao_biblioteca": f"lightgbm {lgb.__version__}",
        "detalhes": {
            "arvores": int(booster.num_trees()),
            "atributos": int(booster.num_feature()),
        },
    }


def _bytes_tensor(torch: Any, t: Any) -> bytes:
    t = t.detach().cpu()
    if t.is_sparse:
        t = t.to_dense()
    if t.is_quantized:
        t = t.int_repr()
    t = t.contiguous().reshape(-1)
    try:
        return bytes(t.view(torch.uint8).numpy().tobytes())
    except (RuntimeError, TypeError):
        return repr(t.tolist()).encode()


def _torch(caminho: str, tarefa: dict[str, Any]) -> dict[str, Any]:
    torch = _importar("torch", "torch")
    classes_nn: list[str] = []
    if tarefa.get("serializacao") == "torchscript":
        obj = torch.jit.load(caminho, map_location="cpu")
    else:
        try:
            obj = torch.load(caminho, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            # Whole nn.Module saved: allow only the torch.nn classes the scan found.
            classes = []
            for completo in tarefa.get("globais", []):
                modulo, _, nome = completo.rpartition(".")
                if modulo.startswith("torch.nn.") and nome[:1].isupper():
                    classes.append(getattr(importlib.import_module(modulo), nome))
            if not classes:
                raise
            with torch.serialization.safe_globals([*classes, set]):
                obj = torch.load(caminho, map_location="cpu", weights_only=True)
            classes_nn = sorted(_qual(c) for c in classes)
    tensores: list[tuple[str, Any]] = []
    modulos: list[dict[str, Any]] = []
    metadados: dict[str, Any] = {}

    def coletar(prefixo: str, v: Any, prof: int = 0) -> None:
        if prof > 12:
            return
        if torch.is_tensor(v):
            tensores.append((prefixo.rstrip("."), v))
        elif isinstance(v, torch.nn.Module):
            for nome, sub in v.named_modules():
                if not list(sub.children()):
                    extra = sub.extra_repr() if hasattr(sub, "extra_repr") else ""
                    modulos.append(
                        {
                            "nome": prefixo + nome,
                            "classe": getattr(sub, "original_name", type(sub).__name__),
                            "config": {"repr": extra},
                            "formas": [
                                list(p.shape) for p in sub.parameters(recurse=False)
                            ],
                        }
                    )
            for k, t in v.state_dict().items():
                tensores.append((prefixo + k, t))
        elif isinstance(v, dict):
            for k, x in v.items():
                coletar(f"{prefixo}{k}.", x, prof + 1)
        elif isinstance(v, (list, tuple)) and any(
            torch.is_tensor(x) or isinstance(x, (dict, list, tuple, torch.nn.Module))
            for x in v
        ):
            for i, x in enumerate(v):
                coletar(f"{prefixo}{i}.", x, prof + 1)
        else:
            metadados[prefixo.rstrip(".")] = _jsonavel(v)

    coletar("", obj)
    resultado: dict[str, Any] = {
        "versao_biblioteca": f"torch {torch.__version__}",
        "detalhes": {
            "tipo": _qual(type(obj)),
            "tensores": len(tensores),
            "parametros": int(sum(t.numel() for _, t in tensores)),
            "classes_nn_permitidas": classes_nn,
        },
    }
    if tarefa.get("inspecionar"):
        h = hashlib.sha256()
        camadas = list(modulos)
        for chave, t in tensores:
            h.update(f"{chave}\x00{t.dtype}\x00{tuple(t.shape)}\x00".encode())
            h.update(_bytes_tensor(torch, t))
            if not modulos:
                camadas.append(
                    {
                        "nome": chave,
                        "classe": "tensor",
                        "config": {"chave": chave, "dtype": str(t.dtype)},
                        "formas": [list(t.shape)],
                    }
                )
        resultado["arquitetura"] = {
            "tipo": "torch",
            "classe": _qual(type(obj)),
            "camadas": camadas,
            "parametros": {},
            "metadados": metadados,
        }
        resultado["digest_pesos"] = h.hexdigest()
    return resultado


def _onnx(caminho: str, tarefa: dict[str, Any]) -> dict[str, Any]:
    try:
        ort = importlib.import_module("onnxruntime")
    except ImportError:
        ort = None
    if ort is not None:
        sessao = ort.InferenceSession(caminho, providers=["CPUExecutionProvider"])
        return {
            "versao_biblioteca": f"onnxruntime {ort.__version__}",
            "detalhes": {
                "entradas": [i.name for i in sessao.get_inputs()],
                "saidas": [o.name for o in sessao.get_outputs()],
            },
        }
    onnx = _importar("onnx", "onnxruntime/onnx")
    onnx.checker.check_model(caminho, full_check=True)
    return {
        "versao_biblioteca": f"onnx {onnx.__version__}",
        "detalhes": {"verificacao": "onnx.checker full_check"},
    }


_CARREGADORES = {
    "keras_h5": _keras,
    "keras": _keras,
    "tf_savedmodel": _savedmodel,
    "tf_graphdef": _graphdef,
    "tflite": _tflite,
    "pickle": _pickle,
    "joblib": _pickle,
    "xgboost_json": _xgboost,
    "xgboost_ubj": _xgboost,
    "lightgbm_txt": _lightgbm,
    "torch": _torch,
    "onnx": _onnx,
}


def _executar(tarefa: dict[str, Any]) -> dict[str, Any]:
    formato = tarefa.get("formato", "")
    carregador = _CARREGADORES.get(formato)
    if carregador is None:
        return {
            "ok": False,
            "executado": False,
            "motivo": f"formato sem teste de carregamento: {formato}",
        }
    inicio = time.monotonic()
    try:
        resultado = carregador(tarefa["caminho"], tarefa)
    except BibliotecaAusente as e:
        return {
            "ok": None,
            "executado": False,
            "biblioteca_ausente": str(e),
            "motivo": f"biblioteca {e} não instalada: teste de carregamento não "
            "executado",
        }
    except MemoryError:
        return {
            "ok": False,
            "executado": True,
            "motivo": "memória insuficiente (limite do teste) ao carregar",
        }
    except BaseException as e:
        mensagem = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return {
            "ok": False,
            "executado": True,
            "motivo": f"falha ao carregar: {type(e).__name__}: {mensagem}"[:600],
        }
    resultado.update(
        {
            "ok": True,
            "executado": True,
            "duracao_s": round(time.monotonic() - inicio, 3),
        }
    )
    return resultado


def main() -> None:
    saida_real = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    bruto = sys.stdin.read()
    tarefa = json.loads(bruto)
    _aplicar_limites(tarefa.get("limites", {}))
    resultado = _executar(tarefa)
    linha = MARCA + json.dumps(_jsonavel(resultado), ensure_ascii=False) + "\n"
    os.write(saida_real, linha.encode("utf-8"))
    os.close(saida_real)
    sys.stderr.flush()
    # Skip interpreter teardown: some libraries hang or crash while exiting.
    os._exit(0)


if __name__ == "__main__":
    main()
