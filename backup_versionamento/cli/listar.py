"""`listar`: models in the repository, or the versions of one model."""

from __future__ import annotations

import argparse
from typing import Any

from ..base.tempo import hora_local
from ..texto import seguro
from .comum import gerenciador, imprimir, saida_danificadas, tamanho_legivel


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "listar",
        parents=[comum],
        help="lista modelos ou versões",
        description="Sem --modelo, lista os modelos; com --modelo, as versões.",
    )
    p.add_argument("--modelo", metavar="NOME", help="nome do modelo (ex.: modelo.h5)")
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    with gerenciador(args) as g:
        if args.modelo:
            versoes = g.listar_versoes(args.modelo)
            por_versao: dict[str, list[str]] = {}
            for alias, versao in g.aliases(args.modelo).items():
                por_versao.setdefault(versao, []).append(alias)
            for v in versoes:
                v["aliases"] = por_versao.get(v["versao"], [])
            danificadas = g.versoes_danificadas(args.modelo)
            imprimir(
                args,
                versoes,
                lambda: _tabela_versoes(versoes) + _linhas_danificadas(danificadas),
            )
            return saida_danificadas(danificadas, "listar")
        modelos = []
        for nome in g.listar_modelos():
            vs = g.listar_versoes(nome)
            if not vs:  # only damaged versions: shown below
                continue
            modelos.append(
                {
                    "modelo": nome,
                    "versoes": len(vs),
                    "ultima_versao": vs[-1]["versao"],
                    "atualizado_em": vs[-1]["criado_em"],
                    "tamanho": vs[-1]["tamanho"],
                    "aliases": g.aliases(nome),
                }
            )
        danificadas = g.versoes_danificadas()
    imprimir(
        args,
        modelos,
        lambda: _tabela_modelos(modelos) + _linhas_danificadas(danificadas),
    )
    return saida_danificadas(danificadas, "listar")


def _linhas_danificadas(danificadas: list[dict[str, str]]) -> str:
    return "".join(
        f"\n{seguro(d['modelo'])} {d['versao']}: DANIFICADA ({seguro(d['erro'])})"
        for d in danificadas
    )


def _tabela_versoes(versoes: list[dict[str, Any]]) -> str:
    linhas = [
        f"{'VERSÃO':<10} {'CRIADA EM':<23} {'TIPO':<12} {'TAMANHO':>10} "
        f"{'NOVOS':>10}  DESCRIÇÃO"
    ]
    for v in versoes:
        tipo = v["tipo_mudanca"]
        if v.get("mudanca"):  # auto: show what it was deduced to be
            tipo = f"{tipo}→{v['mudanca']['incremento']}"
        tipo = seguro(tipo)
        marca = "*" if v.get("fixada") else " "
        valid = v.get("validacao") or {}
        alerta = "" if valid.get("valido", True) else "  [validação falhou]"
        alerta += "".join(f"  [@{a}]" for a in v.get("aliases", []))
        linhas.append(
            f"{v['versao']:<9}{marca} {hora_local(v['criado_em']):<23} "
            f"{tipo:<12} {tamanho_legivel(v['tamanho']):>10} "
            f"{tamanho_legivel(v['tamanho_armazenado']):>10}  "
            f"{seguro(v['descricao'])}{alerta}"
        )
    linhas.append("(* = fixada)" if any(v.get("fixada") for v in versoes) else "")
    return "\n".join(linhas).rstrip()


def _tabela_modelos(modelos: list[dict[str, Any]]) -> str:
    if not modelos:
        return "Nenhum modelo no repositório ainda."
    linhas = [
        f"{'MODELO':<32} {'VERSÕES':>7} {'ÚLTIMA':>9} {'TAMANHO':>10}  ATUALIZADO EM"
    ]
    for m in modelos:
        linhas.append(
            f"{seguro(m['modelo']):<32} {m['versoes']:>7} {m['ultima_versao']:>9} "
            f"{tamanho_legivel(m['tamanho']):>10}  "
            f"{hora_local(m['atualizado_em'])}"
            + "".join(f"  @{a}={v}" for a, v in m.get("aliases", {}).items())
        )
    return "\n".join(linhas)
