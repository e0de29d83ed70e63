"""The facade every entry point goes through: API, CLI and daemon."""

from __future__ import annotations

import copy
import getpass
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import config as configuracao
from . import registro
from .argumentos import CAMINHO, checar_backup, exigir
from .armazenamento.backends import Backend, traduzir_erro_os
from .armazenamento.backends.endereco import backend_para, e_local
from .armazenamento.coleta import coletar
from .armazenamento.fluxo import GravadorBlocos, Progresso, sha256_arquivo
from .armazenamento.repositorio import Repositorio, agora_iso
from .armazenamento.sidecar import Sidecar, validar_nome_modelo
from .armazenamento.trava import travar
from .arvore import escrita, leitura
from .erros import (
    ErroArquivoNaoEncontrado,
    ErroBackup,
    ErroEspacoInsuficiente,
    ErroPermissao,
    ErroRepositorio,
    ErroVersaoNaoEncontrada,
)
from .eventos import BarramentoEventos
from .integracoes import Integracoes
from .linhagem import coletar_linhagem
from .metricas import validar_metricas
from .politica.mudanca import comparar_arquiteturas, inferir_tipo_mudanca
from .politica.retencao import PoliticaRetencao, aplicar_politica
from .politica.versoes import AUTO, ULTIMA, Versao, incremento_de, proxima_versao
from .seguranca.contexto import ContextoSeguranca
from .servicos.destino import preparar_pasta, resolver_destino
from .texto import plural, tamanho_legivel
from .validacao import (
    analisar_modelo,
    erro_de_validacao,
    inspecionar_modelo,
    opcoes_da_config,
)

log = logging.getLogger(registro.NOME_LOGGER)
Ouvinte = Callable[[str, dict[str, Any]], None]

# An event carries the first problems of a failed check; the report has them all.
MAXIMO_PROBLEMAS_EVENTO = 50
# How long a backup waits for another process holding the same model's lock.
ESPERA_TRAVA_S = 600.0


