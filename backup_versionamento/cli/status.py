"""`status`: what the repository holds and how much it saves."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..base.tempo import hora_local
from ..texto import plural, seguro
from .comum import gerenciador, imprimir, saida_danificadas, tamanho_legivel


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser("status", parents=[comum], help="mostra o estado do sistema")
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    from ..automacao import ler_estado_daemon  # lazy: startup time (docs/DESEMPENHO.md)

    with gerenciador(args) as g:
        st = g.status()
        st["daemon"] = ler_estado_daemon(g.pasta_estado)
    imprimir(args, st, lambda: _texto(st))
    return saida_danificadas(st["versoes_danificadas"], "status")


def _texto(st: dict[str, Any]) -> str:
    ultimo = st["ultimo_backup"]
    razao = st["razao_economia"]
    linhas = [
        f"Repositório:        {seguro(st['base'])} (formato {st['formato']})",
        f"Modelos / versões:  {st['modelos']} / {st['versoes']}"
        + (
            f" (+ {len(st['versoes_danificadas'])} DANIFICADA(S): rode verificar)"
            if st["versoes_danificadas"]
            else ""
        ),
        f"Tamanho lógico:     {tamanho_legivel(st['tamanho_logico'])}",
        f"Armazenado:         {tamanho_legivel(st['tamanho_armazenado'])} em "
        f"{plural(st['pacotes'], 'pacote')}"
        + (f" (economia {razao}x)" if razao else ""),
        "Último backup:      "
        + (
            f"{seguro(ultimo['modelo'])} {ultimo['versao']} em "
            f"{hora_local(ultimo['criado_em'])}"
            if ultimo
            else "nenhum"
        ),
        "Espaço livre:       "
        + (
            tamanho_legivel(st["espaco_livre"])
            if st["espaco_livre"] is not None
            else "não se aplica (armazenamento de objetos)"
        )
        + (
            f" (BAIXO: abaixo do aviso de {st['aviso_espaco_mb']} MB; libere espaço "
            "ou rode `inicializar_backup.py limpeza`)"
            if st.get("espaco_baixo")
            else ""
        ),
        "Aliases:            "
        + (
            ", ".join(
                f"{seguro(m)} @{a}={v}"
                for m, por_alias in st.get("aliases", {}).items()
                for a, v in por_alias.items()
            )
            or "nenhum"
        ),
        f"Log:                {seguro(st['log'])}",
        *_texto_travas(st),
        _texto_daemon(st["daemon"]),
        *_texto_integracoes(st.get("integracoes") or {}),
    ]
    return "\n".join(linhas)


def _texto_travas(st: dict[str, Any]) -> list[str]:
    """The collection lock and the backups' leases held in the repository."""
    from ..armazenamento.trava_remota import descrever_trava  # lazy: startup time

    linhas = []
    trava = st.get("trava_limpeza")
    if trava:
        estado = "EXPIRADA" if trava["expirada"] else "em andamento"
        linhas.append(f"Limpeza:            {estado}, {seguro(descrever_trava(trava))}")
    for c in st.get("concessoes") or []:
        estado = "EXPIRADA" if c["expirada"] else "em andamento"
        linhas.append(f"Backup:             {estado}, {seguro(descrever_trava(c))}")
    if any(d["expirada"] for d in [*([trava] if trava else []), *st["concessoes"]]):
        linhas.append(
            "  trava ou concessão expirada: o processo parou sem terminar e a "
            "limpeza não roda; confira e remova com "
            "`inicializar_backup.py limpeza --quebrar-trava`"
        )
    return linhas


def _quando(registro: dict[str, Any] | None) -> str:
    """'<local time with zone>: <message>' of a health record."""
    if not registro:
        return "nenhum"
    from ..base.tempo import ler_momento  # lazy: startup time (docs/DESEMPENHO.md)

    try:
        em = hora_local(ler_momento(registro["em"]))
    except (KeyError, ValueError):
        em = "?"
    return f"{em}: {registro.get('mensagem', '')}"


def _recente(saude: dict[str, Any]) -> bool:
    """Whether the last error happened after the last success."""
    erro = saude.get("ultimo_erro") or {}
    ok = saude.get("ultimo_sucesso") or {}
    return bool(erro) and str(erro.get("em")) > str(ok.get("em", ""))


def _texto_integracoes(integracoes: dict[str, Any]) -> list[str]:
    linhas = []
    git = integracoes.get("git")
    if git is not None:
        estado = "AVISO" if _recente(git) else "ok"
        linhas += [
            f"Integração git:     {estado}, branch {git['branch']}"
            + (f" em {git['repositorio']}" if git.get("repositorio") else ""),
            f"  último sucesso:   {_quando(git.get('ultimo_sucesso'))}",
            f"  último erro:      {_quando(git.get('ultimo_erro'))}",
        ]
    web = integracoes.get("webhook")
    if web is not None:
        estado = "AVISO" if _recente(web) or web["falhas_definitivas"] else "ok"
        linhas += [
            f"Webhooks:           {estado}, {len(web['destinos'])} destino(s), "
            f"{web['pendentes']} entrega(s) pendente(s), "
            f"{web['falhas_definitivas']} desistência(s)",
            f"  último sucesso:   {_quando(web.get('ultimo_sucesso'))}",
            f"  último erro:      {_quando(web.get('ultimo_erro'))}",
        ]
    espelho = integracoes.get("espelho")
    if espelho is not None:
        estado = "AVISO" if _recente(espelho) else "ok"
        linhas += [
            f"Espelho S3:         {estado}, {seguro(espelho['destino'])}",
            f"  último sucesso:   {_quando(espelho.get('ultimo_sucesso'))}",
            f"  último erro:      {_quando(espelho.get('ultimo_erro'))}",
        ]
    return linhas


def _texto_daemon(d: dict[str, Any]) -> str:
    if not d.get("rodando"):
        return "Daemon:             parado (inicie com `inicializar_backup.py iniciar`)"
    linhas = [
        f"Daemon:             rodando (pid {d.get('pid')}, desde "
        f"{hora_local(d.get('iniciado_em'))})"
    ]
    if d.get("proxima_execucao"):
        linhas.append(f"Próxima varredura:  {hora_local(d['proxima_execucao'])}")
    ultimo = d.get("ultimo_backup")
    if ultimo:
        linhas.append(
            f"Último automático:  {seguro(ultimo.get('modelo'))} "
            f"{seguro(ultimo.get('versao'))} em {hora_local(ultimo.get('em'))}"
        )
    falha = d.get("ultima_falha")
    if falha:
        linhas.append(
            f"Última falha:       {seguro(falha.get('erro'))} em "
            f"{hora_local(falha.get('em'))} "
            f"({d.get('falhas', 0)} no total)"
        )
    pastas = d.get("diretorios_monitorados") or []
    if pastas:
        linhas.append(f"Pastas monitoradas: {', '.join(seguro(p) for p in pastas)}")
    for pasta in pastas:  # checked now: the state file may be older than a mkdir
        if not Path(pasta).is_dir():
            linhas.append(
                f"Aviso:              pasta monitorada não existe: {seguro(pasta)} "
                "(monitorada assim que for criada)"
            )
    return "\n".join(linhas)
