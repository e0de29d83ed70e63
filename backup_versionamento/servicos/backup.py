"""Backup: a model file or folder in, a new semantic version out.

The use case runs as named steps: validate the request (RequisicaoBackup, once)
-> skip check (nothing changed) -> analyse (validation, change type, lineage,
disk space) -> write the content -> allocate the version and publish under the
model's lock.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..argumentos import CAMINHO, exigir
from ..armazenamento.deltas import pais_para_deltas
from ..armazenamento.fluxo import GravadorBlocos, Progresso
from ..armazenamento.sidecar import Sidecar
from ..armazenamento.trava_remota import Concessao
from ..arvore import leitura
from ..base.endereco import pasta_local
from ..base.tempo import agora_iso
from ..erros import ErroArgumento, ErroBackup, ErroEspacoInsuficiente, ErroRepositorio
from ..politica.versoes import AUTO, proxima_versao
from ..registro import NOME_LOGGER
from ..texto import tamanho_legivel
from .consulta import ServicoConsulta
from .contexto import Contexto
from .requisicao import RequisicaoBackup, nome_do_modelo, nome_pedido

__all__ = ["RequisicaoBackup", "ServicoBackup", "checar_pedido", "nome_do_modelo"]

log = logging.getLogger(NOME_LOGGER)

# How long a backup waits for another process holding the same model's lock.
ESPERA_TRAVA_S = 600.0
# How many times a backup recomputes its version when another machine took it.
TENTATIVAS_PUBLICAR = 50


@dataclass(frozen=True)
class Analise:
    """What the analysis step learnt about the source (sidecar fields)."""

    validacao: dict[str, Any] | None
    inspecao: dict[str, Any] | None
    linhagem: dict[str, Any]


@dataclass(frozen=True)
class Incremento:
    """The version step actually taken, and why when it was inferred."""

    efetivo: str
    mudanca: dict[str, Any] | None


class ServicoBackup:
    def __init__(self, ctx: Contexto, consulta: ServicoConsulta) -> None:
        self.ctx = ctx
        self.consulta = consulta

    def criar(
        self,
        caminho: str | Path | RequisicaoBackup,
        tipo_mudanca: str = "patch",
        descricao: str = "",
        metricas: dict[str, Any] | None = None,
        *,
        forcar: bool = False,
        forcar_leitura: bool = False,
        nome_modelo: str | None = None,
        progresso: Progresso | None = None,
        origem_pedido: str = "api",
    ) -> dict[str, Any]:
        """Store `caminho` as a new version unless its content is already the latest.

        `caminho` may be a RequisicaoBackup already validated (the CLI builds one
        before the repository exists); it then carries every request field.
        Returns {"modelo", "versao", "nova_versao"} (the facade's `criar_backup`
        turns it into a ResultadoBackup: the version string with those fields);
        emits backup_iniciado, then backup_criado, backup_ignorado or
        backup_falhou (with `origem_pedido`).
        """
        quem = _quem(caminho, nome_modelo, origem_pedido)
        self.ctx.eventos.emitir("backup_iniciado", **quem)
        inicio = time.monotonic()
        try:
            req = _requisicao(
                caminho,
                tipo_mudanca,
                descricao,
                metricas,
                forcar=forcar,
                forcar_leitura=forcar_leitura,
                nome_modelo=nome_modelo,
            )
            versao, nova = self._executar(req, progresso, quem, inicio)
        except Exception as e:
            self._falhou(e, quem, origem_pedido)
            raise
        return {"modelo": req.modelo, "versao": versao, "nova_versao": nova}

    def _falhou(self, e: Exception, quem: dict[str, Any], origem_pedido: str) -> None:
        if isinstance(e, ErroBackup):
            log.error("Backup falhou: %s", e)
        self.ctx.eventos.emitir(
            "backup_falhou", **quem, erro=str(e), tipo_erro=type(e).__name__
        )
        # A refused first backup leaves no empty repository behind (not for
        # the daemon: its PID and state are found through the header).
        if origem_pedido in ("api", "cli") and self.ctx.repo.desfazer_criacao():
            log.info(
                "Repositório recém-criado desfeito: nada foi guardado em %s",
                self.ctx.base,
            )

    def _executar(
        self,
        req: RequisicaoBackup,
        progresso: Progresso | None,
        quem: dict[str, Any],
        inicio: float,
    ) -> tuple[str, bool]:
        """The steps, in order; (version, whether this call created it)."""
        checar_repositorio_fora(self.ctx.base, req.origem)
        # One listing serves both pre-checks; publishing lists again (fresh).
        atual = self.ctx.repo.ultima_versao(req.modelo)
        if atual is not None and (igual := self._pular(req, str(atual))):
            return self._ignorado(req.modelo, igual, quem), False
        analise = self._analisar(req, sem_base=atual is None)
        with self._sob_concessao() as (concessao, marca):
            conteudo = self._gravar_conteudo(
                req, progresso, str(atual) if atual else None
            )
            with self.ctx.repo.trava_modelo(req.modelo, ESPERA_TRAVA_S):
                versoes = self.ctx.repo.versoes(req.modelo)
                ultima = versoes[-1] if versoes else None
                if ultima and ultima["sha256"] == conteudo.sha256 and not req.forcar:
                    return self._ignorado(
                        req.modelo, str(ultima["versao"]), quem
                    ), False
                # Only a lease broken by hand (or expired) lets a collection
                # run meanwhile: then every reused chunk must still exist.
                perdida = concessao is not None and not concessao.valida()
                if perdida or self.ctx.repo.marca_limpeza() != marca:
                    self._conferir_apos_limpeza(conteudo.entradas, req.modelo)
                sidecar, mudanca = self._publicar(req, analise, conteudo)
        self._anunciar(req, sidecar, mudanca, conteudo, quem, inicio)
        return sidecar.versao, True

    # -- skip check ------------------------------------------------------------------
    def _pular(self, req: RequisicaoBackup, atual: str) -> str | None:
        """`atual` (the latest version) when the source's stat says nothing changed."""
        if req.forcar or req.forcar_leitura:
            return None
        try:
            sc = self.ctx.repo.ler_versao(req.modelo, atual)
        except ErroBackup:
            return None
        if sc.origem != str(req.origem.resolve()):
            return None
        if leitura.inalterado(req.origem, sc.entradas, req.listagem):
            return sc.versao
        return None

    def _ignorado(self, modelo: str, versao: str, quem: dict[str, Any]) -> str:
        log.info("Backup sem mudanças: %s já está em %s", modelo, versao)
        self.ctx.eventos.emitir("backup_ignorado", **quem, versao=versao)
        return versao

    # -- analysis --------------------------------------------------------------------
    def _analisar(self, req: RequisicaoBackup, *, sem_base: bool) -> Analise:
        """Validate, describe (for `auto`), check the space, collect the lineage."""
        from ..linhagem import coletar_linhagem  # lazy: startup time (DESEMPENHO.md)

        validacao, inspecao = validar(
            self.ctx.config, req.origem, auto=req.incremento == AUTO
        )
        checar_espaco(self.ctx, req.listagem.tamanho, req.modelo, sem_base=sem_base)
        linhagem = coletar_linhagem(
            req.origem, validacao["biblioteca"] if validacao else None
        )
        return Analise(validacao, inspecao, linhagem)

    # -- content ---------------------------------------------------------------------
    @contextlib.contextmanager
    def _sob_concessao(self) -> Iterator[tuple[Concessao | None, str]]:
        """The shared repository lock plus this machine's backup lease.

        Yields (lease, the last collection's mark taken under it).
        """
        # Every machine's collection waits for this lease (docs/FORMATO.md).
        with self.ctx.repo.concessao(ESPERA_TRAVA_S) as concessao:
            marca = self.ctx.repo.marca_limpeza()
            # A collection may have run since this process last looked: what
            # the index remembers may sit in packs that are gone.
            self.ctx.repo.atualizar_indice()
            yield concessao, marca

    def _gravar_conteudo(
        self, req: RequisicaoBackup, progresso: Progresso | None, pai: str | None
    ) -> leitura.Conteudo:
        """Chunk the source into packs and an index fragment (write order step 1-2).

        `pai` is the latest version, whose tensors delta chunks may refer to.
        """
        frag = self.ctx.repo.campo_cabecalho("fragmentacao")
        sessao = self.ctx.repo.sessao()
        try:
            gravador = GravadorBlocos(
                sessao,
                threads=self.ctx.repo.threads,
                buffer_mb=self.ctx.repo.buffer_mb,
                medio=frag["medio"],
                minimo=frag["minimo"],
                maximo=frag["maximo"],
            )
            if pai is not None:
                gravador.pais = pais_para_deltas(self.ctx.repo, req.modelo, pai)
            conteudo = leitura.ler_origem(
                req.origem, sessao, gravador, progresso, req.listagem
            )
            sessao.concluir()
        except BaseException:
            sessao.abortar()
            raise
        return conteudo

    def _conferir_apos_limpeza(self, entradas: Any, modelo: str) -> None:
        """Another machine collected while we wrote: every chunk must still exist."""
        ids = {i for e in entradas for i, _ in e.blocos}
        # The bases of its delta chunks too (armazenamento/deltas.py).
        if faltam := self.ctx.repo.blocos_ausentes(self.ctx.repo.com_bases(ids)):
            raise ErroRepositorio(
                f"backup de {modelo} não publicado: uma limpeza em outra máquina "
                f"removeu {len(faltam)} bloco(s) que este backup reaproveitava; "
                "nada foi alterado, rode o backup de novo"
            )

    # -- allocate and publish (under the model's lock) -------------------------------
    def _publicar(
        self, req: RequisicaoBackup, analise: Analise, conteudo: leitura.Conteudo
    ) -> tuple[Sidecar, dict[str, Any] | None]:
        """Allocate the next version and publish it; (sidecar, inferred change).

        The per-model lock is per machine; on a shared object store another
        machine may take the version first: recompute, retry.
        """
        for _tentativa in range(TENTATIVAS_PUBLICAR):
            atual = self.ctx.repo.ultima_versao(req.modelo)
            passo = self._incremento(req, analise, atual)
            sidecar = montar_sidecar(req, analise, conteudo, passo, atual)
            if self.ctx.repo.publicar(sidecar):
                self.ctx.repo.sincronizar(req.modelo)
                return sidecar, passo.mudanca
            log.info(
                "Versão %s de %s criada por outra máquina; recalculando",
                sidecar.versao,
                req.modelo,
            )
        raise ErroBackup(
            f"versão {sidecar.versao} de {req.modelo} já existe (outras máquinas "
            f"publicaram {TENTATIVAS_PUBLICAR} vezes antes); tente de novo"
        )

    def _incremento(
        self, req: RequisicaoBackup, analise: Analise, atual: Any
    ) -> Incremento:
        """The requested step, or for `auto` the one inferred from the last version."""
        if req.incremento != AUTO:
            return Incremento(req.incremento, None)
        from ..politica.mudanca import inferir_tipo_mudanca  # lazy: startup time

        anterior = self.consulta.inspecao_de(req.modelo, str(atual)) if atual else None
        efetivo, motivo = inferir_tipo_mudanca(anterior, analise.inspecao)
        return Incremento(
            efetivo, {"automatica": True, "incremento": efetivo, "motivo": motivo}
        )

    def _anunciar(
        self,
        req: RequisicaoBackup,
        sidecar: Sidecar,
        mudanca: dict[str, Any] | None,
        conteudo: leitura.Conteudo,
        quem: dict[str, Any],
        inicio: float,
    ) -> None:
        """Log and emit backup_criado for a published version."""
        modelo, nova = req.modelo, sidecar.versao
        if mudanca:
            log.info(
                "Tipo de mudança automático: %s %s -> %s (%s)",
                modelo,
                nova,
                mudanca["incremento"],
                mudanca["motivo"],
            )
        log.info("Backup criado: %s -> %s", modelo, nova)
        log.debug(
            "Detalhes de %s %s: %d entrada(s), %d blocos, %d bytes, %d bytes novos",
            modelo,
            nova,
            len(conteudo.entradas),
            sum(len(e.blocos) for e in conteudo.entradas),
            conteudo.tamanho,
            conteudo.tamanho_armazenado,
        )
        self.ctx.eventos.emitir(
            "backup_criado",
            **quem,
            versao=nova,
            versao_anterior=sidecar.versao_anterior,
            tipo_mudanca=req.tipo_mudanca,
            incremento=sidecar.incremento,
            descricao=req.descricao,
            tamanho=conteudo.tamanho,
            tamanho_armazenado=conteudo.tamanho_armazenado,
            sha256=conteudo.sha256,
            duracao_s=round(time.monotonic() - inicio, 3),  # backup_duracao_segundos
        )


