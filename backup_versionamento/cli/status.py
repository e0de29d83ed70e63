"""`status`: what the repository holds and how much it saves."""

from __future__ import annotations

import argparse
from typing import Any

from ..automacao import ler_estado_daemon
from ..texto import plural, seguro
from .comum import gerenciador, imprimir, tamanho_legivel


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser("status", parents=[comum], help="mostra o estado do sistema")
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    with gerenciador(args) as g:
        st = g.status()
        st["daemon"] = ler_estado_daemon(g.base)
    imprimir(args, st, lambda: _texto(st))
    return 0


def _texto(st: dict[str, Any]) -> str:
    ultimo = st["ultimo_backup"]
    razao = st["razao_economia"]
    linhas = [
        f"Repositório:        {seguro(st['base'])} (formato {st['formato']})",
        f"Modelos / versões:  {st['modelos']} / {st['versoes']}",
        f"Tamanho lógico:     {tamanho_legivel(st['tamanho_logico'])}",
        f"Armazenado:         {tamanho_legivel(st['tamanho_armazenado'])} em "
        f"{plural(st['objetos'], 'objeto')}"
        + (f" (economia {razao}x)" if razao else ""),
        "Último backup:      "
        + (
            f"{seguro(ultimo['modelo'])} {ultimo['versao']} em "
            f"{ultimo['criado_em'][:19].replace('T', ' ')} UTC"
            if ultimo
            else "nenhum"
        ),
        f"Espaço livre:       {tamanho_legivel(st['espaco_livre'])}",
        f"Log:                {seguro(st['log'])}",
        _texto_daemon(st["daemon"]),
    ]
    return "\n".join(linhas)


def _texto_daemon(d: dict[str, Any]) -> str:
    if not d.get("rodando"):
        return "Daemon:             parado (inicie com `inicializar_backup.py iniciar`)"
    linhas = [
        f"Daemon:             rodando (pid {d.get('pid')}, desde "
        f"{str(d.get('iniciado_em', '?'))[:19].replace('T', ' ')})"
    ]
    if d.get("proxima_execucao"):
        linhas.append(f"Próxima varredura:  {str(d['proxima_execucao'])[:19]}")
    ultimo = d.get("ultimo_backup")
    if ultimo:
        linhas.append(
            f"Último automático:  {seguro(ultimo.get('modelo'))} "
            f"{seguro(ultimo.get('versao'))}"
        )
    falha = d.get("ultima_falha")
    if falha:
        linhas.append(
            f"Última falha:       {seguro(falha.get('erro'))} "
            f"({d.get('falhas', 0)} no total)"
        )
    pastas = d.get("diretorios_monitorados") or []
    if pastas:
        linhas.append(f"Pastas monitoradas: {', '.join(seguro(p) for p in pastas)}")
    return "\n".join(linhas)
