"""`auditoria verificar`: check the tamper-evident audit log."""

from __future__ import annotations

import argparse

from ..texto import seguro
from .comum import gerenciador, imprimir

# Same code as any other integrity failure.
SAIDA_ADULTERADO = 9


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "auditoria",
        help="confere o log de auditoria (logs/auditoria.jsonl)",
        description="Confere o encadeamento de hashes e a autenticação do log de "
        "auditoria e diz qual é a primeira entrada editada, removida, reordenada ou "
        "cortada do fim. Sai com código 9 se achar adulteração.",
    )
    acoes = p.add_subparsers(dest="acao", metavar="AÇÃO", required=True)
    a = acoes.add_parser("verificar", parents=[comum], help="confere o log")
    a.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    # lazy: startup time (docs/DESEMPENHO.md)
    from ..armazenamento.sidecar import Sidecar
    from ..seguranca.auditoria import verificar_log

    with gerenciador(args) as g:
        g.seguranca.autorizar("consulta", g.eventos)
        rel = verificar_log(g.pasta_logs, g.seguranca.autenticador_auditoria())
        log_auditoria = g.seguranca.auditoria
        if log_auditoria is not None and log_auditoria.testemunha is not None:
            backend = g.backend
            falha = log_auditoria.conferir_testemunhas(
                lambda prefixo: [i.chave for i in backend.listar(prefixo)],
                backend.ler,
            )
            if falha and rel["ok"]:
                rel.update(ok=False, problema=falha)
        if g.seguranca.auditoria is not None:
            # The versions' anchors: a log dropped whole, or put back older.
            sidecars = [
                sc for _, _, sc in g.repo.iterar_sidecars() if isinstance(sc, Sidecar)
            ]
            rel["ancoras"] = g.seguranca.auditoria.conferir_ancoras(sidecars)
            if rel["ancoras"] and rel["ok"]:
                p = rel["ancoras"][0]
                rel.update(
                    ok=False,
                    problema=f"{p['modelo']} {p['versao']}: {p['mensagem']}"
                    + (
                        f" (e mais {len(rel['ancoras']) - 1} versão(ões))"
                        if len(rel["ancoras"]) > 1
                        else ""
                    ),
                )

    def texto() -> str:
        if rel["ok"]:
            return (
                f"Log de auditoria íntegro: {rel['entradas']} entrada(s), "
                f"autenticação {rel['autenticacao']} ({seguro(rel['arquivo'])})"
            )
        return f"Log de auditoria ADULTERADO: {seguro(rel['problema'])}"

    imprimir(args, rel, texto)
    return 0 if rel["ok"] else SAIDA_ADULTERADO
