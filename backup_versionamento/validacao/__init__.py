"""Model awareness: format detection, structural checks, sandboxed load tests.

Lower layer: imports nothing above it (no gerenciador, no CLI). Heavy libraries
(TensorFlow, PyTorch, XGBoost, LightGBM, ONNX, scikit-learn, h5py) are imported
lazily inside functions or only in the sandboxed child process.
"""

from __future__ import annotations

from .formatos import InfoFormato, detectar_formato
from .inspecao import digest_arquitetura
from .pickle_seguro import ResultadoVarredura, classificar_global, varrer_arquivo_pickle
from .validador import (
    analisar_modelo,
    erro_de_validacao,
    inspecionar_modelo,
    opcoes_da_config,
    validar_modelo,
)

__all__ = [
    "InfoFormato",
    "ResultadoVarredura",
    "analisar_modelo",
    "classificar_global",
    "detectar_formato",
    "digest_arquitetura",
    "erro_de_validacao",
    "inspecionar_modelo",
    "opcoes_da_config",
    "validar_modelo",
    "varrer_arquivo_pickle",
]
