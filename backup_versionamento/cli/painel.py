"""`painel`: the live monitoring page (and /metrics), or that page once as a file."""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from ..erros import ErroConfiguracao
from .comum import gerenciador


def _porta(texto: str) -> int:
    try:
        n = int(texto)
    except ValueError:
        n = -1
    if not 1 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"porta {texto!r} inválida; use 1 a 65535")
    return n


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "painel",
        parents=[comum],
        help="serve o painel de monitoramento (ou grava a página com --arquivo)",
        description="Serve, até Ctrl+C ou SIGTERM, a página que se atualiza sozinha "
        "(estado, saúde do daemon, backups e falhas recentes, tendências), "
        "/dados.json e /metrics (formato de texto do Prometheus). Somente leitura: "
        "escuta em relatorios.painel_endereco (padrão 127.0.0.1); um endereço que "
        "não é local exige relatorios.painel_token.",
    )
    p.add_argument(
        "--porta",
        type=_porta,
        metavar="N",
        help="porta TCP (padrão: relatorios.painel_porta, 8765)",
    )
    p.add_argument(
        "--arquivo",
        metavar="ARQUIVO",
        help="grava a página uma vez neste arquivo HTML e sai",
    )
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    # jinja2 and the chart library load only for this subcommand.
    from ..relatorios.painel import Painel, ServidorPainel, escrever_painel

    with gerenciador(args) as g:
        if args.arquivo:
            destino = escrever_painel(g, Path(args.arquivo))
            if args.json:
                print(json.dumps({"arquivo": str(destino)}, ensure_ascii=False))
            else:
                print(f"Painel gravado em {destino}")
            return 0
        cfg = g.config["relatorios"]
        porta = args.porta or cfg["painel_porta"]
        if not porta:
            raise ErroConfiguracao(
                "relatorios.painel_porta é 0 (painel desligado); passe --porta N "
                "ou configure uma porta"
            )
        servidor = ServidorPainel(
            Painel(g), cfg["painel_endereco"], porta, cfg["painel_token"]
        )
        parada = threading.Event()

        def parar(_numero: int, _quadro: FrameType | None) -> None:
            parada.set()

        anteriores = {
            s: signal.signal(s, parar) for s in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            if args.json:
                print(
                    json.dumps(
                        {"url": servidor.url, "pid": os.getpid()}, ensure_ascii=False
                    ),
                    flush=True,
                )
            else:
                print(
                    f"Painel em {servidor.url} (métricas em {servidor.url}metrics); "
                    "Ctrl+C para parar.",
                    flush=True,
                )
            servidor.servir_ate(parada)
        finally:
            for s, h in anteriores.items():
                signal.signal(s, h)
    return 0
