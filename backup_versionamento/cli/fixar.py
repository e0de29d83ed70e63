"""`fixar` / `desafixar`: protect a version from retention, or release it."""

from __future__ import annotations

import argparse

from ..texto import seguro
from .comum import gerenciador, imprimir


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    for nome, ajuda in (
        ("fixar", "fixa uma versão (a retenção nunca a remove)"),
        ("desafixar", "desfaz a fixação de uma versão"),
    ):
        p = sub.add_parser(nome, parents=[comum], help=ajuda, description=ajuda)
        p.add_argument("--modelo", required=True, metavar="NOME")
        p.add_argument(
            "--versao", required=True, help="versão (ex.: 1.2.3) ou 'ultima'"
        )
        p.set_defaults(executar=executar, fixa=nome == "fixar")


def executar(args: argparse.Namespace) -> int:
    with gerenciador(args) as g:
        versao = g.fixar_versao(args.modelo, args.versao, args.fixa)
    estado = "fixada" if args.fixa else "desafixada"
    imprimir(
        args,
        {"modelo": args.modelo, "versao": versao, "fixada": args.fixa},
        lambda: f"Versão {versao} de {seguro(args.modelo)} {estado}",
    )
    return 0
