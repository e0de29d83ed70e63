"""Which model format a path holds, from its extension and its first bytes.

The extension says what the user meant; the magic bytes say what is there. When
they disagree the content wins (with a warning), except that a file too damaged
to show any signature keeps the format its extension names, so the structural
check can say precisely what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

KERAS_H5 = "keras_h5"
KERAS = "keras"
SAVEDMODEL = "tf_savedmodel"
TF_PB = "tf_pb"
TFLITE = "tflite"
PICKLE = "pickle"
JOBLIB = "joblib"
XGBOOST_JSON = "xgboost_json"
XGBOOST_UBJ = "xgboost_ubj"
LIGHTGBM_TXT = "lightgbm_txt"
TORCH = "torch"
ONNX = "onnx"
DESCONHECIDO = "desconhecido"

BIBLIOTECAS = {
    KERAS_H5: "tensorflow",
    KERAS: "tensorflow",
    SAVEDMODEL: "tensorflow",
    TF_PB: "tensorflow",
    TFLITE: "tensorflow",
    PICKLE: "pickle",
    JOBLIB: "joblib",
    XGBOOST_JSON: "xgboost",
    XGBOOST_UBJ: "xgboost",
    LIGHTGBM_TXT: "lightgbm",
    TORCH: "torch",
    ONNX: "onnx",
    DESCONHECIDO: "desconhecida",
}

DESCRICOES = {
    KERAS_H5: "modelo Keras em HDF5 (.h5)",
    KERAS: "modelo Keras v3 (.keras)",
    SAVEDMODEL: "TensorFlow SavedModel (pasta)",
    TF_PB: "grafo TensorFlow (.pb)",
    TFLITE: "modelo TensorFlow Lite",
    PICKLE: "pickle Python",
    JOBLIB: "arquivo joblib",
    XGBOOST_JSON: "modelo XGBoost (JSON)",
    XGBOOST_UBJ: "modelo XGBoost (UBJSON)",
    LIGHTGBM_TXT: "modelo LightGBM (texto)",
    TORCH: "checkpoint PyTorch",
    ONNX: "modelo ONNX",
    DESCONHECIDO: "formato não reconhecido",
}

EXTENSOES: dict[str, str] = {
    ".h5": KERAS_H5,
    ".hdf5": KERAS_H5,
    ".keras": KERAS,
    ".pb": TF_PB,
    ".tflite": TFLITE,
    ".pkl": PICKLE,
    ".pickle": PICKLE,
    ".joblib": JOBLIB,
    ".json": XGBOOST_JSON,
    ".ubj": XGBOOST_UBJ,
    ".txt": LIGHTGBM_TXT,
    ".pth": TORCH,
    ".pt": TORCH,
    ".onnx": ONNX,
}

_HDF5 = b"\x89HDF\r\n\x1a\n"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
# torch.save's legacy format opens with its magic number pickled as a long.
_TORCH_LEGADO = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
_COMPRIMIDOS = (
    b"\x78",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"\x5d\x00\x00",
    b"\x04\x22\x4d\x18",
)


@dataclass(frozen=True)
class InfoFormato:
    """The detected format of one path."""

    formato: str
    biblioteca: str
    descricao: str
    diretorio: bool = False
    conteudo: str | None = None
    avisos: tuple[str, ...] = field(default_factory=tuple)


def assinatura(cabecalho: bytes) -> str | None:
    """What the first bytes look like, independent of the extension."""
    if cabecalho.startswith(_HDF5):
        return "hdf5"
    if cabecalho.startswith(_ZIP):
        return "zip"
    if len(cabecalho) >= 8 and cabecalho[4:8] == b"TFL3":
        return "tflite"
    if len(cabecalho) >= 2 and cabecalho[0] == 0x80 and 2 <= cabecalho[1] <= 5:
        return "pickle"
    if cabecalho.startswith(_COMPRIMIDOS):
        return "comprimido"
    texto = cabecalho.lstrip()
    if texto.startswith(b"{") and b'"learner"' in cabecalho:
        return "json_xgboost"
    if cabecalho.startswith(b"{") and b"learner" in cabecalho[:64]:
        return "ubjson_xgboost"
    if cabecalho.startswith((b"tree\n", b"tree\r\n")):
        return "texto_lightgbm"
    if texto.startswith((b"{", b"[")):
        return "json"
    return None


def _hdf5_deslocado(caminho: Path) -> bool:
    """HDF5 allows a user block: the signature may sit at 512, 1024, 2048..."""
    try:
        with open(caminho, "rb") as f:
            pos = 512
            while True:
                f.seek(pos)
                bloco = f.read(8)
                if len(bloco) < 8:
                    return False
                if bloco == _HDF5:
                    return True
                pos *= 2
    except OSError:
        return False


def _info(
    formato: str,
    caminho: Path,
    conteudo: str | None,
    avisos: Iterable[str] = (),
    diretorio: bool = False,
) -> InfoFormato:
    return InfoFormato(
        formato,
        BIBLIOTECAS[formato],
        DESCRICOES[formato],
        diretorio,
        conteudo,
        tuple(avisos),
    )


def detectar_formato(caminho: Path) -> InfoFormato:
    """Format of a model file or folder (DESCONHECIDO when nothing matches)."""
    caminho = Path(caminho)
    if caminho.is_dir():
        if (caminho / "saved_model.pb").is_file() or (
            caminho / "saved_model.pbtxt"
        ).is_file():
            return _info(SAVEDMODEL, caminho, "pasta", diretorio=True)
        return _info(DESCONHECIDO, caminho, "pasta", diretorio=True)
    with open(caminho, "rb") as f:
        cabecalho = f.read(4096)
    conteudo = assinatura(cabecalho)
    ext = caminho.suffix.lower()
    formato = EXTENSOES.get(ext, DESCONHECIDO)
    nome = caminho.name
    if formato == DESCONHECIDO:
        return _info(DESCONHECIDO, caminho, conteudo)
    if formato in (KERAS_H5, KERAS):
        if conteudo is None and formato == KERAS_H5 and _hdf5_deslocado(caminho):
            conteudo = "hdf5"
        if formato == KERAS_H5 and conteudo == "zip":
            return _info(
                KERAS,
                caminho,
                conteudo,
                [f"{nome}: extensão {ext} mas o conteúdo é um arquivo .keras (zip)"],
            )
        if formato == KERAS and conteudo == "hdf5":
            return _info(
                KERAS_H5,
                caminho,
                conteudo,
                [f"{nome}: extensão .keras mas o conteúdo é HDF5 (formato .h5)"],
            )
        return _info(formato, caminho, conteudo)
    if formato in (PICKLE, JOBLIB, TORCH):
        if conteudo == "zip":
            avisos = (
                []
                if formato == TORCH
                else [f"{nome}: extensão {ext} mas o conteúdo é um zip do PyTorch"]
            )
            return _info(TORCH, caminho, conteudo, avisos)
        if formato == PICKLE and conteudo == "comprimido":
            return _info(JOBLIB, caminho, conteudo)
        if formato != TORCH and cabecalho.startswith(_TORCH_LEGADO):
            return _info(
                TORCH,
                caminho,
                conteudo,
                [f"{nome}: extensão {ext} mas o conteúdo é um checkpoint PyTorch"],
            )
        return _info(formato, caminho, conteudo)
    if formato == XGBOOST_JSON:
        if conteudo == "json_xgboost":
            return _info(XGBOOST_JSON, caminho, conteudo)
        return _info(DESCONHECIDO, caminho, conteudo)
    if formato == LIGHTGBM_TXT:
        if conteudo == "texto_lightgbm":
            return _info(LIGHTGBM_TXT, caminho, conteudo)
        return _info(DESCONHECIDO, caminho, conteudo)
    return _info(formato, caminho, conteudo)


def biblioteca_dos_globais(globais: Iterable[str]) -> str:
    """Library that wrote a pickle, told by the classes it references."""
    nomes = list(globais)
    for prefixo, biblioteca in (
        ("xgboost.", "xgboost"),
        ("lightgbm.", "lightgbm"),
        ("torch.", "torch"),
        ("sklearn.", "scikit-learn"),
        ("pandas.", "pandas"),
        ("numpy.", "numpy"),
    ):
        if any(n.startswith(prefixo) for n in nomes):
            return biblioteca
    return "python"
