"""Restore: a stored version back onto the file system, verified."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..argumentos import CAMINHO, exigir
from ..armazenamento.fluxo import Progresso
from ..arvore import escrita
from ..base.endereco import pasta_local
from ..erros import ErroBackup
from ..politica.versoes import ULTIMA
from ..registro import NOME_LOGGER
from .consulta import ServicoConsulta, nome_de
from .contexto import Contexto
from .destino import preparar_pasta, resolver_destino

log = logging.getLogger(NOME_LOGGER)


class ServicoRestauracao:
    def __init__(self, ctx: Contexto, consulta: ServicoConsulta) -> None:
        self.ctx = ctx
        self.consulta = consulta

    def restaurar(
        self,
        modelo: str | Path,
        versao: str = ULTIMA,
        destino: str | Path = ".",
        *,
        sobrescrever: bool = False,
        conferir_sha256: bool = False,
        progresso: Progresso | None = None,
    ) -> dict[str, Any]:
        """Like `restaurar_backup`, plus how the destination was read and why.

        Returns {"caminho", "tratado_como" ("pasta" | "arquivo"), "motivo"}.
        """
        exigir(destino, CAMINHO, "destino", "um caminho (texto ou Path)")
        exigir(sobrescrever, bool, "sobrescrever", "verdadeiro ou falso")
        exigir(conferir_sha256, bool, "conferir_sha256", "verdadeiro ou falso")
        try:
            sidecar = self.consulta.sidecar(modelo, versao)
            base = self.ctx.base
            r = resolver_destino(
                destino,
                sidecar.modelo,
                sidecar.tipo,
                pasta_local(base),
            )
            preparar_pasta(r.caminho)
            final = escrita.restaurar_versao(
                self.ctx.repo,
                sidecar,
                r.caminho,
                sobrescrever=sobrescrever,
                conferir_sha256=conferir_sha256,
                progresso=progresso,
            )
        except Exception as e:
            self._falhou(modelo, versao, destino, e)
            raise
        log.info(
            "Backup restaurado: %s %s -> %s", sidecar.modelo, sidecar.versao, final
        )
        self.ctx.eventos.emitir(
            "restauracao_concluida",
            modelo=sidecar.modelo,
            versao=sidecar.versao,
            destino=os.path.abspath(final),  # documented absolute (EVENTOS.md)
            tamanho=sidecar.tamanho,
            sha256=sidecar.sha256,
        )
        return {
            "caminho": str(final),
            "tratado_como": r.tratado_como,
            "motivo": r.motivo,
        }

    def versao_a_restaurar(
        self, modelo: str | Path, versao: str = ULTIMA, destino: str | Path = "."
    ) -> dict[str, Any]:
        """The sidecar a restore would use; a refusal is a failed restore.

        The CLI reads it first (to size its progress bar): an unknown version or
        a bad signature must emit `restauracao_falhou` there too.
        """
        try:
            return self.consulta.obter_versao(modelo, versao)
        except Exception as e:
            self._falhou(modelo, versao, destino, e)
            raise

    def _falhou(
        self,
        modelo: str | Path,
        versao: str,
        destino: str | Path,
        e: Exception,
    ) -> None:
        if isinstance(e, ErroBackup):
            log.error("Restauração falhou: %s %s -> %s: %s", modelo, versao, destino, e)
        self.ctx.eventos.emitir(
            "restauracao_falhou",
            modelo=nome_de(modelo),
            versao=versao,
            destino=os.path.abspath(destino),
            erro=str(e),
            tipo_erro=type(e).__name__,
        )
