"""Aliases (a model registry): names such as `producao` that point at versions.

The history lives in the repository (armazenamento/aliases.py); this service
checks the request, resolves the version, appends the move and emits the event.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

from ..argumentos import exigir
from ..armazenamento.aliases import LIMITE_MOTIVO, validar_nome_alias
from ..base.tempo import agora_iso
from ..erros import ErroArgumento, ErroVersaoNaoEncontrada
from ..registro import NOME_LOGGER
from ..seguranca.acesso import usuario_atual
from ..texto import seguro
from .consulta import ServicoConsulta, nome_de
from .contexto import Contexto

log = logging.getLogger(NOME_LOGGER)


class ServicoAliases:
    def __init__(self, ctx: Contexto, consulta: ServicoConsulta) -> None:
        self.ctx = ctx
        self.consulta = consulta

    def definir(
        self, modelo: str | Path, alias: str, versao: str, motivo: str = ""
    ) -> dict[str, Any]:
        """Point `alias` at `versao` (which must exist and read back intact)."""
        nome = nome_de(modelo)
        validar_nome_alias(alias)
        exigir(versao, str, "versao", "um texto como '1.2.3', 'ultima' ou '@alias'")
        _checar_motivo(motivo)
        alvo = self.consulta.sidecar(nome, versao).versao  # exists and is readable
        entrada, escrita = self.consulta.historico_aliases.anexar(
            nome,
            alias,
            alvo,
            usuario=usuario_atual(),
            host=socket.gethostname(),
            criado_em=agora_iso,
            motivo=motivo,
        )
        if not escrita:
            log.info("Alias %s @%s já aponta para %s", nome, alias, alvo)
            return {**entrada.publico(), "alterado": False}
        log.info(
            "Alias definido: %s @%s -> %s (antes: %s)%s",
            nome,
            alias,
            alvo,
            entrada.versao_anterior or "nenhuma",
            f": {motivo}" if motivo else "",
        )
        self.ctx.eventos.emitir("alias_definido", **_dados_evento(entrada.publico()))
        return {**entrada.publico(), "alterado": True}

    def remover(
        self, modelo: str | Path, alias: str, motivo: str = ""
    ) -> dict[str, Any]:
        """Make `alias` point at nothing (its history stays)."""
        nome = nome_de(modelo)
        validar_nome_alias(alias)
        _checar_motivo(motivo)
        entrada, _ = self.consulta.historico_aliases.anexar(
            nome,
            alias,
            None,
            usuario=usuario_atual(),
            host=socket.gethostname(),
            criado_em=agora_iso,
            motivo=motivo,
            exigir_atual=True,
        )
        log.info(
            "Alias removido: %s @%s (apontava para %s)",
            nome,
            alias,
            entrada.versao_anterior,
        )
        self.ctx.eventos.emitir("alias_removido", **_dados_evento(entrada.publico()))
        return entrada.publico()

    def aliases(self, modelo: str | Path) -> dict[str, str]:
        """alias -> version it points at now."""
        nome = nome_de(modelo)
        return {
            a: str(e.versao)
            for a, e in self.consulta.historico_aliases.atuais(nome).items()
        }

    def listar(self, modelo: str | Path | None = None) -> list[dict[str, Any]]:
        """Each alias (removed ones too) of one model or all: target and history."""
        if modelo is not None:
            self.consulta.listar_versoes(modelo)  # unknown model: an error
        modelos = [nome_de(modelo)] if modelo is not None else None
        saida = []
        for m in modelos or self.consulta.listar_modelos():
            for alias in self.consulta.historico_aliases.nomes(m):
                historico = self.historico(m, alias)
                saida.append(
                    {
                        "modelo": m,
                        "alias": alias,
                        "versao": historico[-1]["versao"],
                        "historico": historico,
                    }
                )
        return saida

    def historico(self, modelo: str | Path, alias: str) -> list[dict[str, Any]]:
        """Every move of `alias`, oldest first (version, previous, who, when, why)."""
        nome = nome_de(modelo)
        validar_nome_alias(alias)
        entradas = self.consulta.historico_aliases.historico(nome, alias)
        if not entradas:
            existentes = self.consulta.historico_aliases.nomes(nome)
            raise ErroVersaoNaoEncontrada(
                f"o modelo {nome!r} não tem o alias @{alias}; aliases existentes: "
                f"{', '.join('@' + a for a in existentes) or 'nenhum'}"
            )
        return [e.publico() for e in entradas]


def _checar_motivo(motivo: Any) -> None:
    exigir(motivo, str, "motivo", "um texto")
    if len(motivo) > LIMITE_MOTIVO:
        raise ErroArgumento(
            f"motivo longo demais ({len(motivo)} caracteres); use até {LIMITE_MOTIVO}"
        )
    if seguro(motivo) != motivo:
        raise ErroArgumento(
            "motivo com caractere de controle ou invisível; escreva uma frase simples"
        )


def _dados_evento(publico: dict[str, Any]) -> dict[str, Any]:
    return {
        k: publico[k]
        for k in (
            "modelo",
            "alias",
            "versao",
            "versao_anterior",
            "usuario",
            "host",
            "motivo",
            "sequencia",
        )
    }
