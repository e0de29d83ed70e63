"""`iniciar`: run the backup daemon (scheduler + real-time watcher)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..base.tempo import hora_local
from ..texto import seguro
from .comum import tamanho_legivel


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "iniciar",
        parents=[comum],
        help="inicia o backup automático (agendamento e monitoramento)",
        description="Inicia o daemon de backup automático: varre os diretórios "
        "monitorados no início e nos horários configurados, e faz backup de cada "
        "modelo assim que termina de ser salvo. Pare com 'parar', SIGTERM ou Ctrl+C: "
        "o backup em andamento é concluído antes de sair. Também grava o relatório "
        "diário (relatorios.horario) e serve o painel e /metrics "
        "(relatorios.painel_porta).",
    )
    p.add_argument(
        "--daemon",
        action="store_true",
        help="roda em segundo plano (PID em <base>/daemon.pid, logs em "
        "<base>/logs/backup_system.log)",
    )
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    # lazy: startup time (docs/DESEMPENHO.md); the daemon loads watchdog
    from ..automacao.daemon import (
        carregar_config,
        executar_primeiro_plano,
        iniciar_segundo_plano,
    )

    cfg = carregar_config(args.config, args.base)
    base = cfg["diretorios"]["base"]
    avisar_pastas_ausentes(cfg)
    if args.daemon:
        pid = iniciar_segundo_plano(cfg, extras=_extras)
        if args.json:
            print(json.dumps({"pid": pid, "base": base}, ensure_ascii=False))
        else:
            print(
                f"Daemon iniciado em segundo plano (pid {pid}); repositório "
                f"{seguro(base)}.\n"
                f"Pare com: inicializar_backup.py parar"
                + (f" --config {seguro(args.config)}" if args.config else "")
            )
        return 0

    # The "running" line comes first (scripts read it); events of the first
    # sweep, which runs before it, wait and follow it.
    trava = threading.Lock()
    adiadas: list[tuple[str, bool]] = []
    ja_pronto = False

    def pronto() -> None:
        nonlocal ja_pronto
        with trava:
            if args.json:
                print(
                    json.dumps({"pid": os.getpid(), "base": base}, ensure_ascii=False),
                    flush=True,
                )
            else:
                print(
                    f"Backup automático em execução (repositório {seguro(base)}); "
                    "Ctrl+C para parar.",
                    flush=True,
                )
            ja_pronto = True
            for linha, erro in adiadas:
                print(linha, file=sys.stderr if erro else sys.stdout, flush=True)
            adiadas.clear()

    def notificar(evento: str, dados: dict[str, Any]) -> None:
        linha = _linha_evento(evento, dados, args.json)
        if linha:
            erro = evento != "backup_criado" and not args.json
            with trava:
                if not ja_pronto:
                    adiadas.append((linha, erro))
                    return
                print(linha, file=sys.stderr if erro else sys.stdout, flush=True)

    return executar_primeiro_plano(
        cfg, pronto=pronto, notificar=notificar, extras=_extras
    )


def avisar_pastas_ausentes(cfg: dict[str, Any]) -> None:
    """Say on the terminal which monitored folders do not exist (yet)."""
    auto = cfg["backup_automatico"]
    if not auto["habilitado"]:
        return
    for pasta in auto["diretorios_monitorados"]:
        if not Path(pasta).is_dir():
            print(
                f"aviso: pasta monitorada não existe: {seguro(pasta)}; será "
                "monitorada assim que for criada",
                file=sys.stderr,
                flush=True,
            )


def _linha_evento(evento: str, dados: dict[str, Any], em_json: bool) -> str | None:
    """One line per backup made, per failure and per low-disk warning."""
    if evento not in ("backup_criado", "backup_falhou", "espaco_baixo"):
        return None
    if em_json:
        return json.dumps({"evento": evento, **dados}, ensure_ascii=False, default=str)
    quando = hora_local(datetime.now(timezone.utc))
    if evento == "backup_criado":
        return (
            f"{quando}  backup criado: {seguro(dados['modelo'])} -> "
            f"{dados['versao']} ({dados.get('origem')}: "
            f"{seguro(dados.get('caminho'))})"
        )
    if evento == "backup_falhou":
        return (
            f"{quando}  backup falhou: {seguro(dados.get('caminho'))}: "
            f"{seguro(dados.get('erro'))}"
        )
    return (
        f"aviso: espaço em disco baixo em {seguro(dados.get('base'))}: "
        f"{tamanho_legivel(dados.get('livre'))} livres (aviso abaixo de "
        f"{dados.get('aviso_mb')} MB)"
    )


def _extras(g: Any) -> Any:
    """The daemon's report job and dashboard (reports load only for the daemon)."""
    from ..relatorios import extras_do_daemon

    return extras_do_daemon(g)
