"""Command line: `python inicializar_backup.py <subcomando>`.

One module per subcommand (`registrar` + `executar`); this file builds the parser
and is the one place that turns errors into messages and exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from ..erros import CODIGOS_SAIDA, ErroBackup

SUBCOMANDOS = [
    "iniciar", "parar", "backup", "listar", "restaurar", "verificar", "comparar",
    "status", "config", "limpeza", "fixar", "relatorio", "painel",
]  # fmt: skip

# argparse looks its messages up through the module-level gettext `_` when it
# builds a parser or reports an error; swapping it gives Portuguese messages
# without shipping a compiled catalog.
_TRADUCOES = {
    "usage: ": "uso: ",
    "positional arguments": "argumentos posicionais",
    "options": "opções",
    "show this help message and exit": "mostra esta ajuda e sai",
    "show program's version number and exit": "mostra a versão e sai",
    "%(prog)s: error: %(message)s\n": "%(prog)s: erro: %(message)s\n",
    "the following arguments are required: %s": "argumentos obrigatórios ausentes: %s",
    "unrecognized arguments: %s": "argumentos não reconhecidos: %s",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "opção inválida: %(value)r (escolha entre %(choices)s)"
    ),
    "expected one argument": "esperado um valor",
    "invalid %(type)s value: %(value)r": "valor inválido para %(type)s: %(value)r",
    "argument %(argument_name)s: %(message)s": (
        "argumento %(argument_name)s: %(message)s"
    ),
    "ambiguous option: %(option)s could match %(matches)s": (
        "opção ambígua: %(option)s pode ser %(matches)s"
    ),
}
setattr(argparse, "_", lambda texto: _TRADUCOES.get(texto, texto))  # noqa: B010

_EPILOGO = "códigos de saída:\n" + "\n".join(
    f"  {codigo:>3}  {texto}" for codigo, texto in CODIGOS_SAIDA.items()
)


def criar_parser() -> argparse.ArgumentParser:
    comum = argparse.ArgumentParser(add_help=False)
    comum.add_argument(
        "--config",
        metavar="ARQUIVO",
        help="arquivo de configuração JSON (padrão: ./config_backup.json, "
        "se existir; senão os padrões)",
    )
    comum.add_argument(
        "--base",
        metavar="PASTA",
        help="pasta do repositório (sobrepõe diretorios.base)",
    )
    comum.add_argument(
        "--json", action="store_true", help="saída em JSON, para scripts"
    )
    parser = argparse.ArgumentParser(
        prog="inicializar_backup.py",
        description="Backup e versionamento semântico dos modelos de ML do Lotofácil.",
        epilog=_EPILOGO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from .. import __version__

    parser.add_argument("--versao", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="subcomando", metavar="SUBCOMANDO", required=True)
    for nome in SUBCOMANDOS:
        modulo = importlib.import_module(f".{nome}", __name__)
        modulo.registrar(sub, comum)
    for subparser in sub.choices.values():
        subparser.epilog = _EPILOGO
        subparser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = criar_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.executar(args))
    except ErroBackup as e:
        _erro(args, str(e), e.codigo_saida)
        return e.codigo_saida
    except KeyboardInterrupt:
        _erro(
            args,
            "interrompido pelo usuário; nada foi perdido do que já estava guardado",
            130,
        )
        return 130
    except BrokenPipeError:
        return 0


def _erro(args: argparse.Namespace, mensagem: str, codigo: int) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"erro": mensagem, "codigo": codigo}, ensure_ascii=False))
    print(f"erro: {mensagem}", file=sys.stderr)


def executar_console() -> None:
    """Console-script entry point."""
    sys.exit(main())
