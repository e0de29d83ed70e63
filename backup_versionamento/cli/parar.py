"""`parar`: stop the running daemon after the backup in progress."""

from __future__ import annotations

import argparse
import json


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "parar",
        parents=[comum],
        help="para o daemon de backup automático",
        description="Envia SIGTERM ao daemon e espera que ele termine o backup em "
        "andamento. Pedidos ainda na fila são refeitos pela varredura do próximo "
        "início.",
    )
    p.add_argument(
        "--tempo-limite",
        type=_positivo,
        default=300.0,
        metavar="SEGUNDOS",
        help="quanto esperar o daemon terminar (padrão: 300)",
    )
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    # lazy: startup time (docs/DESEMPENHO.md)
    from ..automacao.daemon import carregar_config, parar_daemon

    cfg = carregar_config(args.config, args.base)
    pid = parar_daemon(cfg, args.tempo_limite)
    if args.json:
        print(json.dumps({"parado": True, "pid": pid}, ensure_ascii=False))
    else:
        print(f"Daemon parado (pid {pid}).")
    return 0


def _positivo(texto: str) -> float:
    try:
        valor = float(texto)
    except ValueError:
        valor = -1.0
    if not valor > 0:
        raise argparse.ArgumentTypeError(f"{texto!r}: use um número de segundos > 0")
    return valor
