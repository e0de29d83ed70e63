"""Model awareness: format detection, structural checks, sandboxed load tests.

Lower layer: imports nothing above it (no gerenciador, no CLI). Heavy libraries
(TensorFlow, PyTorch, XGBoost, LightGBM, ONNX, scikit-learn, h5py) are imported
lazily inside functions or only in the sandboxed child process. Every name below
loads its module on first use (PEP 562): config.py imports `configuracao` on
every command, restore included, which needs no validator (docs/DESEMPENHO.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .formatos import InfoFormato, detectar_formato
    from .inspecao import digest_arquitetura
    from .pickle_seguro import (
        ResultadoVarredura,
        classificar_global,
        varrer_arquivo_pickle,
    )
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

# lazy: startup time (docs/DESEMPENHO.md). Backing up a file of unknown format
# needs only `formatos`; the structural readers load when a model needs them.
_SOB_DEMANDA = {
    "InfoFormato": "formatos",
    "detectar_formato": "formatos",
    "analisar_modelo": "validador",
    "erro_de_validacao": "validador",
    "inspecionar_modelo": "validador",
    "opcoes_da_config": "validador",
    "validar_modelo": "validador",
    "digest_arquitetura": "inspecao",
    "ResultadoVarredura": "pickle_seguro",
    "classificar_global": "pickle_seguro",
    "varrer_arquivo_pickle": "pickle_seguro",
}


def __getattr__(nome: str) -> Any:
    if nome in _SOB_DEMANDA:
        from importlib import import_module

        return getattr(import_module(f".{_SOB_DEMANDA[nome]}", __name__), nome)
    raise AttributeError(f"module {__name__!r} has no attribute {nome!r}")
