"""A backup request, validated once: the CLI and the API build the same object.

Building it checks every argument and walks the source once; the listing it
keeps is what the skip check compares and what the write reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..argumentos import checar_backup, checar_caminho, exigir
from ..armazenamento.sidecar import validar_nome_modelo
from ..arvore.leitura import Listagem, coletar_origem
from ..politica.versoes import incremento_de


@dataclass(frozen=True)
class RequisicaoBackup:
    """What to back up and how; only `de` builds a valid one."""

    origem: Path
    modelo: str
    tipo_mudanca: str
    incremento: str
    descricao: str
    metricas: dict[str, Any]
    forcar: bool
    forcar_leitura: bool
    listagem: Listagem

    @classmethod
    def de(
        cls,
        caminho: str | os.PathLike[str],
        tipo_mudanca: str = "patch",
        descricao: str = "",
        metricas: dict[str, Any] | None = None,
        *,
        forcar: bool = False,
        forcar_leitura: bool = False,
        nome_modelo: str | None = None,
    ) -> RequisicaoBackup:
        """Validate a request before anything is created on disk (ErroBackup)."""
        from ..metricas import validar_metricas  # lazy: startup time (DESEMPENHO.md)

        checar_caminho(caminho)
        exigir(tipo_mudanca, str, "tipo_mudanca", "um texto como 'patch' ou 'auto'")
        incremento = incremento_de(tipo_mudanca)
        origem = Path(caminho)
        listagem = coletar_origem(origem)  # a missing file is the first thing to say
        modelo = nome_pedido(caminho, nome_modelo)
        checar_backup(caminho, tipo_mudanca, descricao, nome_modelo, modelo)
        exigir(forcar, bool, "forcar", "verdadeiro ou falso")
        validar_nome_modelo(modelo)  # 'a/b' is refused before the repository exists
        return cls(
            origem=origem,
            modelo=modelo,
            tipo_mudanca=tipo_mudanca,
            incremento=incremento,
            descricao=descricao,
            metricas=validar_metricas(metricas),
            forcar=forcar,
            forcar_leitura=forcar_leitura,
            listagem=listagem,
        )


def nome_pedido(caminho: str | os.PathLike[str], nome_modelo: Any) -> str:
    """The model name a request resolves to: `nome_modelo`, else the path's name."""
    nome = nome_modelo if isinstance(nome_modelo, str) else ""
    return nome or nome_do_modelo(caminho)


def nome_do_modelo(caminho: str | os.PathLike[str]) -> str:
    """The repository name of a model: the file or folder name the user gave.

    Lexical (os.path.abspath): "." becomes the folder's name, and a symlink keeps
    its own name rather than its target's.
    """
    return Path(os.path.abspath(caminho)).name
