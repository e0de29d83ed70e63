"""`relatorio`: write the daily report (JSON, HTML and PDF)."""

from __future__ import annotations

import argparse

from ..relatorios import FORMATOS, gerar_relatorio
from .comum import gerenciador, imprimir, saida_danificadas


def _formatos(texto: str) -> list[str]:
    itens = [f.strip().lower() for f in texto.split(",") if f.strip()]
    ruins = [f for f in itens if f not in FORMATOS]
    if ruins or not itens:
        raise argparse.ArgumentTypeError(
            f"formato(s) {', '.join(ruins) or '(nenhum)'} desconhecido(s); use uma "
            f"lista separada por vírgulas de: {', '.join(FORMATOS)}"
        )
    return itens


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "relatorio",
        parents=[comum],
        help="gera o relatório diário (JSON, HTML e PDF)",
        description="Gera relatorio_diario.json, .html e .pdf: repositório "
        "(deduplicação, compressão, espaço), crescimento e projeção, atividade, "
        "histórico e métricas de cada modelo, validação e o que a próxima limpeza "
        "removeria. O HTML e o PDF são feitos só a partir do JSON. O daemon gera o "
        "mesmo relatório todo dia em relatorios.horario.",
    )
    p.add_argument(
        "--saida",
        metavar="PASTA",
        help="pasta dos arquivos (padrão: <base>/relatorios)",
    )
    p.add_argument(
        "--formatos",
        type=_formatos,
        default=list(FORMATOS),
        metavar="LISTA",
        help="quais gerar, separados por vírgula (padrão: json,html,pdf)",
    )
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    with gerenciador(args) as g:
        arquivos = gerar_relatorio(g, args.saida or None, formatos=args.formatos)
        danificadas = g.versoes_danificadas()
    imprimir(
        args,
        {"arquivos": arquivos},
        lambda: (
            "Relatório gravado:\n"
            + "\n".join(f"  {f.upper():<5} {c}" for f, c in arquivos.items())
        ),
    )
    return saida_danificadas(danificadas, "relatório gravado, mas")
