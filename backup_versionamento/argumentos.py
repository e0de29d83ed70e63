"""Checks of what a caller passes to the API: types, lengths, names.

A wrong type or an absurd value becomes ErroArgumento (exit code 2) naming the
argument, before anything is created on disk. Base layer: no storage, no CLI.
"""

from __future__ import annotations

import os
from typing import Any

from .erros import ErroArgumento
from .texto import seguro

# A version's description is a sentence or a short changelog, never a file: it is
# stored in every sidecar and printed by `listar`.
LIMITE_DESCRICAO = 2000
# A model name becomes a folder name (255 bytes at most) and a lock file name
# with a prefix and a suffix: leave room for them.
LIMITE_NOME_MODELO = 200

CAMINHO = (str, os.PathLike)


def exigir(valor: Any, tipos: type | tuple[type, ...], nome: str, oque: str) -> None:
    """Refuse an argument of the wrong type (bool is not an int here)."""
    tupla = tipos if isinstance(tipos, tuple) else (tipos,)
    if not isinstance(valor, tupla) or (isinstance(valor, bool) and bool not in tupla):
        mostrado = seguro(repr(valor))
        if len(mostrado) > 60:
            mostrado = mostrado[:57] + "..."
        raise ErroArgumento(
            f"argumento {nome}: esperado {oque}, recebido {type(valor).__name__} "
            f"{mostrado}"
        )


def checar_caminho(caminho: Any) -> None:
    """A path to back up: '' would silently mean '.', the current folder."""
    exigir(caminho, CAMINHO, "caminho", "um caminho (texto ou Path)")
    if isinstance(caminho, str) and not caminho.strip():
        raise ErroArgumento(
            "caminho do modelo vazio (--modelo \"\" ou caminho=''); informe o "
            "arquivo ou a pasta do modelo (use '.' para a pasta atual)"
        )


def checar_nome_modelo(nome: str) -> None:
    """A name that fits a folder and prints as itself (no control characters)."""
    tamanho = len(nome.encode("utf-8", "surrogatepass"))
    if tamanho > LIMITE_NOME_MODELO:
        raise ErroArgumento(
            f"nome do modelo longo demais ({len(nome)} caracteres, {tamanho} bytes; "
            f"o limite é {LIMITE_NOME_MODELO} bytes): {seguro(nome[:40])}...; "
            "escolha um nome mais curto com --nome (nome_modelo= na API)"
        )
    if seguro(nome) != nome:
        raise ErroArgumento(
            f"nome do modelo com caractere de controle ou invisível: {seguro(nome)}; "
            "escolha outro com --nome (nome_modelo= na API)"
        )


def checar_backup(
    caminho: Any, tipo_mudanca: Any, descricao: Any, nome_modelo: Any, nome: str
) -> None:
    """The arguments of a backup request; `nome` is the model name it resolves to."""
    checar_caminho(caminho)
    exigir(tipo_mudanca, str, "tipo_mudanca", "um texto como 'patch' ou 'auto'")
    exigir(descricao, str, "descricao", "um texto")
    exigir(nome_modelo, (str, type(None)), "nome_modelo", "um texto ou None")
    if len(descricao) > LIMITE_DESCRICAO:
        raise ErroArgumento(
            f"descrição com {len(descricao)} caracteres; o limite é "
            f"{LIMITE_DESCRICAO}. Resuma o que mudou (detalhes longos cabem num "
            "arquivo ao lado do modelo)"
        )
    checar_nome_modelo(nome)
