"""`comparar`: what changed between two versions of a model."""

from __future__ import annotations

import argparse
from typing import Any

from .comum import gerenciador, imprimir, tamanho_legivel


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "comparar",
        parents=[comum],
        help="compara duas versões de um modelo",
        description="Tamanhos, bytes e blocos alterados, arquivos, métricas e "
        "diferenças de arquitetura entre duas versões.",
    )
    p.add_argument("--modelo", required=True, metavar="NOME")
    p.add_argument("--de", required=True, metavar="VERSAO", help="versão de referência")
    p.add_argument(
        "--para",
        default="ultima",
        metavar="VERSAO",
        help="versão comparada (padrão: ultima)",
    )
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    with gerenciador(args) as g:
        r = g.comparar_versoes(args.modelo, args.de, args.para)
    imprimir(args, r, lambda: _texto(r))
    return 0


def _texto(r: dict[str, Any]) -> str:
    t, b = r["tamanho"], r["blocos"]
    linhas = [
        f"{r['modelo']}: {r['a']} -> {r['b']}"
        + (" (conteúdo idêntico)" if r["identicas"] else "")
    ]
    linhas.append(
        f"  tamanho: {tamanho_legivel(t['a'])} -> {tamanho_legivel(t['b'])} "
        f"({'+' if t['delta'] >= 0 else '-'}{tamanho_legivel(abs(t['delta']))})"
    )
    linhas.append(
        f"  blocos: {b['comuns']} em comum, {b['novos_em_b']} novos "
        f"({tamanho_legivel(r['bytes_alterados'])} alterados)"
    )
    arq = r["arquivos"]
    for rotulo, chave in (
        ("adicionados", "adicionados"),
        ("removidos", "removidos"),
        ("alterados", "alterados"),
    ):
        if arq[chave]:
            linhas.append(f"  arquivos {rotulo}: {', '.join(arq[chave])}")
    for nome, m in r["metricas"].items():
        delta = f" ({m['delta']:+.4g})" if m["delta"] is not None else ""
        linhas.append(f"  {nome}: {m['a']} -> {m['b']}{delta}")
    arq_modelo = r.get("arquitetura")
    if arq_modelo:
        linhas.append(f"  arquitetura: {arq_modelo['resumo']}")
        for rotulo, chave in (
            ("camada adicionada", "camadas_adicionadas"),
            ("camada removida", "camadas_removidas"),
            ("camada alterada", "camadas_alteradas"),
            ("parâmetro alterado", "parametros_alterados"),
        ):
            for item in arq_modelo.get(chave) or []:
                linhas.append(f"    {rotulo}: {item}")
    return "\n".join(linhas)
