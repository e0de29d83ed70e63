"""`acesso`: access control that the storage enforces (IAM policies per role)."""

from __future__ import annotations

import argparse
import json


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "acesso",
        help="controle de acesso imposto pelo armazenamento (políticas IAM)",
        description="Mostra o que o próprio armazenamento impõe a cada papel, para "
        "além da checagem de usuários desta ferramenta (docs/SEGURANCA.md).",
    )
    acoes = p.add_subparsers(dest="acao", metavar="AÇÃO", required=True)
    a = acoes.add_parser(
        "politica-iam",
        parents=[comum],
        help="imprime a política IAM de um papel para um repositório no S3",
        description="Imprime o documento de política IAM (JSON) de um papel para "
        "s3://BUCKET/PREFIXO: leitor (listar, verificar, restaurar), operador "
        "(backup, sem apagar nem sobrescrever versões) ou admin (tudo, inclusive "
        "limpeza, fixar e chaves). Veja docs/S3.md.",
    )
    a.add_argument("--papel", required=True, choices=["leitor", "operador", "admin"])
    a.add_argument("--bucket", required=True, metavar="NOME")
    a.add_argument(
        "--prefixo",
        default="",
        metavar="PREFIXO",
        help="prefixo do repositório no bucket (integracao.cloud_storage.prefixo)",
    )
    a.set_defaults(executar=_politica_iam)


def _politica_iam(args: argparse.Namespace) -> int:
    # lazy: startup time (docs/DESEMPENHO.md)
    from ..seguranca.politica_iam import politica_iam

    print(
        json.dumps(
            politica_iam(args.papel, args.bucket, args.prefixo),
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0