class GerenciadorBackupVersionamento:
    """Back up, version, verify and restore ML models in one repository.

    `diretorio_base` overrides `diretorios.base`; `config` is a path to a JSON
    file, a dict of settings, or None (./config_backup.json if present, else
    defaults).
    """

    def __init__(
        self,
        diretorio_base: str | Path | None = None,
        config: str | Path | dict[str, Any] | None = None,
        *,
        criar_repositorio: bool = True,
        backend: Backend | None = None,
    ) -> None:
        self.config = _config_de(diretorio_base, config)
        self.base = Path(self.config["diretorios"]["base"])
        perf = self.config["performance"]
        # A backend may be injected (tests, fault injection); else from the address.
        self.backend = backend or backend_para(self.base)
        # Keys, signer, access control and audit (docs/SEGURANCA.md).
        self.seguranca = ContextoSeguranca(self.config, self.backend)
        self.repo = Repositorio.abrir(
            self.backend,
            criar=criar_repositorio and not self.backend.somente_leitura,
            preparar_criacao=self.seguranca.preparar_criacao,
            chaves=self.seguranca.chaves,
            estado=self.config["diretorios"]["estado"],
            threads=perf["threads_backup"],
            threads_compressao=perf["threads_compressao"],
            buffer_mb=perf["buffer_size_mb"],
            cache_mb=perf["cache_size_mb"],
            nivel_compressao=perf["nivel_compressao"],
        )
        # Caches, locks and integration queues of this machine (never the truth).
        self.pasta_estado = self.repo.pasta_estado
        # The spec's log folder: inside a local writable repository; a read-only
        # or remote one logs to this machine's state folder.
        if e_local(self.base) and not self.backend.somente_leitura:
            self.pasta_logs = self.base / "logs"
        else:
            self.pasta_logs = self.pasta_estado / "logs"
        dev = self.config["desenvolvimento"]
        self.arquivo_log = registro.configurar(
            self.pasta_logs, debug=dev["modo_debug"], detalhado=dev["log_detalhado"]
        )
        # One bus for every event; the journal and the integrations subscribe.
        self.eventos = BarramentoEventos()
        self.integracoes = Integracoes(
            self.config,
            self.eventos,
            pasta_estado=self.pasta_estado,
            pasta_logs=self.pasta_logs,
            ler_sidecar=self.obter_versao,
        )
        self.seguranca.ligar(self.repo, self.eventos, self.pasta_logs)

    def _autorizar(self, papel: str) -> None:
        """Access control (seguranca.controle_acesso): raise ErroAcessoNegado."""
        self.seguranca.autorizar(papel, self.eventos)

    # -- lifecycle and events ----------------------------------------------------
    def fechar(self) -> None:
        self.eventos.fechar()  # deliver what was emitted, then stop subscribers
        self.integracoes.fechar()
        self.repo.fechar()
        registro.remover_handlers(self.pasta_logs)

    def __enter__(self) -> GerenciadorBackupVersionamento:
        return self

    def __exit__(self, *_: object) -> None:
        self.fechar()

    def inscrever(self, ouvinte: Ouvinte) -> None:
        """Call `ouvinte(nome, dados)` for every event (docs/EVENTOS.md).

        It runs on its own thread: it never slows or breaks an action, and it
        sees each event shortly after it happens, not during the call.
        """
        self.eventos.inscrever(
            lambda ev: ouvinte(ev.nome, copy.deepcopy(ev.dados)),  # its own copy
            nome=getattr(ouvinte, "__name__", "ouvinte"),
        )

    # -- backup ------------------------------------------------------------------
    def criar_backup(
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
    ) -> str:
        """Store `caminho` (a file or a model folder) as a new version; return it.

        Content identical to the latest version returns that version and writes
        nothing, unless `forcar`.
        """
        return str(
            self.criar_backup_detalhado(
                caminho,
                tipo_mudanca,
                descricao,
                metricas,
                forcar=forcar,
                forcar_leitura=forcar_leitura,
                nome_modelo=nome_modelo,
                progresso=progresso,
            )["versao"]
        )

    def criar_backup_detalhado(
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
        """Like `criar_backup`, but also say whether this call created the version.

        Returns {"modelo", "versao", "nova_versao"}: another process may publish
        the same content at the same moment, so only this call knows.
        `origem_pedido` (api, cli, agendado, monitoramento, manual) goes into the
        events.
        """
        self._autorizar("backup")
        exigir(caminho, CAMINHO, "caminho", "um caminho (texto ou Path)")
        origem = Path(caminho)
        modelo = nome_modelo if isinstance(nome_modelo, str) else ""
        modelo = modelo or nome_do_modelo(origem)
        quem = {
            "modelo": modelo,
            "caminho": os.path.abspath(origem),
            "origem": origem_pedido,
        }
        self.eventos.emitir("backup_iniciado", **quem)
        try:
            checar_backup(caminho, tipo_mudanca, descricao, nome_modelo, modelo)
            exigir(forcar, bool, "forcar", "verdadeiro ou falso")
            versao, nova = self._criar_backup(
                origem,
                modelo,
                tipo_mudanca,
                descricao,
                metricas,
                forcar,
                forcar_leitura,
                progresso,
                quem,
            )
        except Exception as e:
            if isinstance(e, ErroBackup):
                log.error("Backup falhou: %s", e)
            self.eventos.emitir(
                "backup_falhou", **quem, erro=str(e), tipo_erro=type(e).__name__
            )
            raise
        return {"modelo": modelo, "versao": versao, "nova_versao": nova}

    def _criar_backup(
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
    ) -> tuple[str, bool]:
        incremento = incremento_de(tipo_mudanca)
        validar_nome_modelo(modelo)
        metricas = validar_metricas(metricas)
        tamanho_origem = _checar_origem(origem)
        if origem.is_dir() and self.base.resolve().is_relative_to(origem.resolve()):
            raise ErroRepositorio(
                f"{origem}: a pasta contém o próprio repositório ({self.base}); faça "
                "backup de uma pasta que não o contenha ou mude diretorios.base"
            )
        if not forcar and not forcar_leitura:
            igual = self._versao_inalterada(origem, modelo)
            if igual:
                log.info("Backup sem mudanças: %s já está em %s", modelo, igual)
                self.eventos.emitir("backup_ignorado", **quem, versao=igual)
                return igual, False
        validacao, inspecao = self._analisar(origem, auto=incremento == AUTO)
        self._checar_espaco(tamanho_origem, modelo)
        linhagem = coletar_linhagem(
            origem, validacao["biblioteca"] if validacao else None
        )
        with travar(
            self.repo.caminho_trava("repositorio"),
            exclusiva=False,
            descricao="repositório (limpeza em andamento)",
        ):
            conteudo = self._gravar_conteudo(origem, progresso)
            with travar(
                self.repo.caminho_trava(f"modelo-{modelo}"),
                espera=ESPERA_TRAVA_S,
                descricao=f"modelo {modelo}",
            ):
                versoes = self.repo.versoes(modelo)
                ultima = versoes[-1] if versoes else None
                if ultima and ultima["sha256"] == conteudo.sha256 and not forcar:
                    log.info(
                        "Backup sem mudanças: %s já está em %s",
                        modelo,
                        ultima["versao"],
                    )
                    self.eventos.emitir(
                        "backup_ignorado", **quem, versao=ultima["versao"]
                    )
                    return str(ultima["versao"]), False
                atual = self.repo.ultima_versao(modelo)
                mudanca = None
                if incremento == AUTO:
                    anterior = self._inspecao_de(modelo, str(atual)) if atual else None
                    incremento, motivo = inferir_tipo_mudanca(anterior, inspecao)
                    mudanca = {
                        "automatica": True,
                        "incremento": incremento,
                        "motivo": motivo,
                    }
                nova = str(proxima_versao(atual, incremento))
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
                    incremento=incremento if atual else "inicial",
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
                if not self.repo.publicar(sidecar):  # cannot happen under the lock
                    raise ErroBackup(
                        f"versão {nova} de {modelo} já existe; tente de novo"
                    )
                self.repo.resumos.sincronizar(modelo)
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
        self.eventos.emitir(
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
        )
        return nova, True

    def _versao_inalterada(self, origem: Path, modelo: str) -> str | None:
        """The latest version when the source's stat says nothing changed."""
        atual = self.repo.ultima_versao(modelo)
        if atual is None:
            return None
        try:
            sc = self.repo.ler_versao(modelo, str(atual))
        except ErroBackup:
            return None
        if sc.origem != str(origem.resolve()):
            return None
        return sc.versao if leitura.inalterado(origem, sc.entradas) else None

    def _gravar_conteudo(
        self, origem: Path, progresso: Progresso | None
    ) -> leitura.Conteudo:
        """Chunk the source into packs and an index fragment (write order step 1-2)."""
        frag = self.repo.cabecalho["fragmentacao"]
        sessao = self.repo.sessao()
        try:
            gravador = GravadorBlocos(
                sessao,
                threads=self.repo.threads,
                buffer_mb=self.repo.buffer_mb,
                medio=frag["medio"],
                minimo=frag["minimo"],
                maximo=frag["maximo"],
            )
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
        opcoes = opcoes_da_config(self.config)
        if self.config["validacao"]["modo"] == "desligado":
            return None, inspecionar_modelo(
                origem, **{k: v for k, v in opcoes.items() if k != "teste_carregamento"}
            ) if auto else None
        rel, insp = analisar_modelo(origem, inspecionar=auto, **opcoes)
        if not rel["valido"]:
            if self.config["validacao"]["modo"] == "bloquear":
                raise erro_de_validacao(rel)
            log.warning(
                "Validação falhou (modo avisar, backup segue): %s",
                "; ".join(rel["problemas"]),
            )
        return rel, insp

    def _inspecao_de(self, modelo: str, versao: str) -> dict[str, Any] | None:
        """A stored version's description; restored to a temp folder if not kept."""
        sc = self.repo.ler_versao(modelo, versao)
        if sc.inspecao:
            return dict(sc.inspecao)
        opcoes = opcoes_da_config(self.config)
        opcoes.pop("teste_carregamento")
        with tempfile.TemporaryDirectory(
            dir=self.pasta_estado, prefix=".inspecao-"
        ) as tmp:
            caminho = escrita.restaurar(
                self.repo.objetos, sc, Path(tmp) / sc.modelo, threads=self.repo.threads
            )
            return inspecionar_modelo(caminho, **opcoes)

    def validar_arquivo(self, caminho: str | Path) -> dict[str, Any]:
        """Validation report of a model file or folder (structure + load test)."""
        rel, _ = analisar_modelo(
            Path(caminho), inspecionar=False, **opcoes_da_config(self.config)
        )
        return rel

    def _checar_espaco(self, necessario: int, modelo: str) -> None:
        esp = self.config["espaco_disco"]
        livre = shutil.disk_usage(self.base).free
        mb = 1024 * 1024
        if livre < esp["aviso_mb"] * mb:
            log.warning("Espaço em disco baixo: %dMB", livre // mb)
            self.eventos.emitir(
                "espaco_baixo",
                base=str(self.base),
                livre=livre,
                aviso_mb=esp["aviso_mb"],
            )
        reserva = esp["reserva_mb"] * mb
        # Without a previous version nothing can deduplicate: the whole size must fit.
        sem_base = self.repo.ultima_versao(modelo) is None
        if livre < reserva or (sem_base and necessario > livre - reserva):
            raise ErroEspacoInsuficiente(
                f"{self.base}: espaço em disco insuficiente para o backup de {modelo} "
                f"(precisa de {tamanho_legivel(necessario)}; livres "
                f"{tamanho_legivel(livre)}, reserva {esp['reserva_mb']} MB). "
                "Libere espaço ou rode "
                "`inicializar_backup.py limpeza`."
            )

    # -- queries -----------------------------------------------------------------
    def listar_modelos(self) -> list[str]:
        self._autorizar("consulta")
        return self.repo.modelos()

    def listar_versoes(self, modelo: str | Path) -> list[dict[str, Any]]:
        """Versions of a model, oldest first (from the metadata cache)."""
        self._autorizar("consulta")
        nome = _nome(modelo)
        versoes = self.repo.versoes(nome)
        if not versoes and self.repo.ultima_versao(nome) is None:
            raise ErroVersaoNaoEncontrada(
                f"modelo {nome!r} não tem backups em {self.base}; modelos existentes: "
                f"{', '.join(self.listar_modelos()) or 'nenhum'}"
            )
        return versoes

    def resolver_versao(self, modelo: str | Path, versao: str) -> str:
        exigir(versao, str, "versao", "um texto como '1.2.3' ou 'ultima'")
        if versao in (ULTIMA, "última", "latest"):
            versoes = self.listar_versoes(modelo)
            return str(versoes[-1]["versao"])
        return str(Versao.ler(versao))

    def obter_versao(self, modelo: str | Path, versao: str = ULTIMA) -> dict[str, Any]:
        """The full sidecar of a version, read and checked from the repository."""
        self._autorizar("consulta")
        return self._sidecar(modelo, versao).como_dict()

    def _sidecar(self, modelo: str | Path, versao: str = ULTIMA) -> Sidecar:
        nome = _nome(modelo)
        return self.repo.ler_versao(nome, self.resolver_versao(nome, versao))

    # -- restore -----------------------------------------------------------------
    def restaurar_backup(
        self,
        modelo: str | Path,
        versao: str = ULTIMA,
        destino: str | Path = ".",
        *,
        sobrescrever: bool = False,
        progresso: Progresso | None = None,
    ) -> str:
        """Restore a version into `destino` (see `servicos.destino` for the rules)."""
        return str(
            self.restaurar_backup_detalhado(
                modelo, versao, destino, sobrescrever=sobrescrever, progresso=progresso
            )["caminho"]
        )

    def restaurar_backup_detalhado(
        self,
        modelo: str | Path,
        versao: str = ULTIMA,
        destino: str | Path = ".",
        *,
        sobrescrever: bool = False,
        progresso: Progresso | None = None,
    ) -> dict[str, Any]:
        """Like `restaurar_backup`, plus how the destination was read and why.

        Returns {"caminho", "tratado_como" ("pasta" | "arquivo"), "motivo"}.
        """
        self._autorizar("restaurar")
        exigir(destino, CAMINHO, "destino", "um caminho (texto ou Path)")
        exigir(sobrescrever, bool, "sobrescrever", "verdadeiro ou falso")
        try:
            sidecar = self._sidecar(modelo, versao)
            r = resolver_destino(destino, sidecar.modelo, sidecar.tipo, self.base)
            preparar_pasta(r.caminho)
            final = escrita.restaurar(
                self.repo.objetos,
                sidecar,
                r.caminho,
                sobrescrever=sobrescrever,
                threads=self.repo.threads,
                progresso=progresso,
            )
        except Exception as e:
            if isinstance(e, ErroBackup):
                log.error(
                    "Restauração falhou: %s %s -> %s: %s", modelo, versao, destino, e
                )
            self.eventos.emitir(
                "restauracao_falhou",
                modelo=_nome(modelo),
                versao=versao,
                destino=os.path.abspath(destino),
                erro=str(e),
                tipo_erro=type(e).__name__,
            )
            raise
        log.info(
            "Backup restaurado: %s %s -> %s", sidecar.modelo, sidecar.versao, final
        )
        self.eventos.emitir(
            "restauracao_concluida",
            modelo=sidecar.modelo,
            versao=sidecar.versao,
            destino=str(final),
            tamanho=sidecar.tamanho,
            sha256=sidecar.sha256,
        )
        return {
            "caminho": str(final),
            "tratado_como": r.tratado_como,
            "motivo": r.motivo,
        }

    # -- checks ------------------------------------------------------------------
    def verificar_integridade(
        self,
        completa: bool = False,
        modelo: str | None = None,
        progresso: Progresso | None = None,
    ) -> dict[str, Any]:
        """Check every version: sidecars parse, every chunk exists and hashes right.

        `completa` also rebuilds each version and checks its SHA-256.
        """
        self._autorizar("consulta")
        if modelo:
            self.listar_versoes(modelo)  # an unknown model is an error, not "OK"
        rel = self.repo.verificar(completa=completa, modelo=modelo, progresso=progresso)
        # Not an integrity fault, but worth seeing: versions stored despite a
        # failed model validation (validacao.modo = "avisar").
        rel["validacao_falhou"] = [
            f"{m} {v['versao']}"
            for m in ([modelo] if modelo else self.listar_modelos())
            for v in self.repo.versoes(m)
            if v.get("validacao") and not v["validacao"].get("valido", True)
        ]
        resumo = {
            "modelo": modelo,
            "completa": completa,
            "versoes_verificadas": rel["versoes_verificadas"],
            "objetos_verificados": rel["objetos_verificados"],
        }
        if rel["ok"]:
            self.eventos.emitir("verificacao_concluida", **resumo)
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
            self.eventos.emitir(
                "verificacao_falhou",
                **resumo,
                versoes_com_problema=rel["versoes_com_problema"],
                problemas=rel["problemas"][:MAXIMO_PROBLEMAS_EVENTO],
                total_problemas=len(rel["problemas"]),
            )
        return rel

    def verificar_arquivo(self, caminho: str | Path) -> dict[str, Any]:
        """Check a model file on disk and whether it matches a stored version."""
        self._autorizar("consulta")
        origem = Path(caminho)
        tamanho = _checar_origem(origem)
        resultado: dict[str, Any] = {
            "arquivo": str(origem),
            "tamanho": tamanho,
            "problemas": [],
            "versao_correspondente": None,
        }
        if origem.is_file():
            resultado["sha256"] = sha256_arquivo(origem)[1]
        if self.config["validacao"]["modo"] != "desligado":
            rel = self.validar_arquivo(origem)
            resultado["validacao"] = rel
            resultado["problemas"].extend(rel["problemas"])
        nome = nome_do_modelo(origem)
        try:
            for v in reversed(self.repo.versoes(nome)):
                if v["sha256"] == resultado.get("sha256"):
                    resultado["versao_correspondente"] = v["versao"]
                    break
        except ErroBackup as e:
            resultado["problemas"].append(str(e))
        resultado["valido"] = not resultado["problemas"]
        return resultado

    def comparar_versoes(
        self, modelo: str | Path, versao_a: str, versao_b: str = ULTIMA
    ) -> dict[str, Any]:
        """What changed from version a to b: bytes, chunks, files, metrics, layers."""
        self._autorizar("consulta")
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
        ia = self._inspecao_de(a["modelo"], a["versao"])
        ib = self._inspecao_de(b["modelo"], b["versao"])
        if ia is None or ib is None:
            return None
        return comparar_arquiteturas(ia, ib)

    def fixar_versao(self, modelo: str, versao: str, fixa: bool = True) -> str:
        """Pin a version so retention never removes it (or unpin it)."""
        self._autorizar("admin")
        v = self.resolver_versao(modelo, versao)
        self.repo.fixar(_nome(modelo), v, fixa)
        log.info("Versão %s: %s %s", "fixada" if fixa else "desafixada", modelo, v)
        self.eventos.emitir(
            "versao_fixada" if fixa else "versao_desafixada",
            modelo=_nome(modelo),
            versao=v,
        )
        return v

    def limpeza(
        self,
        simular: bool = False,
        modelo: str | None = None,
        agora: datetime | None = None,
    ) -> dict[str, Any]:
        """Apply the retention policy, then collect unreferenced chunks.

        `simular` only returns the plan. Sidecars go first, chunks after, all
        under the repository lock held exclusive (running backups finish first).
        """
        self._autorizar("limpeza")
        politica = PoliticaRetencao.de_config(self.config["retencao"])
        agora = agora or datetime.now(timezone.utc)
        modelos = [modelo] if modelo else self.listar_modelos()
        plano = {
            m: aplicar_politica(self.listar_versoes(m), politica, agora)
            for m in modelos
        }
        remover = [(m, d) for m, ds in plano.items() for d in ds if not d.manter]
        saida: dict[str, Any] = {
            "simulado": simular,
            "modelos": {m: [d.como_dict() for d in ds] for m, ds in plano.items()},
            "versoes_removidas": [f"{m} {d.versao}" for m, d in remover],
            "versoes_mantidas": sum(d.manter for ds in plano.values() for d in ds),
        }
        if simular:
            return saida
        carencia = self.config["retencao"]["carencia_coleta_minutos"] * 60
        with travar(
            self.repo.caminho_trava("repositorio"),
            espera=ESPERA_TRAVA_S,
            descricao="repositório (backup em andamento)",
        ):
            for m, d in remover:
                self.repo.remover_versao(m, d.versao)
                log.info(
                    "Versão removida: %s %s (%s)", m, d.versao, "; ".join(d.motivos)
                )
                self.eventos.emitir(
                    "versao_removida", modelo=m, versao=d.versao, motivos=d.motivos
                )
            coleta = coletar(self.repo, carencia)
        saida.update(coleta)
        log.info(
            "Limpeza concluída: %s, %s, %s, %d bytes liberados",
            plural(len(remover), "versão removida", "versões removidas"),
            plural(coleta["pacotes_removidos"], "pacote removido", "pacotes removidos"),
            plural(
                coleta["pacotes_reempacotados"],
                "pacote reempacotado",
                "pacotes reempacotados",
            ),
            coleta["bytes_liberados"],
        )
        self.eventos.emitir(
            "limpeza_concluida",
            **coleta,
            modelo=modelo,
            versoes_removidas=len(remover),
            versoes_mantidas=saida["versoes_mantidas"],
        )
        return saida

    aplicar_retencao = limpeza

    def status(self) -> dict[str, Any]:
        self._autorizar("consulta")
        modelos = self.repo.modelos()
        totais = self.repo.resumos.totais()
        n_pacotes, armazenado = self.repo.tamanho_pacotes()
        ultimo = None
        for m in modelos:
            for v in self.repo.versoes(m)[-1:]:
                if ultimo is None or v["criado_em"] > ultimo["criado_em"]:
                    ultimo = {
                        "modelo": m,
                        "versao": v["versao"],
                        "criado_em": v["criado_em"],
                    }
        uso = shutil.disk_usage(self.base)
        return {
            "base": str(self.base),
            "formato": self.repo.cabecalho["formato"],
            "id": self.repo.cabecalho["id"],
            "modelos": len(modelos),
            "versoes": totais["versoes"],
            "tamanho_logico": totais["tamanho_logico"],
            "tamanho_armazenado": armazenado,
            "pacotes": n_pacotes,
            "razao_economia": round(totais["tamanho_logico"] / armazenado, 2)
            if armazenado
            else None,
            "ultimo_backup": ultimo,
            "espaco_livre": uso.free,
            "espaco_baixo": uso.free
            < self.config["espaco_disco"]["aviso_mb"] * 1024**2,
            "aviso_espaco_mb": self.config["espaco_disco"]["aviso_mb"],
            "log": str(self.arquivo_log),
            "integracoes": self.integracoes.status(),
        }


def verificar_integridade(
    caminho: str | Path,
    diretorio_base: str | Path | None = None,
    config: str | Path | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Diagnose a model file: readable, valid, its SHA-256, the version it matches.

    Never raises for what it finds: problems go into the result and are logged as
    warnings, so the manual's one-liner shows them. Works without a repository.
    """
    origem = Path(caminho)
    try:
        try:
            g = GerenciadorBackupVersionamento(
                diretorio_base, config, criar_repositorio=False
            )
        except ErroRepositorio as e:  # no repository yet: still check the file
            r = _verificar_sem_repositorio(origem, _config_de(diretorio_base, config))
            r["avisos"] = [str(e)]
        else:
            with g:
                r = g.verificar_arquivo(origem)
    except ErroBackup as e:
        r = {
            "arquivo": str(origem),
            "valido": False,
            "problemas": [str(e)],
            "versao_correspondente": None,
        }
    if not r["valido"]:
        log.warning("Falha na validação de %s: %s", origem, "; ".join(r["problemas"]))
    return r


def _verificar_sem_repositorio(origem: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    r: dict[str, Any] = {
        "arquivo": str(origem),
        "tamanho": _checar_origem(origem),
        "sha256": sha256_arquivo(origem)[1] if origem.is_file() else None,
        "versao_correspondente": None,
        "problemas": [],
    }
    if cfg["validacao"]["modo"] != "desligado":
        rel, _ = analisar_modelo(origem, inspecionar=False, **opcoes_da_config(cfg))
        r["validacao"] = rel
        r["problemas"].extend(rel["problemas"])
    r["valido"] = not r["problemas"]
    return r


def _config_de(
    diretorio_base: str | Path | None, config: str | Path | dict[str, Any] | None
) -> dict[str, Any]:
    if isinstance(config, dict):
        return configuracao.de_dicionario(config, diretorio_base)
    return configuracao.carregar(config, base=diretorio_base)


def nome_do_modelo(caminho: str | Path) -> str:
    """The repository name of a model: the file or folder name the user gave.

    Lexical (os.path.abspath): "." becomes the folder's name, and a symlink keeps
    its own name rather than its target's.
    """
    return Path(os.path.abspath(caminho)).name


def _nome(modelo: str | Path) -> str:
    exigir(modelo, CAMINHO, "modelo", "o nome do modelo (texto)")
    return (
        Path(modelo).name
        if isinstance(modelo, Path) or "/" in str(modelo)
        else str(modelo)
    )


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
    exigir(caminho, CAMINHO, "caminho", "um caminho (texto ou Path)")
    exigir(tipo_mudanca, str, "tipo_mudanca", "um texto como 'patch' ou 'auto'")
    incremento_de(tipo_mudanca)
    _checar_origem(Path(caminho))  # a missing file is the first thing to say
    nome = nome_modelo if isinstance(nome_modelo, str) else ""
    checar_backup(
        caminho, tipo_mudanca, descricao, nome_modelo, nome or nome_do_modelo(caminho)
    )


def _checar_origem(origem: Path) -> int:
    """Fail early, with a clear message, on a missing or unreadable source."""
    try:
        if not origem.exists():
            raise ErroArquivoNaoEncontrado(
                f"{origem}: arquivo não encontrado; confira o caminho (ls -la {origem})"
            )
        if origem.is_dir():
            total = 0
            for pasta, _subs, nomes in os.walk(origem):
                if not os.access(pasta, os.R_OK | os.X_OK):
                    raise ErroPermissao(
                        f"{pasta}: sem permissão de leitura; "
                        f"rode chmod -R u+rX {origem}"
                    )
                for n in nomes:
                    p = Path(pasta) / n
                    if p.is_file() and not p.is_symlink():
                        if not os.access(p, os.R_OK):
                            raise ErroPermissao(
                                f"{p}: sem permissão de leitura; rode chmod 644 {p}"
                            )
                        total += p.stat().st_size
            return total
        if not origem.is_file():
            raise ErroArquivoNaoEncontrado(
                f"{origem}: não é um arquivo comum nem uma pasta"
            )
        with open(origem, "rb"):
            pass
        return origem.stat().st_size
    except PermissionError:
        raise ErroPermissao(
            f"{origem}: sem permissão de leitura; rode chmod 644 {origem}"
        ) from None
    except OSError as e:
        raise traduzir_erro_os(e, str(origem)) from e
