"""`config`: print the effective configuration, or validate a file."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..texto import mascarar_url, seguro


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "config",
        parents=[comum],
        help="mostra a configuração efetiva",
        description="Mostra a configuração efetiva (padrões + arquivo), com "
        "caminhos absolutos. --validar só confere o arquivo.",
    )
    p.add_argument(
        "--validar",
        action="store_true",
        help="só valida; sai com código 3 se houver erro",
    )
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    from .. import config as configuracao  # lazy: startup time (docs/DESEMPENHO.md)

    cfg = configuracao.carregar(args.config, base=args.base)
    if args.validar:
        origem = args.config or "padrões"
        if args.json:
            print(json.dumps({"valida": True, "origem": origem}, ensure_ascii=False))
        else:
            print(f"Configuração válida ({seguro(origem)})")
        return 0
    print(json.dumps(_sem_segredos(cfg), ensure_ascii=False, indent=2))
    return 0


# Keys whose values are secrets: shown as set or not, never printed.
_SEGREDOS = {"segredo", "painel_token"}


def _sem_segredos(valor: Any) -> Any:
    if isinstance(valor, dict):
        return {
            k: ("***" if v else "") if k in _SEGREDOS else _sem_segredos(v)
            for k, v in valor.items()
        }
    if isinstance(valor, list):
        return [_sem_segredos(v) for v in valor]
    if isinstance(valor, str):
        return mascarar_url(valor)  # https://usuario:senha@..., ?token=...
    return valor