def validar(
    config: dict[str, Any], origem: Path, *, auto: bool
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Validate per `validacao.modo`; describe the model when `auto` needs it."""
    # lazy: startup time (docs/DESEMPENHO.md)
    from ..validacao import (
        analisar_modelo,
        erro_de_validacao,
        inspecionar_modelo,
        opcoes_da_config,
    )

    opcoes = opcoes_da_config(config)
    if config["validacao"]["modo"] == "desligado":
        return None, inspecionar_modelo(
            origem, **{k: v for k, v in opcoes.items() if k != "teste_carregamento"}
        ) if auto else None
    rel, insp = analisar_modelo(origem, inspecionar=auto, **opcoes)
    if not rel["valido"]:
        if config["validacao"]["modo"] == "bloquear":
            raise erro_de_validacao(rel)
        log.warning(
            "Validação falhou (modo avisar, backup segue): %s",
            "; ".join(rel["problemas"]),
        )
    return rel, insp


def checar_repositorio_fora(base_repo: Any, origem: Path) -> None:
    """Refuse a folder that contains the repository itself."""
    base = pasta_local(base_repo)
    if (
        base is not None
        and origem.is_dir()
        and base.resolve().is_relative_to(origem.resolve())
    ):
        raise ErroRepositorio(
            f"{origem}: a pasta contém o próprio repositório ({base}); faça "
            "backup de uma pasta que não o contenha ou mude diretorios.base"
        )


def _requisicao(
    caminho: str | Path | RequisicaoBackup,
    tipo_mudanca: str,
    descricao: str,
    metricas: dict[str, Any] | None,
    **opcoes: Any,
) -> RequisicaoBackup:
    """The validated request: the one given, or one built from the arguments."""
    if not isinstance(caminho, RequisicaoBackup):
        return RequisicaoBackup.de(caminho, tipo_mudanca, descricao, metricas, **opcoes)
    extras = (tipo_mudanca, descricao, metricas, *opcoes.values())
    if extras != ("patch", "", None, False, False, None):
        raise ErroArgumento(
            "com uma RequisicaoBackup, tipo_mudanca, descricao, metricas, forcar, "
            "forcar_leitura e nome_modelo vêm dela"
        )
    return caminho


def montar_sidecar(
    req: RequisicaoBackup,
    analise: Analise,
    conteudo: leitura.Conteudo,
    passo: Incremento,
    atual: Any,
) -> Sidecar:
    """Every field of a new version's sidecar, in one place."""
    return Sidecar(
        modelo=req.modelo,
        versao=str(proxima_versao(atual, passo.efetivo)),
        tipo=conteudo.tipo,
        entradas=tuple(conteudo.entradas),
        tamanho=conteudo.tamanho,
        sha256=conteudo.sha256,
        criado_em=agora_iso(),
        tamanho_armazenado=conteudo.tamanho_armazenado,
        tipo_mudanca=req.tipo_mudanca,
        incremento=passo.efetivo if atual else "inicial",
        descricao=req.descricao,
        usuario=_usuario(),
        host=socket.gethostname(),
        origem=str(req.origem.resolve()),
        versao_anterior=str(atual) if atual else None,
        avisos=tuple(conteudo.avisos),
        metricas=req.metricas,
        validacao=analise.validacao,
        inspecao=analise.inspecao,
        mudanca=passo.mudanca,
        linhagem=analise.linhagem,
    )


def checar_espaco(
    ctx: Contexto, necessario: int, modelo: str, *, sem_base: bool
) -> None:
    """Warn when the disk runs low; refuse when the backup cannot fit."""
    livre = ctx.repo.espaco_livre()
    if livre is None:
        return  # an object store has no free space to measure
    esp = ctx.config["espaco_disco"]
    mb = 1024 * 1024
    if livre < esp["aviso_mb"] * mb:
        log.warning("Espaço em disco baixo: %dMB", livre // mb)
        ctx.eventos.emitir(
            "espaco_baixo",
            base=str(ctx.base),
            livre=livre,
            aviso_mb=esp["aviso_mb"],
        )
    reserva = esp["reserva_mb"] * mb
    # Without a previous version nothing can deduplicate: the whole size must fit.
    if livre < reserva or (sem_base and necessario > livre - reserva):
        raise ErroEspacoInsuficiente(
            f"{ctx.base}: espaço em disco insuficiente para o backup de "
            f"{modelo} "
            f"(precisa de {tamanho_legivel(necessario)}; livres "
            f"{tamanho_legivel(livre)}, reserva {esp['reserva_mb']} MB). "
            "Libere espaço ou rode "
            "`inicializar_backup.py limpeza`."
        )


def _quem(caminho: Any, nome_modelo: Any, origem_pedido: str) -> dict[str, Any]:
    """Who the events name: known before any validation but the path's type."""
    if isinstance(caminho, RequisicaoBackup):
        modelo, origem = caminho.modelo, caminho.origem
    else:
        exigir(caminho, CAMINHO, "caminho", "um caminho (texto ou Path)")
        modelo, origem = nome_pedido(caminho, nome_modelo), caminho
    return {
        "modelo": modelo,
        "caminho": os.path.abspath(origem),
        "origem": origem_pedido,
    }


def _usuario() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def checar_pedido(
    caminho: str | Path,
    tipo_mudanca: str,
    nome_modelo: str | None = None,
    descricao: str = "",
) -> None:
    """Validate a backup request before anything is created on disk."""
    RequisicaoBackup.de(caminho, tipo_mudanca, descricao, nome_modelo=nome_modelo)
