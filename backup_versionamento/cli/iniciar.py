"""`iniciar`: run the backup daemon (scheduler + real-time watcher)."""

from __future__ import annotations

import argparse
import json
import os

from ..automacao.daemon import (
    carregar_config,
    executar_primeiro_plano,
    iniciar_segundo_plano,
)
from ..relatorios import extras_do_daemon


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
    cfg = carregar_config(args.config, args.base)
    base = cfg["diretorios"]["base"]
    if args.daemon:
        pid = iniciar_segundo_plano(cfg, extras=extras_do_daemon)
        if args.json:
            print(json.dumps({"pid": pid, "base": base}, ensure_ascii=False))
        else:
            print(
                f"Daemon iniciado em segundo plano (pid {pid}); repositório {base}.\n"
                f"Pare com: inicializar_backup.py parar"
                + (f" --config {args.config}" if args.config else "")
            )
        return 0

    def pronto() -> None:
        if args.json:
            print(
                json.dumps({"pid": os.getpid(), "base": base}, ensure_ascii=False),
                flush=True,
            )
        else:
            print(
                f"Backup automático em execução (repositório {base}); Ctrl+C para "
                "parar.",
                flush=True,
            )

    return executar_primeiro_plano(cfg, pronto=pronto, extras=extras_do_daemon)
