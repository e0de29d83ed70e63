"""`verificar`: prove the repository intact, or check one model file."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..erros import ErroArquivoNaoEncontrado
from ..texto import plural, seguro
from .comum import barra, em_terminal, gerenciador, imprimir, tamanho_legivel


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "verificar",
        parents=[comum],
        help="verifica a integridade",
        description="Confere cada versão: metadados legíveis e cada bloco "
        "presente e com o hash certo. --completa também "
        "reconstrói cada versão e confere o SHA-256. Sai com "
        "código 9 se achar problema.",
    )
    p.add_argument(
        "--completa",
        action="store_true",
        help="reconstrói cada versão e confere o SHA-256 do arquivo",
    )
    p.add_argument("--modelo", metavar="NOME", help="verifica só este modelo")
    p.add_argument(
        "--versao",
        help="com --modelo, verifica só esta versão (ex.: 1.2.3, 'ultima' ou "
        "'@producao')",
    )
    p.add_argument(
        "--arquivo",
        metavar="CAMINHO",
        help="verifica um arquivo de modelo e diz a qual versão ele corresponde",
    )
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    if args.arquivo:  # works with or without a repository
        if not os.path.lexists(args.arquivo):
            raise ErroArquivoNaoEncontrado(
                f"{args.arquivo}: arquivo não encontrado; confira o caminho"
            )
        # lazy: startup time (docs/DESEMPENHO.md)
        from ..gerenciador import verificar_integridade

        r = verificar_integridade(args.arquivo, args.base, args.config)
        imprimir(args, r, lambda: _texto_arquivo(r))
        return 0 if r["valido"] else 12
    with gerenciador(args) as g:
        # Sizing the bar lists every pack: only pay for it when a bar is drawn.
        total = g.repo.tamanho_pacotes()[1] if em_terminal(args) else 0
        with barra(total, "verificando", args) as prog:
            rel = g.verificar_integridade(
                completa=args.completa,
                modelo=args.modelo,
                progresso=prog,
                versao=args.versao,
            )
    imprimir(args, rel, lambda: _texto(rel))
    return 0 if rel["ok"] else 9


def _texto(rel: dict[str, Any]) -> str:
    texto = _texto_integridade(rel)
    texto += "".join(f"\nAviso: {seguro(a)}" for a in rel.get("avisos", ()))
    if rel.get("validacao_falhou"):
        texto += (
            "\nAviso: versões guardadas com validação do modelo falha: "
            + ", ".join(seguro(v) for v in rel["validacao_falhou"])
        )
    return texto


def _texto_integridade(rel: dict[str, Any]) -> str:
    modo = "completa" if rel["completa"] else "padrão"
    if rel["ok"]:
        return (
            f"Integridade OK (verificação {modo}): "
            f"{plural(rel['versoes_verificadas'], 'versão', 'versões')}, "
            f"{plural(rel['objetos_verificados'], 'bloco')}, {rel['duracao_s']}s"
        )
    linhas = [f"PROBLEMAS ENCONTRADOS (verificação {modo}): {len(rel['problemas'])}"]
    linhas += [
        f"  - {seguro(p['modelo'])} {seguro(p['versao'])}: {seguro(p['mensagem'])}"
        for p in rel["problemas"]
    ]
    afetadas = ", ".join(seguro(v) for v in rel["versoes_com_problema"])
    linhas.append(f"Versões afetadas: {afetadas}")
    linhas.append("As demais versões seguem restauráveis.")
    return "\n".join(linhas)


def _texto_arquivo(r: dict[str, Any]) -> str:
    linhas = [f"Arquivo: {seguro(r['arquivo'])} ({tamanho_legivel(r.get('tamanho'))})"]
    if r.get("sha256"):
        linhas.append(f"SHA-256: {r['sha256']}")
    corresp = r.get("versao_correspondente")
    linhas.append(
        f"Corresponde à versão guardada: {corresp}"
        if corresp
        else "Não corresponde a nenhuma versão guardada"
    )
    val = r.get("validacao")
    if val:
        estado = "OK" if val["valido"] else "FALHOU"
        linhas.append(f"Validação ({val.get('formato')}): {estado}")
    linhas += [f"Problema: {seguro(p)}" for p in r["problemas"]]
    linhas += [f"Aviso: {seguro(a)}" for a in r.get("avisos", [])]
    return "\n".join(linhas)
