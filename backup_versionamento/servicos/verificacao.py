"""Checks: the repository's integrity, and a model file against it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..armazenamento.fluxo import Progresso, sha256_arquivo
from ..arvore.leitura import checar_origem
from ..erros import ErroArgumento, ErroBackup
from ..registro import NOME_LOGGER
from ..texto import plural
from .backup import nome_do_modelo
from .consulta import ServicoConsulta
from .contexto import Contexto

log = logging.getLogger(NOME_LOGGER)
# A failed check's event carries at most this many problems (the rest: a count).
MAXIMO_PROBLEMAS_EVENTO = 50


class ServicoVerificacao:
    def __init__(self, ctx: Contexto, consulta: ServicoConsulta) -> None:
        self.ctx = ctx
        self.consulta = consulta

    def integridade(
        self,
        completa: bool = False,
        modelo: str | None = None,
        progresso: Progresso | None = None,
        versao: str | None = None,
    ) -> dict[str, Any]:
        """Check every version: sidecars parse, every chunk exists and hashes right.

        `completa` also rebuilds each version and checks its SHA-256. `versao`
        (with `modelo`; also 'ultima' or '@alias') checks that one version.
        """
        if modelo:
            self.consulta.listar_versoes(
                modelo
            )  # an unknown model is an error, not "OK"
        if versao is not None:
            if not modelo:
                raise ErroArgumento("verificar uma versão pede também o modelo")
            versao = self.consulta.resolver_versao(modelo, versao)
        rel = self.ctx.repo.verificar(
            completa=completa, modelo=modelo, progresso=progresso, so_versao=versao
        )
        # Not an integrity fault, but worth seeing: versions stored despite a
        # failed model validation (validacao.modo = "avisar").
        rel["validacao_falhou"] = [
            f"{m} {v['versao']}"
            for m in ([modelo] if modelo else self.consulta.listar_modelos())
            for v in self.ctx.repo.versoes(m)
            if (not versao or v["versao"] == versao)
            and v.get("validacao")
            and not v["validacao"].get("valido", True)
        ]
        if versao is None:
            self._verificar_aliases(modelo, rel)
        resumo = {
            "modelo": modelo,
            **({"versao": versao} if versao else {}),
            "completa": completa,
            "versoes_verificadas": rel["versoes_verificadas"],
            "objetos_verificados": rel["objetos_verificados"],
        }
        if rel["ok"]:
            self.ctx.eventos.emitir("verificacao_concluida", **resumo)
            log.info(
                "Verificação de integridade concluída: %s, %s, sem problemas",
                plural(rel["versoes_verificadas"], "versão", "versões"),
                plural(rel["objetos_verificados"], "objeto"),
            )
        else:
            log.error(
                "Verificação de integridade encontrou %d problema(s): %s",
                len(rel["problemas"]),
                "; ".join(rel["versoes_com_problema"]),
            )
            self.ctx.eventos.emitir(
                "verificacao_falhou",
                **resumo,
                versoes_com_problema=rel["versoes_com_problema"],
                problemas=rel["problemas"][:MAXIMO_PROBLEMAS_EVENTO],
                total_problemas=len(rel["problemas"]),
            )
        return rel

    def _verificar_aliases(self, modelo: str | None, rel: dict[str, Any]) -> None:
        """Each alias history reads back whole (chain, signatures) and points at a
        version that exists."""
        historico = self.consulta.historico_aliases
        for m in [modelo] if modelo else self.consulta.listar_modelos():
            existentes = {v["versao"] for v in self.ctx.repo.versoes(m)}
            for alias in historico.nomes(m):
                try:
                    entradas = historico.historico(m, alias)
                except ErroBackup as e:
                    mensagem = str(e)
                else:
                    alvo = entradas[-1].versao
                    if alvo is None or alvo in existentes:
                        continue
                    mensagem = (
                        f"o alias @{alias} aponta para a versão {alvo}, que não "
                        "existe mais"
                    )
                rel["problemas"].append(
                    {
                        "tipo": "alias",
                        "modelo": m,
                        "versao": f"@{alias}",
                        "mensagem": mensagem,
                    }
                )
                rel["versoes_com_problema"].append(f"{m} @{alias}")
                rel["ok"] = False

    def arquivo(self, caminho: str | Path) -> dict[str, Any]:
        """Check a model file on disk and whether it matches a stored version."""
        origem = Path(caminho)
        tamanho = checar_origem(origem)
        resultado: dict[str, Any] = {
            "arquivo": str(origem),
            "tamanho": tamanho,
            "problemas": [],
            "versao_correspondente": None,
        }
        if origem.is_file():
            resultado["sha256"] = sha256_arquivo(origem)[1]
        if self.ctx.config["validacao"]["modo"] != "desligado":
            rel = self.validar_arquivo(origem)
            resultado["validacao"] = rel
            resultado["problemas"].extend(rel["problemas"])
        nome = nome_do_modelo(origem)
        try:
            for v in reversed(self.ctx.repo.versoes(nome)):
                if v["sha256"] == resultado.get("sha256"):
                    resultado["versao_correspondente"] = v["versao"]
                    break
        except ErroBackup as e:
            resultado["problemas"].append(str(e))
        resultado["valido"] = not resultado["problemas"]
        return resultado

    def validar_arquivo(self, caminho: str | Path) -> dict[str, Any]:
        """Validation report of a model file or folder (structure + load test)."""
        # lazy: startup time (docs/DESEMPENHO.md)
        from ..validacao import analisar_modelo, opcoes_da_config

        rel, _ = analisar_modelo(
            Path(caminho), inspecionar=False, **opcoes_da_config(self.ctx.config)
        )
        return rel


def verificar_sem_repositorio(origem: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    r: dict[str, Any] = {
        "arquivo": str(origem),
        "tamanho": checar_origem(origem),
        "sha256": sha256_arquivo(origem)[1] if origem.is_file() else None,
        "versao_correspondente": None,
        "problemas": [],
    }
    if cfg["validacao"]["modo"] != "desligado":
        # lazy: startup time (docs/DESEMPENHO.md)
        from ..validacao import analisar_modelo, opcoes_da_config

        rel, _ = analisar_modelo(origem, inspecionar=False, **opcoes_da_config(cfg))
        r["validacao"] = rel
        r["problemas"].extend(rel["problemas"])
    r["valido"] = not r["problemas"]
    return r
