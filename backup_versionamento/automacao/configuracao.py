"""The `backup_automatico` configuration section: what the daemon watches and when.

A schema module (docs/ARQUITETURA.md): imports only the base and
`politica.versoes`, so config.py can assemble it without loading the daemon.
"""

from __future__ import annotations

from typing import Any

from ..base.configuracao import Secao, faixa, horario, horarios, lista_de_texto, um_de
from ..politica.versoes import AUTO, INCREMENTOS


def _extensoes(v: list[Any]) -> str | None:
    ruins = [x for x in v if not isinstance(x, str) or not x.startswith(".")]
    return (
        f"extensões inválidas {ruins}: cada uma deve começar com '.'" if ruins else None
    )


SECAO_CONFIG = Secao(
    "backup_automatico",
    {
        "habilitado": True,
        "intervalo_horas": 6,
        "horarios_execucao": [],
        "diretorios_monitorados": ["./modelo", "./models"],
        # .json/.txt (XGBoost, LightGBM) are left out on purpose: watched folders
        # are full of such files that are not models. Add them when you need to.
        "extensoes_monitoradas": [
            ".h5",
            ".keras",
            ".pkl",
            ".joblib",
            ".pt",
            ".pth",
            ".onnx",
            ".ubj",
            ".tflite",
        ],
        "ignorar_arquivos": ["temp_*", "*.tmp"],
        "monitorar_tempo_real": True,
        "periodo_silencio_segundos": 5.0,
        "tipo_mudanca": "retreino",
        "limpeza_automatica": False,
        "horario_limpeza": "03:30",
    },
    {
        "backup_automatico.intervalo_horas": faixa(1, 24 * 366),
        "backup_automatico.horarios_execucao": horarios,
        "backup_automatico.diretorios_monitorados": lista_de_texto,
        "backup_automatico.extensoes_monitoradas": _extensoes,
        "backup_automatico.ignorar_arquivos": lista_de_texto,
        "backup_automatico.periodo_silencio_segundos": faixa(0, 3600),
        "backup_automatico.tipo_mudanca": um_de({*INCREMENTOS, AUTO}),
        "backup_automatico.horario_limpeza": horario,
    },
)
