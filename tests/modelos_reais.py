"""Tiny real model files, written by the real libraries, for the validation tests.

Every library is imported inside the function that needs it, so a test module
pays only for what it uses (TensorFlow costs seconds to import).
"""

from __future__ import annotations

import os
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ATRIBUTOS = 4


def dados(semente: int = 0, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A small, deterministic binary classification set."""
    rng = np.random.default_rng(semente)
    x = rng.random((n, ATRIBUTOS)).astype(np.float32)
    y = (x[:, 0] + 0.3 * x[:, 1] > 0.6).astype(np.int64)
    return x, y


# --- TensorFlow / Keras -----------------------------------------------------------


def keras_modelo(unidades: tuple[int, ...] = (3,), semente: int = 0) -> Any:
    import keras

    keras.utils.set_random_seed(semente)
    camadas = [keras.layers.Dense(u, activation="relu") for u in unidades]
    modelo = keras.Sequential(
        [keras.Input((ATRIBUTOS,)), *camadas, keras.layers.Dense(1)]
    )
    modelo.compile(optimizer="sgd", loss="mse")
    return modelo


def treinar_um_passo(modelo: Any, semente: int = 1) -> None:
    x, y = dados(semente)
    modelo.fit(x, y.astype(np.float32), epochs=1, batch_size=len(x), verbose=0)


def keras_com_lambda(caminho: Path) -> Path:
    import keras

    modelo = keras.Sequential(
        [keras.Input((ATRIBUTOS,)), keras.layers.Lambda(lambda t: t * 2.0)]
    )
    modelo.save(caminho)
    return caminho


def savedmodel(modelo: Any, pasta: Path) -> Path:
    modelo.export(str(pasta), verbose=False)
    return pasta


def tflite(modelo: Any, caminho: Path) -> Path:
    import tensorflow as tf

    conversor = tf.lite.TFLiteConverter.from_keras_model(modelo)
    caminho.write_bytes(conversor.convert())
    return caminho


def graphdef(caminho: Path) -> Path:
    """A frozen GraphDef (.pb) with one constant weight matrix."""
    import tensorflow as tf

    pesos = tf.constant(np.arange(8, dtype=np.float32).reshape(ATRIBUTOS, 2))

    @tf.function(input_signature=[tf.TensorSpec([None, ATRIBUTOS], tf.float32)])
    def funcao(x: Any) -> Any:
        return tf.matmul(x, pesos) + 1.0

    grafo = funcao.get_concrete_function().graph.as_graph_def()
    caminho.write_bytes(grafo.SerializeToString())
    return caminho


# --- scikit-learn, XGBoost, LightGBM --------------------------------------------


def floresta(n_estimators: int = 5, semente_dados: int = 0) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    x, y = dados(semente_dados)
    return RandomForestClassifier(
        n_estimators=n_estimators, max_depth=3, random_state=0
    ).fit(x, y)


def pipeline_sklearn(semente_dados: int = 0) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = dados(semente_dados)
    return Pipeline(
        [("escala", StandardScaler()), ("logistica", LogisticRegression())]
    ).fit(x, y)


def salvar_pickle(obj: Any, caminho: Path, protocolo: int = 4) -> Path:
    with open(caminho, "wb") as f:
        pickle.dump(obj, f, protocol=protocolo)
    return caminho


def salvar_joblib(obj: Any, caminho: Path, compress: Any = 0) -> Path:
    import joblib

    joblib.dump(obj, caminho, compress=compress)
    return caminho


def xgboost_modelo(n_estimators: int = 3, semente_dados: int = 0) -> Any:
    import xgboost

    x, y = dados(semente_dados)
    return xgboost.XGBClassifier(n_estimators=n_estimators, max_depth=2, n_jobs=1).fit(
        x, y
    )


def lightgbm_modelo(n_estimators: int = 3, semente_dados: int = 0) -> Any:
    import lightgbm

    x, y = dados(semente_dados)
    return lightgbm.LGBMClassifier(
        n_estimators=n_estimators,
        num_leaves=4,
        min_child_samples=2,
        verbose=-1,
        n_jobs=1,
    ).fit(x, y)


# --- PyTorch ------------------------------------------------------------------


def torch_rede(oculto: int = 3, semente: int = 0) -> Any:
    import torch

    torch.manual_seed(semente)
    return torch.nn.Sequential(
        torch.nn.Linear(ATRIBUTOS, oculto), torch.nn.ReLU(), torch.nn.Linear(oculto, 1)
    )


def salvar_torch(obj: Any, caminho: Path, legado: bool = False) -> Path:
    import torch

    torch.save(obj, caminho, _use_new_zipfile_serialization=not legado)
    return caminho


def torchscript(rede: Any, caminho: Path) -> Path:
    import torch

    torch.jit.script(rede).save(str(caminho))
    return caminho


# --- ONNX --------------------------------------------------------------------


def onnx_modelo(caminho: Path, semente: int = 0) -> Path:
    """Y = X @ W + b built with onnx.helper (no converter needed)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(semente)
    w = numpy_helper.from_array(rng.random((ATRIBUTOS, 2)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.random(2).astype(np.float32), "b")
    grafo = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "b"], ["Y"]),
        ],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, ATRIBUTOS])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])],
        [w, b],
    )
    modelo = helper.make_model(grafo, opset_imports=[helper.make_opsetid("", 13)])
    modelo.ir_version = 8
    onnx.checker.check_model(modelo)
    onnx.save(modelo, str(caminho))
    return caminho


