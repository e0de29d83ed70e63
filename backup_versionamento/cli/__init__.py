"""Command line: `python inicializar_backup.py <subcomando>`.

One module per subcommand (`registrar` + `executar`); this file builds the parser
and is the one place that turns errors into messages and exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from ..base.escrita import erro_de_os
from ..erros import CODIGOS_SAIDA, ErroBackup
from ..texto import seguro

# Exit codes of an interrupted command (documented in CODIGOS_SAIDA).
SAIDA_CTRL_C = 130
SAIDA_SIGTERM = 143


class Encerrado(KeyboardInterrupt):
    """SIGTERM raised as an exception, so every cleanup that Ctrl+C runs also runs."""


def _ao_sigterm(_numero: int, _quadro: FrameType | None) -> None:
    # A second SIGTERM during the cleanup ends the process at once.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Encerrado()


def instalar_sigterm() -> Any:
    """Make SIGTERM (timeout, systemd, CI) behave like Ctrl+C; returns the old handler.

    Only the main thread may set handlers: elsewhere (an embedding program) nothing
    changes and None is returned.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _ao_sigterm)


SUBCOMANDOS = [
    "iniciar", "parar", "backup", "listar", "restaurar", "verificar", "comparar",
    "status", "config", "limpeza", "fixar", "migrar", "sincronizar", "relatorio",
    "painel", "chaves", "auditoria", "acesso", "alias",
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


def criar_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or only of the one `argv` starts with.

    lazy: startup time (docs/DESEMPENHO.md). A command line that starts with a
    subcommand is parsed by that subcommand's parser alone, so only its module is
    imported; anything else (--help, --versao, a typo) gets the full parser.
    """
    nomes = SUBCOMANDOS
    if argv and argv[0] in SUBCOMANDOS:
        nomes = [argv[0]]
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
        description="Backup e versionamento semântico dos modelos de ML do "
        "Lotofácil.\nRepositório criado por uma versão anterior (formato 1)? "
        "Converta-o uma vez com `migrar`.",
        epilog=_EPILOGO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from .. import __version__

    parser.add_argument(
        "--versao",
        action="version",
        version=f"%(prog)s {__version__}",
        help="mostra a versão e sai",
    )
    sub = parser.add_subparsers(dest="subcomando", metavar="SUBCOMANDO", required=True)
    for nome in nomes:
        modulo = importlib.import_module(f".{nome}", __name__)
        modulo.registrar(sub, comum)
    for subparser in sub.choices.values():
        subparser.epilog = _EPILOGO
        subparser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    anterior = instalar_sigterm()
    try:
        return _main(argv)
    finally:
        if anterior is not None:
            signal.signal(signal.SIGTERM, anterior)


def _main(argv: Sequence[str] | None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = criar_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.executar(args))
    except ErroBackup as e:
        _erro(args, str(e), e.codigo_saida)
        return e.codigo_saida
    except Encerrado:
        _erro(
            args,
            "encerrado por SIGTERM; temporários removidos, nada foi perdido do que "
            "já estava guardado",
            SAIDA_SIGTERM,
        )
        return SAIDA_SIGTERM
    except KeyboardInterrupt:
        _erro(
            args,
            "interrompido pelo usuário; nada foi perdido do que já estava guardado",
            SAIDA_CTRL_C,
        )
        return SAIDA_CTRL_C
    except BrokenPipeError:
        return 0
    except OSError as e:
        # Last line of defence: an OS error that no layer translated.
        erro = erro_de_os(e)
        _erro(args, str(erro), erro.codigo_saida)
        return erro.codigo_saida


def _erro(args: argparse.Namespace, mensagem: str, codigo: int) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"erro": mensagem, "codigo": codigo}, ensure_ascii=False))
    # Line by line: the message's own line breaks stay, control characters that
    # came from a user string (a path, a name) are shown escaped.
    linhas = "\n".join(seguro(linha) for linha in mensagem.split("\n"))
    print(f"erro: {linhas}", file=sys.stderr)


def executar_console() -> None:
    """Console-script entry point."""
    sys.exit(main())
