"""Helpers shared by the subcommands: building the manager, output, progress."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..erros import ErroIntegridade, ErroRepositorio
from ..texto import seguro
from ..texto import tamanho_legivel as tamanho_legivel  # used by the subcommands

if TYPE_CHECKING:
    from tqdm import tqdm

    from ..gerenciador import GerenciadorBackupVersionamento

T = TypeVar("T")

# Where people keep repositories besides the configured base: the CLI's default and
# the folder of the spec's API example, GerenciadorBackupVersionamento("./backups").
LUGARES_CONHECIDOS = ("backups_modelos", "backups")

# Files smaller than this finish before a bar would help.
LIMIAR_BARRA = 8 * 1024 * 1024


def gerenciador(
    args: argparse.Namespace, *, criar: bool = False
) -> GerenciadorBackupVersionamento:
    # lazy: startup time (docs/DESEMPENHO.md); building the parser needs none of it
    from ..gerenciador import GerenciadorBackupVersionamento

    try:
        return GerenciadorBackupVersionamento(
            args.base, args.config, criar_repositorio=criar
        )
    except ErroRepositorio as e:
        dica = _dica_outro_repositorio(args)
        if dica:
            raise ErroRepositorio(f"{e}\n{dica}") from None
        raise


def _dica_outro_repositorio(args: argparse.Namespace) -> str | None:
    """Where a repository is when the configured base has none but a known place has."""
    from .. import config as configuracao  # lazy: startup time (docs/DESEMPENHO.md)
    from ..base.endereco import e_local

    endereco = configuracao.carregar(args.config, base=args.base)["diretorios"]["base"]
    if not e_local(endereco):
        return None  # the store's own error says what is wrong
    base = Path(endereco)
    if (base / "repositorio.json").exists():
        return None  # there is one; the error is about something else
    for nome in LUGARES_CONHECIDOS:
        candidato = Path.cwd() / nome
        if (
            candidato.resolve() != base.resolve()
            and (candidato / "repositorio.json").is_file()
        ):
            rel = f"./{nome}"
            return (
                f"Há um repositório em {candidato}: aponte para ele com --base {rel} "
                f'ou com "diretorios": {{"base": "{rel}"}} no config_backup.json.'
            )
    return None


def saida_danificadas(danificadas: list[dict[str, str]], resposta: str) -> int:
    """After the answer was printed: 0, or 9 with the damaged versions on stderr.

    The answer on stdout keeps its shape (also with --json); the exit code says
    it is incomplete.
    """
    if not danificadas:
        return 0
    itens = "; ".join(
        f"{d['modelo']} {d['versao']} ({d['erro']})" for d in danificadas[:5]
    )
    mais = f" e mais {len(danificadas) - 5}" if len(danificadas) > 5 else ""
    print(
        f"erro: {resposta} incompleto: {len(danificadas)} versão(ões) "
        f"danificada(s) ficaram de fora: {seguro(itens)}{mais}; rode "
        "`inicializar_backup.py verificar` para o diagnóstico",
        file=sys.stderr,
    )
    return ErroIntegridade.codigo_saida


def imprimir(args: argparse.Namespace, dados: Any, humano: Callable[[], str]) -> None:
    """JSON for scripts with --json, readable text otherwise."""
    if args.json:
        print(json.dumps(dados, ensure_ascii=False, indent=2, default=str))
    else:
        texto = humano()
        if texto:
            print(texto)


def em_terminal(args: argparse.Namespace) -> bool:
    """Whether a person watches stderr (so a progress bar is worth its cost)."""
    return not args.json and sys.stderr.isatty()


@contextmanager
def barra(
    total: int, descricao: str, args: argparse.Namespace
) -> Iterator[Callable[[int], None] | None]:
    """A tqdm bar on a terminal for long work; nothing otherwise."""
    if not em_terminal(args) or total < LIMIAR_BARRA:
        yield None
        return
    with nova_barra(total, descricao) as t:
        yield t.update


def nova_barra(
    total: int, descricao: str, unidade: str = "B", em_bytes: bool = True
) -> tqdm[Any]:
    """A tqdm bar on stderr that goes away when done (callers check the terminal)."""
    from tqdm import tqdm

    # A pty may report a 0x0 size (`script`, some tmux panes), and tqdm then
    # draws nothing: fall back to 80x24.
    tela = shutil.get_terminal_size((80, 24))
    return tqdm(
        total=total,
        desc=descricao,
        unit=unidade,
        unit_scale=em_bytes,
        unit_divisor=1024,
        file=sys.stderr,
        leave=False,
        ncols=tela.columns or 80,
        nrows=tela.lines or 24,
    )


@contextmanager
def gerenciador_autorizado(
    args: argparse.Namespace, papel: str
) -> Iterator[GerenciadorBackupVersionamento]:
    """The manager, with `papel` checked first: for the commands that reach past
    the facade's methods (keys, audit), which check their own roles."""
    with gerenciador(args) as g:
        g.seguranca.autorizar(papel, g.eventos)
        yield g


def responder(
    args: argparse.Namespace,
    consulta: Callable[[GerenciadorBackupVersionamento], T],
    texto: Callable[[T], str],
) -> int:
    """One call on the manager, its answer printed (JSON or text); exit code 0."""
    with gerenciador(args) as g:
        dados = consulta(g)
    imprimir(args, dados, lambda: texto(dados))
    return 0
