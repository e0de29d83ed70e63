"""`restaurar`: rebuild a version byte for byte, verified before it appears."""

from __future__ import annotations

import argparse

from .comum import barra, gerenciador, imprimir


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "restaurar",
        parents=[comum],
        help="restaura uma versão",
        description="Restaura uma versão no destino. O arquivo só aparece "
        "depois de conferido o SHA-256.",
    )
    p.add_argument("--modelo", required=True, metavar="NOME", help="nome do modelo")
    p.add_argument("--versao", default="ultima", help="versão (ex.: 1.2.3) ou 'ultima'")
    p.add_argument(
        "--destino",
        default=".",
        help="pasta de destino (ou caminho final do arquivo); padrão: .",
    )
    p.add_argument(
        "--sobrescrever",
        action="store_true",
        help="substitui o destino se ele já existir",
    )
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    with gerenciador(args) as g:
        info = g.obter_versao(args.modelo, args.versao)
        with barra(info["tamanho"], f"{info['modelo']} {info['versao']}", args) as prog:
            caminho = g.restaurar_backup(
                info["modelo"],
                info["versao"],
                args.destino,
                sobrescrever=args.sobrescrever,
                progresso=prog,
            )
    dados = {
        "modelo": info["modelo"],
        "versao": info["versao"],
        "caminho": caminho,
        "sha256": info["sha256"],
        "tamanho": info["tamanho"],
    }
    imprimir(
        args,
        dados,
        lambda: (
            f"Modelo restaurado em: {caminho} "
            f"(versão {info['versao']}, SHA-256 conferido)"
        ),
    )
    return 0
