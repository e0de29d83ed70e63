"""Queries: models, versions, one version's sidecar, comparisons, the summary."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..argumentos import CAMINHO, exigir
from ..armazenamento.aliases import AssinadorBytes, HistoricoAliases, validar_nome_alias
from ..armazenamento.sidecar import Sidecar
from ..arvore import escrita
from ..erros import ErroVersaoNaoEncontrada
from ..politica.versoes import ULTIMA, Versao
from .contexto import Contexto


class ServicoConsulta:
    def __init__(self, ctx: Contexto) -> None:
        self.ctx = ctx
        self._aliases: HistoricoAliases | None = None
        # Signs and checks alias entries (the manager wires the Ed25519 signer).
        self.assinador_aliases: Callable[[], AssinadorBytes | None] = lambda: None

    @property
    def historico_aliases(self) -> HistoricoAliases:
        """The repository's alias histories (signed with the repository's signer)."""
        if self._aliases is None:
            self._aliases = self.ctx.repo.aliases(lambda: self.assinador_aliases())
        return self._aliases

    def versoes_com_alias(self, modelo: str) -> dict[str, list[str]]:
        """version -> the aliases that point at it now (retention keeps these)."""
        saida: dict[str, list[str]] = {}
        for alias, e in self.historico_aliases.atuais(nome_de(modelo)).items():
            saida.setdefault(str(e.versao), []).append(alias)
        return saida

    def resolver_alias(self, modelo: str | Path, alias: str) -> str:
        """The version `alias` points at now ('@' optional)."""
        nome = nome_de(modelo)
        alias = validar_nome_alias(alias.removeprefix("@"))
        entrada = self.historico_aliases.ultima(nome, alias)
        if entrada is None or entrada.versao is None:
            atuais = self.historico_aliases.atuais(nome)
            motivo = "foi removido" if entrada is not None else "não existe"
            lista = ", ".join(f"@{a} -> {e.versao}" for a, e in atuais.items())
            raise ErroVersaoNaoEncontrada(
                f"o alias @{alias} do modelo {nome!r} {motivo}; aliases atuais: "
                f"{lista or 'nenhum'}"
            )
        return entrada.versao

    def listar_modelos(self) -> list[str]:
        return self.ctx.repo.modelos()

    def listar_versoes(self, modelo: str | Path) -> list[dict[str, Any]]:
        """Versions of a model, oldest first (from the metadata cache)."""
        nome = nome_de(modelo)
        versoes = self.ctx.repo.versoes(nome)
        if not versoes and self.ctx.repo.ultima_versao(nome) is None:
            raise ErroVersaoNaoEncontrada(
                f"modelo {nome!r} não tem backups em {self.ctx.base}; modelos "
                f"existentes: {', '.join(self.listar_modelos()) or 'nenhum'}"
            )
        return versoes

    def versoes_danificadas(
        self, modelo: str | Path | None = None
    ) -> list[dict[str, str]]:
        """Versions whose sidecar does not read (damaged): model, version, why.

        Listings leave them out (nothing in them can be trusted); every door
        shows them apart and points at `verificar`.
        """
        if modelo is None:
            self.ctx.repo.modelos()  # one sync of every model
            return self.ctx.repo.danificadas()
        nome = nome_de(modelo)
        self.ctx.repo.versoes(nome)
        return self.ctx.repo.danificadas(nome)

    def resolver_versao(self, modelo: str | Path, versao: str) -> str:
        exigir(versao, str, "versao", "um texto como '1.2.3' ou 'ultima'")
        if versao in (ULTIMA, "última", "latest"):
            versoes = self.listar_versoes(modelo)
            return str(versoes[-1]["versao"])
        if versao.startswith("@"):
            return self.resolver_alias(modelo, versao)
        return str(Versao.ler(versao))

    def obter_versao(self, modelo: str | Path, versao: str = ULTIMA) -> dict[str, Any]:
        """The full sidecar of a version, read and checked from the repository."""
        return self.sidecar(modelo, versao).como_dict()

    def sidecar(self, modelo: str | Path, versao: str = ULTIMA) -> Sidecar:
        nome = nome_de(modelo)
        return self.ctx.repo.ler_versao(nome, self.resolver_versao(nome, versao))

    def inspecao_de(self, modelo: str, versao: str) -> dict[str, Any] | None:
        """A stored version's description; restored to a temp folder if not kept."""
        sc = self.ctx.repo.ler_versao(modelo, versao)
        if sc.inspecao:
            return dict(sc.inspecao)
        # lazy: startup time (docs/DESEMPENHO.md)
        from ..validacao import inspecionar_modelo, opcoes_da_config

        opcoes = opcoes_da_config(self.ctx.config)
        opcoes.pop("teste_carregamento")
        with tempfile.TemporaryDirectory(
            dir=self.ctx.pasta_estado, prefix=".inspecao-"
        ) as tmp:
            caminho = escrita.restaurar_versao(self.ctx.repo, sc, Path(tmp) / sc.modelo)
            return inspecionar_modelo(caminho, **opcoes)

    def comparar_versoes(
        self, modelo: str | Path, versao_a: str, versao_b: str = ULTIMA
    ) -> dict[str, Any]:
        """What changed from version a to b: bytes, chunks, files, metrics, layers."""
        a = self.obter_versao(modelo, versao_a)
        b = self.obter_versao(modelo, versao_b)
        blocos_a = {bl[0]: bl[1] for e in a["entradas"] for bl in e.get("blocos", [])}
        blocos_b = {bl[0]: bl[1] for e in b["entradas"] for bl in e.get("blocos", [])}
        novos = set(blocos_b) - set(blocos_a)
        arquivos_a = {e["caminho"]: e.get("sha256") for e in a["entradas"]}
        arquivos_b = {e["caminho"]: e.get("sha256") for e in b["entradas"]}
        metricas = {}
        for nome in sorted(set(a["metricas"]) | set(b["metricas"])):
            va, vb = a["metricas"].get(nome), b["metricas"].get(nome)
            delta = (
                vb - va
                if isinstance(va, (int, float)) and isinstance(vb, (int, float))
                else None
            )
            metricas[nome] = {"a": va, "b": vb, "delta": delta}
        return {
            "modelo": a["modelo"],
            "a": a["versao"],
            "b": b["versao"],
            "identicas": a["sha256"] == b["sha256"],
            "tamanho": {
                "a": a["tamanho"],
                "b": b["tamanho"],
                "delta": b["tamanho"] - a["tamanho"],
            },
            "blocos": {
                "a": len(blocos_a),
                "b": len(blocos_b),
                "comuns": len(set(blocos_a) & set(blocos_b)),
                "novos_em_b": len(novos),
            },
            "bytes_alterados": sum(blocos_b[i] for i in novos),
            "arquivos": {
                "adicionados": sorted(set(arquivos_b) - set(arquivos_a)),
                "removidos": sorted(set(arquivos_a) - set(arquivos_b)),
                "alterados": sorted(
                    c
                    for c in set(arquivos_a) & set(arquivos_b)
                    if arquivos_a[c] != arquivos_b[c]
                ),
            },
            "metricas": metricas,
            "arquitetura": self._comparar_arquitetura(a, b),
        }

    def _comparar_arquitetura(
        self, a: dict[str, Any], b: dict[str, Any]
    ) -> dict[str, Any] | None:
        if a["sha256"] == b["sha256"]:
            return None
        ia = self.inspecao_de(a["modelo"], a["versao"])
        ib = self.inspecao_de(b["modelo"], b["versao"])
        if ia is None or ib is None:
            return None
        # lazy: startup time (docs/DESEMPENHO.md)
        from ..politica.mudanca import comparar_arquiteturas

        return comparar_arquiteturas(ia, ib)

    def status(self) -> dict[str, Any]:
        modelos = self.ctx.repo.modelos()
        totais = self.ctx.repo.totais()
        n_pacotes, armazenado = self.ctx.repo.tamanho_pacotes()
        ultimo = None
        for m in modelos:
            for v in self.ctx.repo.versoes(m)[-1:]:
                if ultimo is None or v["criado_em"] > ultimo["criado_em"]:
                    ultimo = {
                        "modelo": m,
                        "versao": v["versao"],
                        "criado_em": v["criado_em"],
                    }
        livre = self.ctx.repo.espaco_livre()  # None: an object store
        aliases = {
            m: {a: str(e.versao) for a, e in self.historico_aliases.atuais(m).items()}
            for m in modelos
        }
        return {
            # Who holds the repository now; stale ones say what to do.
            "trava_limpeza": self.ctx.repo.trava_limpeza(),
            "concessoes": self.ctx.repo.concessoes(),
            "base": str(self.ctx.base),
            "aliases": {m: a for m, a in aliases.items() if a},
            "formato": self.ctx.repo.campo_cabecalho("formato"),
            "id": self.ctx.repo.id,
            "modelos": len(modelos),
            "versoes": totais["versoes"],
            "tamanho_logico": totais["tamanho_logico"],
            "tamanho_armazenado": armazenado,
            "pacotes": n_pacotes,
            "razao_economia": round(totais["tamanho_logico"] / armazenado, 2)
            if armazenado
            else None,
            "ultimo_backup": ultimo,
            "espaco_livre": livre,
            "espaco_baixo": livre is not None
            and livre < self.ctx.config["espaco_disco"]["aviso_mb"] * 1024**2,
            "aviso_espaco_mb": self.ctx.config["espaco_disco"]["aviso_mb"],
            "versoes_danificadas": self.ctx.repo.danificadas(),
        }


def nome_de(modelo: str | Path) -> str:
    exigir(modelo, CAMINHO, "modelo", "o nome do modelo (texto)")
    return (
        Path(modelo).name
        if isinstance(modelo, Path) or "/" in str(modelo)
        else str(modelo)
    )
