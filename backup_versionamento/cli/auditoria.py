"""`auditoria verificar`: check the tamper-evident audit log."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..texto import seguro
from .comum import gerenciador_autorizado, imprimir

# Same code as any other integrity failure.
SAIDA_ADULTERADO = 9
# Auditing off and no log to check: the configuration, not the log, is the answer;
# a script asking "is the audit log intact?" must not read "yes" (exit 0).
SAIDA_DESLIGADA = 3
_COMO_LIGAR = (
    "seguranca.controle_acesso.habilitado e seguranca.controle_acesso.log_acessos"
)


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "auditoria",
        help="confere o log de auditoria (logs/auditoria.jsonl)",
        description="Confere o encadeamento de hashes e a autenticação do log de "
        "auditoria e diz qual é a primeira entrada editada, removida, reordenada ou "
        "cortada do fim. Sai com código 9 se achar adulteração e 3 se a auditoria "
        "está desligada e não há log.",
    )
    acoes = p.add_subparsers(dest="acao", metavar="AÇÃO", required=True)
    a = acoes.add_parser("verificar", parents=[comum], help="confere o log")
    a.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    # lazy: startup time (docs/DESEMPENHO.md)
    from ..armazenamento.sidecar import Sidecar
    from ..seguranca.auditoria import verificar_log

    with gerenciador_autorizado(args, "consulta") as g:
        rel = verificar_log(g.pasta_auditoria, g.seguranca.autenticador_auditoria())
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
        ligada = g.seguranca.auditoria is not None
    rel["ligada"] = ligada
    existe = Path(rel["arquivo"]).exists()
    if not ligada and not existe:
        rel.update(ok=False, problema=f"auditoria desligada; ligue {_COMO_LIGAR}")

    def texto() -> str:
        if not ligada and not existe:
            return (
                "Auditoria desligada: não há log de auditoria para conferir "
                f"({seguro(rel['arquivo'])}). Para registrar as ações, ligue "
                f"{_COMO_LIGAR} na configuração"
            )
        aviso = (
            ""
            if ligada
            else f"\naviso: auditoria desligada agora; ações novas não são "
            f"registradas ({_COMO_LIGAR})"
        )
        if rel["ok"]:
            return (
                f"Log de auditoria íntegro: {rel['entradas']} entrada(s), "
                f"autenticação {rel['autenticacao']} ({seguro(rel['arquivo'])})" + aviso
            )
        return f"Log de auditoria ADULTERADO: {seguro(rel['problema'])}" + aviso

    imprimir(args, rel, texto)
    if not ligada and not existe:
        return SAIDA_DESLIGADA
    return 0 if rel["ok"] else SAIDA_ADULTERADO
