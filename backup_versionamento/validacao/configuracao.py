"""The `validacao` configuration section: mode, sandbox limits, allowed globals.

A schema module (docs/ARQUITETURA.md): imports only the base at module level,
so config.py can assemble it without loading the validators.
"""

from __future__ import annotations

from typing import Any

from ..base.configuracao import Secao, faixa, um_de
from ..base.padroes import MEMORIA_LIMITE_VALIDACAO_MB, TEMPO_LIMITE_VALIDACAO_S


def _globais_permitidos(v: list[Any]) -> str | None:
    if not all(isinstance(x, str) for x in v):
        return "deve ser uma lista de textos"
    if not v:
        return None
    # The deny list lives with the pickle scanner, the one place that knows what
    # is dangerous (the sandboxed child loads that file by path, so it must stay
    # self-contained); imported here, lazily, only when the key is used.
    from .pickle_seguro import motivo_global_recusado

    ruins = [f"{x!r} ({m})" for x in v if (m := motivo_global_recusado(x))]
    if ruins:
        return (
            f"recusado: {'; '.join(ruins)}. Esta lista só libera classes de dados "
            "(ex.: 'meu_pacote.modelos.MinhaClasse' ou 'meu_pacote.modelos.*'); "
            "remova esses itens"
        )
    return None


SECAO_CONFIG = Secao(
    "validacao",
    {
        "modo": "avisar",
        "teste_carregamento": True,
        "tempo_limite_segundos": TEMPO_LIMITE_VALIDACAO_S,
        "memoria_limite_mb": MEMORIA_LIMITE_VALIDACAO_MB,
        "globais_permitidos": [],
    },
    {
        "validacao.modo": um_de({"bloquear", "avisar", "desligado"}),
        "validacao.tempo_limite_segundos": faixa(1, 24 * 3600),
        "validacao.memoria_limite_mb": faixa(64, 1024 * 1024),
        "validacao.globais_permitidos": _globais_permitidos,
    },
)
