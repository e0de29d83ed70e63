"""`status`: what the repository holds and how much it saves."""

from __future__ import annotations

import argparse
from typing import Any

from .comum import gerenciador, imprimir, tamanho_legivel


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser("status", parents=[comum], help="mostra o estado do sistema")
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    with gerenciador(args) as g:
        st = g.status()
    imprimir(args, st, lambda: _texto(st))
    return 0


def _texto(st: dict[str, Any]) -> str:
    ultimo = st["ultimo_backup"]
    razao = st["razao_economia"]
    linhas = [
        f"Repositório:        {st['base']} (formato {st['formato']})",
        f"Modelos / versões:  {st['modelos']} / {st['versoes']}",
        f"Tamanho lógico:     {tamanho_legivel(st['tamanho_logico'])}",
        f"Armazenado:         {tamanho_legivel(st['tamanho_armazenado'])} em "
        f"{st['objetos']} objetos" + (f" (economia {razao}x)" if razao else ""),
        "Último backup:      "
        + (
            f"{ultimo['modelo']} {ultimo['versao']} em "
            f"{ultimo['criado_em'][:19].replace('T', ' ')} UTC"
            if ultimo
            else "nenhum"
        ),
        f"Espaço livre:       {tamanho_legivel(st['espaco_livre'])}",
        f"Log:                {st['log']}",
    ]
    return "\n".join(linhas)
