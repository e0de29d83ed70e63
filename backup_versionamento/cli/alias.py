"""`alias`: names such as `producao` that point at versions, with their history."""

from __future__ import annotations

import argparse
from typing import Any

from ..base.tempo import hora_local
from ..texto import seguro
from .comum import gerenciador, imprimir, responder


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "alias",
        parents=[comum],
        help="aliases de versões (ex.: producao)",
        description="Um alias (ex.: producao, candidato) aponta para uma versão e "
        "pode ser usado onde se pede uma versão: --versao @producao. Cada mudança "
        "fica no histórico do alias, no repositório; a retenção nunca remove uma "
        "versão apontada por um alias.",
    )
    acoes = p.add_subparsers(dest="acao", metavar="AÇÃO", required=True)
    d = acoes.add_parser(
        "definir", parents=[comum], help="aponta um alias para uma versão"
    )
    d.add_argument("--modelo", required=True, metavar="NOME")
    d.add_argument(
        "--alias",
        required=True,
        help="nome do alias: letras, dígitos, '-' e '_' (ex.: producao)",
    )
    d.add_argument(
        "--versao", required=True, help="versão (ex.: 1.2.3), 'ultima' ou '@alias'"
    )
    d.add_argument("--motivo", default="", metavar="TEXTO", help="por que mudou")
    d.set_defaults(executar=_definir)
    r = acoes.add_parser(
        "remover",
        parents=[comum],
        help="faz um alias deixar de apontar para uma versão",
    )
    r.add_argument("--modelo", required=True, metavar="NOME")
    r.add_argument("--alias", required=True)
    r.add_argument("--motivo", default="", metavar="TEXTO", help="por que saiu")
    r.set_defaults(executar=_remover)
    listar = acoes.add_parser(
        "listar",
        parents=[comum],
        help="aliases de um modelo (ou de todos) e o histórico de cada um",
    )
    listar.add_argument("--modelo", metavar="NOME")
    listar.set_defaults(executar=_listar)


def _definir(args: argparse.Namespace) -> int:
    with gerenciador(args) as g:
        antes = g.aliases(args.modelo).get(args.alias)
        versao = g.definir_alias(args.modelo, args.alias, args.versao, args.motivo)
        ultima = g.historico_alias(args.modelo, args.alias)[-1]
    dados = {**ultima, "alterado": antes != versao}
    if antes == versao:
        texto = f"já apontava para {versao}; nada mudou"
    else:
        texto = f"-> {versao}" + (f" (antes: {antes})" if antes else " (novo)")
    imprimir(
        args, dados, lambda: f"Alias @{args.alias} de {seguro(args.modelo)} {texto}"
    )
    return 0


def _remover(args: argparse.Namespace) -> int:
    with gerenciador(args) as g:
        anterior = g.remover_alias(args.modelo, args.alias, args.motivo)
        ultima = g.historico_alias(args.modelo, args.alias)[-1]
    imprimir(
        args,
        ultima,
        lambda: (
            f"Alias @{args.alias} de {seguro(args.modelo)} removido "
            f"(apontava para {anterior})"
        ),
    )
    return 0


def _listar(args: argparse.Namespace) -> int:
    return responder(args, lambda g: g.listar_aliases(args.modelo), _texto)


def _texto(dados: list[dict[str, Any]]) -> str:
    if not dados:
        return "Nenhum alias definido."
    linhas = []
    for item in dados:
        atual = item["versao"] or "(removido)"
        linhas.append(f"{seguro(item['modelo'])} @{item['alias']} -> {atual}")
        for h in reversed(item["historico"]):
            if h["acao"] == "definir":
                mudanca = f"{h['versao_anterior'] or '(nenhuma)'} -> {h['versao']}"
            else:
                mudanca = f"{h['versao_anterior']} -> (removido)"
            motivo = f": {seguro(h['motivo'])}" if h["motivo"] else ""
            linhas.append(
                f"  {hora_local(h['criado_em'])}  {mudanca:<22} "
                f"{seguro(h['usuario'])}@{seguro(h['host'])}{motivo}"
            )
    return "\n".join(linhas)
