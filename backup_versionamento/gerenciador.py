"""The facade every entry point goes through: API, CLI and daemon.

It keeps the spec's names and delegates each use case to a service in
`servicos/` (backup, restore, checks, cleanup, queries); the parts those use
(configuration, repository, event bus) are built here and injected.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from . import config as configuracao
from . import registro
from .argumentos import exigir
from .armazenamento.backends import Backend
from .armazenamento.backends.endereco import backend_para
from .armazenamento.fluxo import Progresso
from .armazenamento.repositorio import Repositorio
from .armazenamento.sidecar import validar_nome_modelo
from .base.endereco import pasta_local
from .erros import ErroBackup, ErroRepositorio, ErroValidacao
from .eventos import BarramentoEventos
from .integracoes import Integracoes
from .politica.versoes import ULTIMA, incremento_de
from .seguranca.acesso import usuario_atual
from .seguranca.contexto import ContextoSeguranca
from .servicos.aliases import ServicoAliases
from .servicos.backup import ServicoBackup, checar_pedido, nome_do_modelo
from .servicos.consulta import ServicoConsulta
from .servicos.contexto import Contexto
from .servicos.limpeza import ServicoLimpeza
from .servicos.restauracao import ServicoRestauracao
from .servicos.verificacao import ServicoVerificacao, verificar_sem_repositorio

__all__ = [
    "GerenciadorBackupVersionamento",
    "checar_pedido",
    "nome_do_modelo",
    "verificar_integridade",
]

log = logging.getLogger(registro.NOME_LOGGER)
Ouvinte = Callable[[str, dict[str, Any]], None]


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
        endereco = self.config["diretorios"]["base"]
        # A folder (Path) or an object store address kept verbatim (s3://...).
        self.base: Path | str = pasta_local(endereco) or endereco
        perf = self.config["performance"]
        # A backend may be injected (tests, fault injection); else from the address.
        self.backend = backend or backend_para(self.base, self.config)
        # Keys, signer, access control and audit (docs/SEGURANCA.md).
        self.seguranca = ContextoSeguranca(self.config, self.backend)
        criar = criar_repositorio and not self.backend.somente_leitura
        # Only someone who may back up creates a repository: a denied user
        # writes nothing, not even an empty one (docs/SEGURANCA.md).
        negado = criar and not self.seguranca.acesso.permitido(
            "backup", usuario_atual()
        )
        try:
            self.repo = Repositorio.abrir(
                self.backend,
                criar=criar and not negado,
                preparar_criacao=self.seguranca.preparar_criacao,
                chaves=self.seguranca.chaves,
                estado=self.config["diretorios"]["estado"],
                threads=perf["threads_backup"],
                threads_compressao=perf["threads_compressao"],
                buffer_mb=perf["buffer_size_mb"],
                cache_mb=perf["cache_size_mb"],
                nivel_compressao=perf["nivel_compressao"],
            )
        except ErroRepositorio:
            if negado:  # there is none: say why none was created
                self.seguranca.acesso.autorizar("backup", "criar backups")
            raise
        # Caches, locks and integration queues of this machine (never the truth).
        self.pasta_estado = self.repo.pasta_estado
        # The spec's log folder: inside a local writable repository; a read-only
        # or remote one logs to this machine's state folder.
        # Where the spec's files for people go (logs/, relatorios/): inside a
        # local writable repository; else in this machine's state folder.
        pasta = pasta_local(self.base)
        if pasta is not None and not self.backend.somente_leitura:
            self.pasta_saidas: Path = pasta
        else:
            self.pasta_saidas = self.pasta_estado
        # The audit log stays with the repository (its entries hide names when
        # the repository does); the spec's log, the activity journal and the
        # reports name models, versions, paths and hashes, so a repository that
        # hides names keeps them on this machine (docs/SEGURANCA.md).
        self.pasta_auditoria = self.pasta_saidas / "logs"
        if self.repo.nomes.ocultos:
            self.pasta_saidas = self.pasta_estado
        self.pasta_logs = self.pasta_saidas / "logs"
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
            backend=self.backend,
        )
        self.seguranca.ligar(self.repo, self.eventos, self.pasta_auditoria)
        # The use cases, each given the parts it works on.
        ctx = Contexto(
            self.config, self.base, self.repo, self.eventos, self.pasta_estado
        )
        self.consulta = ServicoConsulta(ctx)
        self.consulta.assinador_aliases = lambda: self.seguranca.assinador
        self._backup = ServicoBackup(ctx, self.consulta)
        self._restauracao = ServicoRestauracao(ctx, self.consulta)
        self._verificacao = ServicoVerificacao(ctx, self.consulta)
        self._limpeza = ServicoLimpeza(ctx, self.consulta)
        self._aliases = ServicoAliases(ctx, self.consulta)

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

    def _autorizar(self, papel: str) -> None:
        """Access control (seguranca.controle_acesso): raise ErroAcessoNegado."""
        self.seguranca.autorizar(papel, self.eventos)

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
        nothing, unless `forcar`. A model whose files' size, mtime, inode and
        ctime match the latest version is recognised without being read, unless
        `forcar_leitura`.
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
        return self._backup.criar(
            caminho,
            tipo_mudanca,
            descricao,
            metricas,
            forcar=forcar,
            forcar_leitura=forcar_leitura,
            nome_modelo=nome_modelo,
            progresso=progresso,
            origem_pedido=origem_pedido,
        )

    def versionar_objeto(
        self,
        objeto: Any,
        nome: str,
        tipo_mudanca: str = "auto",
        metricas: dict[str, Any] | None = None,
        descricao: str = "",
    ) -> str:
        """Back up a live model (Keras, PyTorch, XGBoost, LightGBM, scikit-learn).

        It is written in its library's own format (objetos_vivos.py) into a
        temporary folder and backed up like a file; the model's name in the
        repository gets the format's extension when `nome` has none (rede ->
        rede.keras). Returns the version, like `criar_backup`.
        """
        from . import objetos_vivos  # lazy: the ML libraries load only here

        exigir(nome, str, "nome", "o nome do modelo no repositório (texto)")
        exigir(tipo_mudanca, str, "tipo_mudanca", "um texto como 'auto' ou 'minor'")
        incremento_de(tipo_mudanca)  # a wrong kind fails before the model is saved
        nome_modelo = objetos_vivos.nome_arquivo(
            nome, objetos_vivos.biblioteca_de(objeto)
        )
        validar_nome_modelo(nome_modelo)
        self.pasta_estado.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(
            dir=self.pasta_estado, prefix=".objeto-"
        ) as tmp:
            caminho = objetos_vivos.serializar(objeto, Path(tmp), nome_modelo)
            return self.criar_backup(
                caminho, tipo_mudanca, descricao, metricas, nome_modelo=nome_modelo
            )

    def carregar_modelo(
        self, nome: str, versao: str = ULTIMA, *, modulo_torch: Any = None
    ) -> Any:
        """Restore a version into a temporary folder and load it with its library.

        The file passes the validation's safety checks first (structure, the
        pickle scanner, the isolated load test when configured): a refused file
        raises ErroValidacao with the reason and is never loaded here. PyTorch
        files hold a state_dict: it is returned as is, or loaded into
        `modulo_torch` (a module of the same architecture), which is returned.
        """
        from . import objetos_vivos  # lazy: the ML libraries load only here
        from .validacao import analisar_modelo, opcoes_da_config

        self._autorizar("restaurar")
        exigir(nome, str, "nome", "o nome do modelo no repositório (texto)")
        modelo = self._nome_guardado(nome, objetos_vivos.EXTENSOES.values())
        sidecar = self.consulta.sidecar(modelo, versao)
        self.pasta_estado.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(
            dir=self.pasta_estado, prefix=".carregar-"
        ) as tmp:
            caminho = Path(
                self.restaurar_backup(sidecar.modelo, sidecar.versao, Path(tmp) / "m/")
            )
            rel, _ = analisar_modelo(
                caminho, inspecionar=False, **opcoes_da_config(self.config)
            )
            if not rel["valido"]:
                motivos = "\n".join(f"  - {p}" for p in rel["problemas"])
                raise ErroValidacao(
                    f"{sidecar.modelo} {sidecar.versao}: carregamento recusado pelas "
                    f"verificações de segurança; nada foi carregado:\n{motivos}"
                )
            return objetos_vivos.carregar(
                caminho, rel["formato"], modulo_torch=modulo_torch
            )

    def _nome_guardado(self, nome: str, extensoes: Any) -> str:
        """`nome` if the repository has it, else `nome` plus the one format
        extension `versionar_objeto` would have added."""
        modelos = set(self.consulta.listar_modelos())
        if nome in modelos:
            return nome
        achados = [nome + e for e in extensoes if nome + e in modelos]
        return achados[0] if len(achados) == 1 else nome

    def validar_arquivo(self, caminho: str | Path) -> dict[str, Any]:
        """Validation report of a model file or folder (structure + load test)."""
        self._autorizar("consulta")
        return self._verificacao.validar_arquivo(caminho)

    # -- queries -----------------------------------------------------------------
    def listar_modelos(self) -> list[str]:
        self._autorizar("consulta")
        return self.consulta.listar_modelos()

    def listar_versoes(self, modelo: str | Path) -> list[dict[str, Any]]:
        """Versions of a model, oldest first (from this machine's cache)."""
        self._autorizar("consulta")
        return self.consulta.listar_versoes(modelo)

    def versoes_danificadas(
        self, modelo: str | Path | None = None
    ) -> list[dict[str, str]]:
        """Versions left out of listings because their sidecar does not read."""
        self._autorizar("consulta")
        return self.consulta.versoes_danificadas(modelo)

    def resolver_versao(self, modelo: str | Path, versao: str) -> str:
        return self.consulta.resolver_versao(modelo, versao)

    def obter_versao(self, modelo: str | Path, versao: str = ULTIMA) -> dict[str, Any]:
        """The full sidecar of a version, read and checked from the repository."""
        self._autorizar("consulta")
        return self.consulta.obter_versao(modelo, versao)

    def comparar_versoes(
        self, modelo: str | Path, versao_a: str, versao_b: str = ULTIMA
    ) -> dict[str, Any]:
        """What changed from version a to b: bytes, chunks, files, metrics, layers."""
        self._autorizar("consulta")
        return self.consulta.comparar_versoes(modelo, versao_a, versao_b)

    def status(self) -> dict[str, Any]:
        self._autorizar("consulta")
        return {
            **self.consulta.status(),
            "log": str(self.arquivo_log),
            "integracoes": self.integracoes.status(),
        }

    # -- restore -----------------------------------------------------------------
    def restaurar_backup(
        self,
        modelo: str | Path,
        versao: str = ULTIMA,
        destino: str | Path = ".",
        *,
        sobrescrever: bool = False,
        conferir_sha256: bool = False,
        progresso: Progresso | None = None,
        aceitar_sem_assinatura: bool = False,
    ) -> str:
        """Restore a version into `destino` (see `servicos.destino` for the rules).

        Every chunk is checked against its hash as it is read, and the whole file
        end to end (the BLAKE3 recorded at backup; SHA-256 for versions without
        it) before it takes its place; `conferir_sha256` also recomputes the
        SHA-256 (a second hash of every byte). `aceitar_sem_assinatura`
        accepts, for this call, an unsigned version the repository's signing
        policy would refuse.
        """
        return str(
            self.restaurar_backup_detalhado(
                modelo,
                versao,
                destino,
                sobrescrever=sobrescrever,
                conferir_sha256=conferir_sha256,
                progresso=progresso,
                aceitar_sem_assinatura=aceitar_sem_assinatura,
            )["caminho"]
        )

    def restaurar_backup_detalhado(
        self,
        modelo: str | Path,
        versao: str = ULTIMA,
        destino: str | Path = ".",
        *,
        sobrescrever: bool = False,
        conferir_sha256: bool = False,
        progresso: Progresso | None = None,
        aceitar_sem_assinatura: bool = False,
    ) -> dict[str, Any]:
        """Like `restaurar_backup`, plus how the destination was read and why.

        Returns {"caminho", "tratado_como" ("pasta" | "arquivo"), "motivo"}.
        """
        self._autorizar("restaurar")
        with self.sem_exigir_assinatura(aceitar_sem_assinatura):
            return self._restauracao.restaurar(
                modelo,
                versao,
                destino,
                sobrescrever=sobrescrever,
                conferir_sha256=conferir_sha256,
                progresso=progresso,
            )

    def sem_exigir_assinatura(
        self, permitir: bool = True
    ) -> contextlib.AbstractContextManager[None]:
        """Within this block, accept unsigned versions the signing policy refuses."""
        return self.seguranca.permitir_sem_assinatura(self.repo, permitir)

    def versao_a_restaurar(
        self, modelo: str | Path, versao: str = ULTIMA, destino: str | Path = "."
    ) -> dict[str, Any]:
        """The sidecar a restore of this version would use (or restauracao_falhou)."""
        self._autorizar("restaurar")
        return self._restauracao.versao_a_restaurar(modelo, versao, destino)

    # -- checks ------------------------------------------------------------------
    def verificar_integridade(
        self,
        completa: bool = False,
        modelo: str | None = None,
        progresso: Progresso | None = None,
        versao: str | None = None,
    ) -> dict[str, Any]:
        """Check every version: sidecars parse, every chunk exists and hashes right.

        `completa` also rebuilds each version and checks its SHA-256; `versao`
        (with `modelo`: '1.2.0', 'ultima' or '@alias') checks only that one.
        """
        self._autorizar("consulta")
        return self._verificacao.integridade(completa, modelo, progresso, versao)

    def verificar_arquivo(self, caminho: str | Path) -> dict[str, Any]:
        """Check a model file on disk and whether it matches a stored version."""
        self._autorizar("consulta")
        return self._verificacao.arquivo(caminho)

    # -- retention ---------------------------------------------------------------
    def fixar_versao(self, modelo: str, versao: str, fixa: bool = True) -> str:
        """Pin a version so retention never removes it (or unpin it)."""
        self._autorizar("admin")
        return self._limpeza.fixar(modelo, versao, fixa)

    # -- aliases (docs/FORMATO.md, "Aliases") ------------------------------------
    def definir_alias(
        self, modelo: str | Path, alias: str, versao: str, motivo: str = ""
    ) -> str:
        """Point `alias` (e.g. producao) at `versao`; returns that version.

        Every move is kept in the alias history; `versao` accepts 'ultima' and
        '@outro_alias'. Retention never removes a version an alias points at.
        """
        self._autorizar("admin")
        return str(self._aliases.definir(modelo, alias, versao, motivo)["versao"])

    def remover_alias(self, modelo: str | Path, alias: str, motivo: str = "") -> str:
        """Make `alias` point at nothing; returns the version it pointed at."""
        self._autorizar("admin")
        return str(self._aliases.remover(modelo, alias, motivo)["versao_anterior"])

    def aliases(self, modelo: str | Path) -> dict[str, str]:
        """alias -> the version it points at now."""
        self._autorizar("consulta")
        return self._aliases.aliases(modelo)

    def listar_aliases(self, modelo: str | Path | None = None) -> list[dict[str, Any]]:
        """Every alias of `modelo` (or of every model), removed ones too:
        {modelo, alias, versao (None if removed), historico}."""
        self._autorizar("consulta")
        return self._aliases.listar(modelo)

    def historico_alias(self, modelo: str | Path, alias: str) -> list[dict[str, Any]]:
        """Every move of `alias`, oldest first: versao, versao_anterior, usuario,
        host, criado_em (UTC), motivo, acao, sequencia, assinada."""
        self._autorizar("consulta")
        return self._aliases.historico(modelo, alias)

    def limpeza(
        self,
        simular: bool = False,
        modelo: str | None = None,
        agora: datetime | None = None,
    ) -> dict[str, Any]:
        """Apply the retention policy, then collect what no version uses.

        `simular` only returns the plan.
        """
        self._autorizar("limpeza")
        return self._limpeza.limpeza(simular, modelo, agora)

    aplicar_retencao = limpeza

    def quebrar_trava_limpeza(self) -> dict[str, Any] | None:
        """Remove a stale collection lock object (shared stores); what it held."""
        self._autorizar("admin")
        return self._limpeza.quebrar_trava()

    def quebrar_concessoes_expiradas(self) -> list[dict[str, Any]]:
        """Remove expired backup leases (their backups died); what they held."""
        self._autorizar("admin")
        return self._limpeza.quebrar_concessoes()

    def gerar_relatorio(
        self,
        saida: str | Path | None = None,
        formatos: tuple[str, ...] = ("json", "html", "pdf"),
    ) -> dict[str, str]:
        """Write relatorio_diario.{json,html,pdf} (default <base>/relatorios).

        Returns format -> path. The reports are the presentation layer's job.
        """
        from .relatorios import gerar_relatorio

        self._autorizar("consulta")
        return gerar_relatorio(self, saida, formatos=formatos)


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
            r = verificar_sem_repositorio(origem, _config_de(diretorio_base, config))
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


def _config_de(
    diretorio_base: str | Path | None, config: str | Path | dict[str, Any] | None
) -> dict[str, Any]:
    if isinstance(config, dict):
        return configuracao.de_dicionario(config, diretorio_base)
    return configuracao.carregar(config, base=diretorio_base)