# --- malicious files ---------------------------------------------------------------


class Marcador:
    """Pickles into a call that would create `arquivo` if it were ever loaded."""

    def __init__(self, arquivo: Path) -> None:
        self.arquivo = str(arquivo)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.arquivo}",))


class MarcadorExec:
    def __init__(self, arquivo: Path) -> None:
        self.arquivo = str(arquivo)

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({self.arquivo!r}, 'w').close()",))


def pickle_malicioso(caminho: Path, marcador: Path, protocolo: int = 4) -> Path:
    modelo = {"modelo": floresta(2), "gatilho": Marcador(marcador)}
    return salvar_pickle(modelo, caminho, protocolo)


def joblib_malicioso(
    caminho: Path, marcador: Path, compress: Any = 0, em_array: bool = False
) -> Path:
    """Arrays first (joblib's raw payloads) and the trigger after them, or inside an
    object array (a nested pickle inside joblib's stream)."""
    gatilho: Any = MarcadorExec(marcador)
    if em_array:
        gatilho = np.array([1, gatilho], dtype=object)
    obj = {"pesos": np.arange(1000, dtype=np.float64), "gatilho": gatilho}
    return salvar_joblib(obj, caminho, compress)


def torch_malicioso(caminho: Path, marcador: Path) -> Path:
    """A real torch.save archive whose data.pkl was replaced by a malicious one."""
    original = salvar_torch(torch_rede().state_dict(), caminho.with_suffix(".orig"))
    with zipfile.ZipFile(original) as z, zipfile.ZipFile(caminho, "w") as saida:
        for info in z.infolist():
            dados_membro = z.read(info.filename)
            if info.filename.endswith("data.pkl"):
                dados_membro = pickle.dumps(Marcador(marcador), protocol=2)
            saida.writestr(info, dados_membro)
    original.unlink()
    return caminho


def pickle_truque_pilha(caminho: Path, marcador: Path) -> Path:
    """STACK_GLOBAL whose real operands ("posix", "system") sit under two decoys
    that are popped: a scanner that only looks at the last two strings sees
    "numpy.dtype"."""
    comando = f"touch {marcador}".encode()
    corpo = (
        b"\x80\x04"
        + b"\x8c\x05posix"
        + b"\x8c\x06system"
        + b"\x8c\x05numpy"
        + b"\x8c\x05dtype"
        + b"00"
        + b"\x93"
        + b"\x8c"
        + bytes([len(comando)])
        + comando
        + b"\x85R."
    )
    caminho.write_bytes(corpo)
    return caminho


def joblib_diferencial(caminho: Path, marcador: Path) -> Path:
    """Harmless to joblib.load, code execution under plain pickle.load.

    joblib reads the bytes after a NumpyArrayWrapper as raw array data; pickle.load
    parses the same bytes as opcodes -- here GLOBAL posix.system, a call, a POP.
    """

    def texto(s: str) -> bytes:
        b = s.encode()
        return b"X" + len(b).to_bytes(4, "little") + b

    carga = b"cposix\nsystem\n(V" + f"touch {marcador}".encode() + b"\ntR0"
    dtype = (
        b"cnumpy\ndtype\n"
        + texto("u1")
        + b"\x89\x88\x87R(K\x03"
        + texto("|")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    )
    estado = (
        b"}("
        + texto("subclass")
        + b"cnumpy\nndarray\n"
        + texto("shape")
        + b"K"
        + bytes([len(carga)])
        + b"\x85"
        + texto("order")
        + texto("C")
        + texto("dtype")
        + dtype
        + texto("allow_mmap")
        + b"\x89u"
    )
    caminho.write_bytes(
        b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81"
        + estado
        + b"b"
        + carga
        + b"."
    )
    return caminho


# --- damage -------------------------------------------------------------------------


def copiar(origem: Path, destino: Path) -> Path:
    if origem.is_dir():
        shutil.copytree(origem, destino)
    else:
        shutil.copyfile(origem, destino)
    return destino


def truncar(caminho: Path, fracao: float = 0.5) -> Path:
    dados_arquivo = caminho.read_bytes()
    caminho.write_bytes(dados_arquivo[: int(len(dados_arquivo) * fracao)])
    return caminho


def sobrescrever(caminho: Path, posicao: int, tamanho: int = 16) -> Path:
    """Flip `tamanho` bytes at `posicao` (negative counts from the end)."""
    dados_arquivo = bytearray(caminho.read_bytes())
    inicio = posicao if posicao >= 0 else len(dados_arquivo) + posicao
    for i in range(inicio, min(inicio + tamanho, len(dados_arquivo))):
        dados_arquivo[i] ^= 0xFF
    caminho.write_bytes(bytes(dados_arquivo))
    return caminho
