"""`comparar`: what changed between two versions of a model."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..texto import seguro
from .comum import responder, tamanho_legivel


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
    return responder(
        args, lambda g: g.comparar_versoes(args.modelo, args.de, args.para), _texto
    )


def _valor(v: Any) -> str:
    """A metric or parameter value for a person; None is a missing value."""
    if v is None:
        return "ausente"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (dict, list, tuple)):
        texto = json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
        return seguro(texto if len(texto) <= 60 else texto[:57] + "...")
    return seguro(v)


def _camada(c: dict[str, Any]) -> str:
    """An added or removed layer: its name, class, position and shapes."""
    nome = seguro(c.get("nome") or c.get("classe") or "?")
    classe = seguro(c.get("classe") or "?")
    formas = f", formas {_valor(c['formas'])}" if c.get("formas") else ""
    return f"{nome} ({classe}, posição {c.get('posicao', '?')}{formas})"


def _camada_alterada(c: dict[str, Any]) -> str:
    nome = seguro(c.get("nome") or c.get("classe") or "?")
    mudancas = c.get("mudancas") or {}
    partes = [
        f"{seguro(k)} {_valor(m.get('antes'))} -> {_valor(m.get('depois'))}"
        for k, m in mudancas.items()
        if isinstance(m, dict)
    ]
    return f"{nome}: {'; '.join(partes) or 'alterada'}"


def _texto(r: dict[str, Any]) -> str:
    t, b = r["tamanho"], r["blocos"]
    linhas = [
        f"{seguro(r['modelo'])}: {r['a']} -> {r['b']}"
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
            nomes = ", ".join(seguro(n) for n in arq[chave])
            linhas.append(f"  arquivos {rotulo}: {nomes}")
    for nome, m in r["metricas"].items():
        delta = f" ({m['delta']:+.4g})" if m["delta"] is not None else ""
        linhas.append(f"  {seguro(nome)}: {_valor(m['a'])} -> {_valor(m['b'])}{delta}")
    arq_modelo = r.get("arquitetura")
    if arq_modelo:
        linhas.append(f"  arquitetura: {seguro(arq_modelo['resumo'])}")
        for c in arq_modelo.get("camadas_adicionadas") or []:
            linhas.append(f"    camada adicionada: {_camada(c)}")
        for c in arq_modelo.get("camadas_removidas") or []:
            linhas.append(f"    camada removida: {_camada(c)}")
        for c in arq_modelo.get("camadas_alteradas") or []:
            linhas.append(f"    camada alterada: {_camada_alterada(c)}")
        for k, m in (arq_modelo.get("parametros_alterados") or {}).items():
            linhas.append(
                f"    parâmetro alterado: {seguro(k)} {_valor(m.get('antes'))} -> "
                f"{_valor(m.get('depois'))}"
            )
        for rotulo, chave in (
            ("parâmetro adicionado", "parametros_adicionados"),
            ("parâmetro removido", "parametros_removidos"),
        ):
            for k, v in (arq_modelo.get(chave) or {}).items():
                linhas.append(f"    {rotulo}: {seguro(k)} = {_valor(v)}")
    return "\n".join(linhas)
