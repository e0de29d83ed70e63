"""Backup: a model file or folder in, a new semantic version out."""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from ..argumentos import CAMINHO, checar_backup, checar_caminho, exigir
from ..armazenamento.deltas import fechar, ler_registro, pais_para_deltas
from ..armazenamento.fluxo import GravadorBlocos, Progresso
from ..armazenamento.sidecar import Sidecar, validar_nome_modelo
from ..armazenamento.trava import travar
from ..armazenamento.trava_remota import concessao_backup, marca_limpeza
from ..arvore import leitura
from ..arvore.leitura import checar_origem
from ..base.endereco import pasta_local
from ..base.tempo import agora_iso
from ..erros import ErroBackup, ErroEspacoInsuficiente, ErroRepositorio
from ..politica.versoes import AUTO, incremento_de, proxima_versao
from ..registro import NOME_LOGGER
from ..texto import tamanho_legivel
from .consulta import ServicoConsulta
from .contexto import Contexto

log = logging.getLogger(NOME_LOGGER)

# How long a backup waits for another process holding the same model's lock.
ESPERA_TRAVA_S = 600.0
# How many times a backup recomputes its version when another machine took it.
TENTATIVAS_PUBLICAR = 50


class ServicoBackup:
    def __init__(self, ctx: Contexto, consulta: ServicoConsulta) -> None:
        self.ctx = ctx
        self.consulta = consulta

    def criar(
        self,
        caminho: str | Path,
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

        Returns {"modelo", "versao", "nova_versao"}; emits backup_iniciado, then
        backup_criado, backup_ignorado or backup_falhou (with `origem_pedido`).
        """
        exigir(caminho, CAMINHO, "caminho", "um caminho (texto ou Path)")
        origem = Path(caminho)
        modelo = nome_modelo if isinstance(nome_modelo, str) else ""
        modelo = modelo or nome_do_modelo(origem)
        quem = {
            "modelo": modelo,
            "caminho": os.path.abspath(origem),
            "origem": origem_pedido,
        }
        self.ctx.eventos.emitir("backup_iniciado", **quem)
        inicio = time.monotonic()
        try:
            checar_backup(caminho, tipo_mudanca, descricao, nome_modelo, modelo)
            exigir(forcar, bool, "forcar", "verdadeiro ou falso")
            versao, nova = self._criar(
                origem,
                modelo,
                tipo_mudanca,
                descricao,
                metricas,
                forcar,
                forcar_leitura,
                progresso,
                quem,
                inicio,
            )
        except Exception as e:
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
            raise
        return {"modelo": modelo, "versao": versao, "nova_versao": nova}

    def _criar(
        self,
        origem: Path,
        modelo: str,
        tipo_mudanca: str,
        descricao: str,
        metricas: dict[str, Any] | None,
        forcar: bool,
        forcar_leitura: bool,
        progresso: Progresso | None,
        quem: dict[str, Any],
        inicio: float,
    ) -> tuple[str, bool]:
        # lazy: startup time (docs/DESEMPENHO.md); a restore loads none of these
        from ..linhagem import coletar_linhagem
        from ..metricas import validar_metricas
        from ..politica.mudanca import inferir_tipo_mudanca

        incremento = incremento_de(tipo_mudanca)
        validar_nome_modelo(modelo)
        metricas = validar_metricas(metricas)
        tamanho_origem = checar_origem(origem)
        base = pasta_local(self.ctx.base)
        if (
            base is not None
            and origem.is_dir()
            and base.resolve().is_relative_to(origem.resolve())
        ):
            raise ErroRepositorio(
                f"{origem}: a pasta contém o próprio repositório ({base}); faça "
                "backup de uma pasta que não o contenha ou mude diretorios.base"
            )
        # One listing serves both pre-checks; publishing lists again (fresh).
        atual = self.ctx.repo.ultima_versao(modelo)
        if not forcar and not forcar_leitura and atual is not None:
            igual = self._versao_inalterada(origem, modelo, str(atual))
            if igual:
                log.info("Backup sem mudanças: %s já está em %s", modelo, igual)
                self.ctx.eventos.emitir("backup_ignorado", **quem, versao=igual)
                return igual, False
        validacao, inspecao = self._analisar(origem, auto=incremento == AUTO)
        self._checar_espaco(tamanho_origem, modelo, sem_base=atual is None)
        linhagem = coletar_linhagem(
            origem, validacao["biblioteca"] if validacao else None
        )
        with (
            travar(
                self.ctx.repo.caminho_trava("repositorio"),
                exclusiva=False,
                descricao="repositório (limpeza em andamento)",
            ),
            # Every machine's collection waits for this lease (docs/FORMATO.md).
            concessao_backup(self.ctx.repo.backend, ESPERA_TRAVA_S) as concessao,
        ):
            marca = marca_limpeza(self.ctx.repo.backend)
            # A collection may have run since this process last looked: what
            # the index remembers may sit in packs that are gone.
            self.ctx.repo.objetos.atualizar_indice(forcar=True)
            conteudo = self._gravar_conteudo(
                origem, progresso, (modelo, str(atual)) if atual else None
            )
            with travar(
                self.ctx.repo.caminho_trava(f"modelo-{modelo}"),
                espera=ESPERA_TRAVA_S,
                descricao=f"modelo {modelo}",
            ):
                versoes = self.ctx.repo.versoes(modelo)
                ultima = versoes[-1] if versoes else None
                if ultima and ultima["sha256"] == conteudo.sha256 and not forcar:
                    log.info(
                        "Backup sem mudanças: %s já está em %s",
                        modelo,
                        ultima["versao"],
                    )
                    self.ctx.eventos.emitir(
                        "backup_ignorado", **quem, versao=ultima["versao"]
                    )
                    return str(ultima["versao"]), False
                backend = self.ctx.repo.backend
                # Only a lease broken by hand (or expired) lets a collection
                # run meanwhile: then every reused chunk must still exist.
                perdida = concessao is not None and not concessao.valida()
                if perdida or marca_limpeza(backend) != marca:
                    self._conferir_apos_limpeza(conteudo.entradas, modelo)
                # The per-model lock is per machine; on a shared object store
                # another machine may take the version first: recompute, retry.
                for _tentativa in range(TENTATIVAS_PUBLICAR):
                    atual = self.ctx.repo.ultima_versao(modelo)
                    mudanca = None
                    efetivo = incremento
                    if incremento == AUTO:
                        anterior = (
                            self.consulta.inspecao_de(modelo, str(atual))
                            if atual
                            else None
                        )
                        efetivo, motivo = inferir_tipo_mudanca(anterior, inspecao)
                        mudanca = {
                            "automatica": True,
                            "incremento": efetivo,
                            "motivo": motivo,
                        }
                    nova = str(proxima_versao(atual, efetivo))
                    sidecar = Sidecar(
                        modelo=modelo,
                        versao=nova,
                        tipo=conteudo.tipo,
                        entradas=tuple(conteudo.entradas),
                        tamanho=conteudo.tamanho,
                        sha256=conteudo.sha256,
                        criado_em=agora_iso(),
                        tamanho_armazenado=conteudo.tamanho_armazenado,
                        tipo_mudanca=tipo_mudanca,
                        incremento=efetivo if atual else "inicial",
                        descricao=descricao,
                        usuario=_usuario(),
                        host=socket.gethostname(),
                        origem=str(origem.resolve()),
                        versao_anterior=str(atual) if atual else None,
                        avisos=tuple(conteudo.avisos),
                        metricas=metricas,
                        validacao=validacao,
                        inspecao=inspecao,
                        mudanca=mudanca,
                        linhagem=linhagem,
                    )
                    if self.ctx.repo.publicar(sidecar):
                        break
                    log.info(
                        "Versão %s de %s criada por outra máquina; recalculando",
                        nova,
                        modelo,
                    )
                else:
                    raise ErroBackup(
                        f"versão {nova} de {modelo} já existe (outras máquinas "
                        f"publicaram {TENTATIVAS_PUBLICAR} vezes antes); tente de novo"
                    )
                self.ctx.repo.resumos.sincronizar(modelo)
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
            tipo_mudanca=tipo_mudanca,
            incremento=sidecar.incremento,
            descricao=descricao,
            tamanho=conteudo.tamanho,
            tamanho_armazenado=conteudo.tamanho_armazenado,
            sha256=conteudo.sha256,
            duracao_s=round(time.monotonic() - inicio, 3),  # backup_duracao_segundos
        )
        return nova, True

    def _conferir_apos_limpeza(self, entradas: Any, modelo: str) -> None:
        """Another machine collected while we wrote: every chunk must still exist."""
        ids = {i for e in entradas for i, _ in e.blocos}
        # The bases of its delta chunks too (armazenamento/deltas.py).
        ids = fechar(ids, ler_registro(self.ctx.repo.objetos)[0])
        if faltam := self.ctx.repo.blocos_ausentes(ids):
            raise ErroRepositorio(
                f"backup de {modelo} não publicado: uma limpeza em outra máquina "
                f"removeu {len(faltam)} bloco(s) que este backup reaproveitava; "
                "nada foi alterado, rode o backup de novo"
            )

    def _versao_inalterada(self, origem: Path, modelo: str, atual: str) -> str | None:
        """`atual` (the latest version) when the source's stat says nothing changed."""
        try:
            sc = self.ctx.repo.ler_versao(modelo, atual)
        except ErroBackup:
            return None
        if sc.origem != str(origem.resolve()):
            return None
        return sc.versao if leitura.inalterado(origem, sc.entradas) else None

    def _gravar_conteudo(
        self,
        origem: Path,
        progresso: Progresso | None,
        pai: tuple[str, str] | None = None,
    ) -> leitura.Conteudo:
        """Chunk the source into packs and an index fragment (write order step 1-2);
        `pai` = (model, version) whose files deltas may refer to."""
        frag = self.ctx.repo.cabecalho["fragmentacao"]
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
                gravador.pais = pais_para_deltas(self.ctx.repo, *pai)
            conteudo = leitura.ler_origem(origem, sessao, gravador, progresso)
            sessao.concluir()
        except BaseException:
            sessao.abortar()
            raise
        return conteudo

    def _analisar(
        self, origem: Path, *, auto: bool
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Validate per `validacao.modo`; describe the model when `auto` needs it."""
        # lazy: startup time (docs/DESEMPENHO.md)
        from ..validacao import (
            analisar_modelo,
            erro_de_validacao,
            inspecionar_modelo,
            opcoes_da_config,
        )

        opcoes = opcoes_da_config(self.ctx.config)
        if self.ctx.config["validacao"]["modo"] == "desligado":
            return None, inspecionar_modelo(
                origem, **{k: v for k, v in opcoes.items() if k != "teste_carregamento"}
            ) if auto else None
        rel, insp = analisar_modelo(origem, inspecionar=auto, **opcoes)
        if not rel["valido"]:
            if self.ctx.config["validacao"]["modo"] == "bloquear":
                raise erro_de_validacao(rel)
            log.warning(
                "Validação falhou (modo avisar, backup segue): %s",
                "; ".join(rel["problemas"]),
            )
        return rel, insp

    def _checar_espaco(self, necessario: int, modelo: str, *, sem_base: bool) -> None:
        base = pasta_local(self.ctx.base)
        if base is None:
            return  # an object store has no free space to measure
        esp = self.ctx.config["espaco_disco"]
        livre = shutil.disk_usage(base).free
        mb = 1024 * 1024
        if livre < esp["aviso_mb"] * mb:
            log.warning("Espaço em disco baixo: %dMB", livre // mb)
            self.ctx.eventos.emitir(
                "espaco_baixo",
                base=str(self.ctx.base),
                livre=livre,
                aviso_mb=esp["aviso_mb"],
            )
        reserva = esp["reserva_mb"] * mb
        # Without a previous version nothing can deduplicate: the whole size must fit.
        if livre < reserva or (sem_base and necessario > livre - reserva):
            raise ErroEspacoInsuficiente(
                f"{self.ctx.base}: espaço em disco insuficiente para o backup de "
                f"{modelo} "
                f"(precisa de {tamanho_legivel(necessario)}; livres "
                f"{tamanho_legivel(livre)}, reserva {esp['reserva_mb']} MB). "
                "Libere espaço ou rode "
                "`inicializar_backup.py limpeza`."
            )


def nome_do_modelo(caminho: str | Path) -> str:
    """The repository name of a model: the file or folder name the user gave.

    Lexical (os.path.abspath): "." becomes the folder's name, and a symlink keeps
    its own name rather than its target's.
    """
    return Path(os.path.abspath(caminho)).name


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
    checar_caminho(caminho)
    exigir(tipo_mudanca, str, "tipo_mudanca", "um texto como 'patch' ou 'auto'")
    incremento_de(tipo_mudanca)
    checar_origem(Path(caminho))  # a missing file is the first thing to say
    nome = nome_modelo if isinstance(nome_modelo, str) else ""
    nome = nome or nome_do_modelo(caminho)
    checar_backup(caminho, tipo_mudanca, descricao, nome_modelo, nome)
    validar_nome_modelo(nome)  # 'a/b' is refused before the repository exists
