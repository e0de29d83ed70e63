"""The credentials that open a repository's master key: the key file and the
passphrase (from the environment or a prompt on a terminal).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..erros import ErroCriptografia
from ..registro import NOME_LOGGER

# lazy: startup time (docs/DESEMPENHO.md); `chaves` brings `cryptography` in.
if TYPE_CHECKING:
    from .chaves import Credencial

log = logging.getLogger(NOME_LOGGER)


def credenciais(arquivo_chave: Path, perguntar: bool = True) -> list[Credencial]:
    """Key file (if present) then passphrase (env var or a prompt on a terminal)."""
    from .chaves import (
        TIPO_ARQUIVO,
        TIPO_SENHA,
        Credencial,
        ler_arquivo_chave,
        senha_do_ambiente,
    )

    creds = []
    if arquivo_chave.exists():
        creds.append(
            Credencial(
                TIPO_ARQUIVO,
                ler_arquivo_chave(arquivo_chave),
                f"o arquivo de chave {arquivo_chave}",
            )
        )
    senha = senha_do_ambiente(perguntar=perguntar and not creds)
    if senha:
        creds.append(Credencial(TIPO_SENHA, senha, "a senha informada"))
    return creds


def credenciais_de_criacao(arq: Path, base: Path | None) -> list[Credencial]:
    """For a new encrypted repository: the passphrase from the environment and the
    key file (created when there is no passphrase), never a prompt."""
    from .chaves import (
        TAMANHO_MINIMO_SENHA,
        TIPO_ARQUIVO,
        TIPO_SENHA,
        VARIAVEL_SENHA,
        Credencial,
        criar_arquivo_chave,
        ler_arquivo_chave,
    )

    creds = []
    senha = os.environ.get(VARIAVEL_SENHA)
    if senha and len(senha) < TAMANHO_MINIMO_SENHA:
        raise ErroCriptografia(
            f"{VARIAVEL_SENHA}: senha curta demais; use ao menos "
            f"{TAMANHO_MINIMO_SENHA} caracteres"
        )
    if not arq.exists() and not senha:
        try:
            criar_arquivo_chave(arq)
        except ErroCriptografia:
            if not arq.exists():  # not a concurrent creator: a real failure
                raise
    if arq.exists():
        creds.append(Credencial(TIPO_ARQUIVO, ler_arquivo_chave(arq), str(arq)))
    if senha:
        creds.append(Credencial(TIPO_SENHA, senha, "senha"))
    if base is not None and arq.resolve().is_relative_to(base.resolve()):
        log.warning(
            "%s: o arquivo de chave está dentro do repositório: uma cópia do "
            "repositório leva a chave junto. Guarde-o fora (docs/SEGURANCA.md)",
            arq,
        )
    return creds
