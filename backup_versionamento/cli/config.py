"""`config`: print the effective configuration, or validate a file."""

from __future__ import annotations

import argparse
import json

from .. import config as configuracao
from ..texto import seguro


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
    cfg = configuracao.carregar(args.config, base=args.base)
    if args.validar:
        origem = args.config or "padrões"
        if args.json:
            print(json.dumps({"valida": True, "origem": origem}, ensure_ascii=False))
        else:
            print(f"Configuração válida ({seguro(origem)})")
        return 0
    print(json.dumps(cfg, ensure_ascii=False, indent=2))
    return 0
