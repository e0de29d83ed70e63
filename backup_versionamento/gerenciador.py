"""The facade every entry point goes through: API, CLI and daemon.

It keeps the spec's names and delegates each use case to a service in
`servicos/` (backup, restore, checks, cleanup, queries); the parts those use
(configuration, repository, event bus) are built here and injected. Most
methods are rows of one table (`_caso`: the role a use case needs and the
service method that does it), so access control is declared in one place.
Reports and the dashboard live above this layer (`relatorios/`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import (
    Any,
    ClassVar,
    Concatenate,
    Generic,
    ParamSpec,
    Self,
    TypedDict,
    TypeVar,
    Unpack,
    overload,
)

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
    "ResultadoBackup",
    "ResultadoRestauracao",
    "checar_pedido",
    "nome_do_modelo",
    "verificar_integridade",
]

log = logging.getLogger(registro.NOME_LOGGER)
Ouvinte = Callable[[str, dict[str, Any]], None]
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class _Resultado(str):
    """A str, as the spec returns, that also carries the call's details: the
    fields annotated on the subclass, taken from the service's answer."""

    _texto: ClassVar[str]  # the field that is the str itself

    def __new__(cls, texto: str, **detalhes: Any) -> Self:
        r = super().__new__(cls, texto)
        r.__dict__.update(detalhes)
        return r

    @classmethod
    def de(cls, resposta: dict[str, Any]) -> Self:
        campos = {c: resposta[c] for c in cls.__annotations__}
        return cls(str(resposta[cls._texto]), **campos)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_recriar, (type(self), str(self), dict(self.__dict__)))


def _recriar(tipo: type[_Resultado], texto: str, detalhes: dict[str, Any]) -> Any:
    return tipo(texto, **detalhes)


class ResultadoBackup(_Resultado):
    """`criar_backup`: the version (== "1.0.0") and `modelo`, `versao`,
    `nova_versao` (False: the content was already stored, by an earlier call or
    by another process at the same moment; only this call knows which)."""

    _texto = "versao"
    modelo: str
    versao: str
    nova_versao: bool


class ResultadoRestauracao(_Resultado):
    """`restaurar_backup`: the restored path, and how the destination was read:
    `caminho`, `tratado_como` ("pasta" | "arquivo"), `motivo`."""

    _texto = "caminho"
    caminho: str
    tratado_como: str
    motivo: str


class OpcoesRestauracao(TypedDict, total=False):
    """`restaurar_backup`'s options, passed as they are to the restore service."""

    sobrescrever: bool
    conferir_sha256: bool
    progresso: Progresso | None


class _Caso(Generic[P, R]):
    """A facade method that is a role check plus one service method.

    Reading it on a facade gives a function with the service method's own
    signature and docstring: it checks `papel` (None: no check), calls the
    method on that facade's service, and passes the answer through `resultado`.
    """

    def __init__(
        self,
        papel: str | None,
        metodo: Callable[Concatenate[Any, P], Any],
        resultado: Callable[[Any], R],
    ) -> None:
        self.papel = papel
        self.metodo = metodo
        self.resultado = resultado
        self.__doc__ = metodo.__doc__
        self._sem_self: inspect.Signature | None = None

    def _assinatura(self) -> inspect.Signature:
        """The service method's signature without its `self`, returning what
        `resultado` returns (for help() and editors)."""
        if self._sem_self is None:
            assinatura = inspect.signature(self.metodo)
            parametros = list(assinatura.parameters.values())[1:]
            retorno = assinatura.return_annotation
            dono = getattr(self.resultado, "__self__", None)  # Resultado*.de
            if isinstance(dono, type):
                retorno = dono.__name__
            elif self.resultado is not _o_mesmo:
                retorno = inspect.signature(self.resultado).return_annotation
            self._sem_self = assinatura.replace(
                parameters=parametros, return_annotation=retorno
            )
        return self._sem_self

    def __repr__(self) -> str:  # what help() shows for each row
        papel = self.papel or "nenhum"
        return f"<papel {papel}: {self.metodo.__qualname__}{self._assinatura()}>"

    def __set_name__(self, dono: type, nome: str) -> None:
        self.nome = getattr(self, "nome", nome)  # an alias keeps the first name

    @overload
    def __get__(self, g: None, dono: type) -> _Caso[P, R]: ...
    @overload
    def __get__(
        self, g: GerenciadorBackupVersionamento, dono: type | None = None
    ) -> Callable[P, R]: ...
    def __get__(
        self, g: GerenciadorBackupVersionamento | None, dono: type | None = None
    ) -> _Caso[P, R] | Callable[P, R]:
        if g is None:
            return self  # read on the class: the table row itself
        metodo, papel, resultado = self.metodo, self.papel, self.resultado

        @functools.wraps(metodo)
        def caso(*args: P.args, **kwargs: P.kwargs) -> R:
            if papel is not None:
                g._autorizar(papel)
            # The service is looked up per call: the facade may hand a use case
            # out (to its integrations) before it has built its services.
            return resultado(metodo(g._servico(metodo), *args, **kwargs))

        caso.__name__ = caso.__qualname__ = self.nome
        caso.__signature__ = self._assinatura()  # type: ignore[attr-defined]
        return caso


@overload
def _caso(
    papel: str | None, metodo: Callable[Concatenate[Any, P], R]
) -> _Caso[P, R]: ...
@overload
def _caso(
    papel: str | None,
    metodo: Callable[Concatenate[Any, P], T],
    resultado: Callable[[T], R],
) -> _Caso[P, R]: ...
def _caso(
    papel: str | None,
    metodo: Callable[Concatenate[Any, P], Any],
    resultado: Callable[[Any], Any] | None = None,
) -> _Caso[P, Any]:
    return _Caso(papel, metodo, resultado or _o_mesmo)


def _o_mesmo(r: T) -> T:
    return r


def _campo(nome: str) -> Callable[[dict[str, Any]], str]:
    """The answer's `nome` field as text (the alias services answer a dict)."""

    def campo(resposta: dict[str, Any]) -> str:
        return str(resposta[nome])

    return campo


class GerenciadorBackupVersionamento:
    """Back up, version, verify and restore ML models in one repository.

    `diretorio_base` overrides `diretorios.base`; `config` is a path to a JSON
    file, a dict of settings, or None (./config_backup.json if present, else
    defaults). Public attributes the layers above read: `config`, `base`,
    `pasta_estado` (this machine's caches), `pasta_saidas` (where logs/ and
    relatorios/ go), `pasta_logs`, `arquivo_log`.
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
        # Where the spec's files for people go (logs/, relatorios/): inside a
        # local writable repository; else in this machine's state folder. The
        # audit log stays with the repository (its entries hide names when the
        # repository does); the spec's log, the activity journal and the reports
        # name models, versions, paths and hashes, so a repository that hides
        # names keeps them on this machine (docs/SEGURANCA.md).
        pasta = pasta_local(self.base)
        if pasta is not None and not self.backend.somente_leitura:
            self.pasta_saidas: Path = pasta
        else:
            self.pasta_saidas = self.pasta_estado
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
        self._servicos = (
            self.consulta,
            self._backup,
            self._restauracao,
            self._verificacao,
            self._limpeza,
            self._aliases,
        )

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

    def _servico(self, metodo: Callable[..., Any]) -> Any:
        """This facade's instance of the service class that defines `metodo`."""
        for servico in self._servicos:
            if vars(type(servico)).get(metodo.__name__) is metodo:
                return servico
        raise TypeError(f"nenhum serviço define {metodo.__qualname__}")

    # -- the use cases that are a role check plus one service method --------------
    # The facade's name = (the role it needs, the service method). The service's
    # own signature and docstring are the facade's; `_caso` explains.
    criar_backup = _caso("backup", ServicoBackup.criar, ResultadoBackup.de)
    listar_modelos = _caso("consulta", ServicoConsulta.listar_modelos)
    listar_versoes = _caso("consulta", ServicoConsulta.listar_versoes)
    versoes_danificadas = _caso("consulta", ServicoConsulta.versoes_danificadas)
    resolver_versao = _caso(None, ServicoConsulta.resolver_versao)
    obter_versao = _caso("consulta", ServicoConsulta.obter_versao)
    comparar_versoes = _caso("consulta", ServicoConsulta.comparar_versoes)
    validar_arquivo = _caso("consulta", ServicoVerificacao.validar_arquivo)
    verificar_integridade = _caso("consulta", ServicoVerificacao.integridade)
    verificar_arquivo = _caso("consulta", ServicoVerificacao.arquivo)
    versao_a_restaurar = _caso("restaurar", ServicoRestauracao.versao_a_restaurar)
    fixar_versao = _caso("admin", ServicoLimpeza.fixar)
    limpeza = _caso("limpeza", ServicoLimpeza.limpeza)
    aplicar_retencao = limpeza
    quebrar_trava_limpeza = _caso("admin", ServicoLimpeza.quebrar_trava)
    quebrar_concessoes_expiradas = _caso("admin", ServicoLimpeza.quebrar_concessoes)
    # Aliases (docs/FORMATO.md, "Aliases"): definir/remover return the version.
    definir_alias = _caso("admin", ServicoAliases.definir, _campo("versao"))
    remover_alias = _caso("admin", ServicoAliases.remover, _campo("versao_anterior"))
    aliases = _caso("consulta", ServicoAliases.aliases)
    listar_aliases = _caso("consulta", ServicoAliases.listar)
    historico_alias = _caso("consulta", ServicoAliases.historico)

    def status(self) -> dict[str, Any]:
        self._autorizar("consulta")
        return {
            **self.consulta.status(),
            "log": str(self.arquivo_log),
            "integracoes": self.integracoes.status(),
        }

    # -- live objects (objetos_vivos.py) ------------------------------------------
    def versionar_objeto(
        self,
        objeto: Any,
        nome: str,
        tipo_mudanca: str = "auto",
        metricas: dict[str, Any] | None = None,
        descricao: str = "",
    ) -> ResultadoBackup:
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

    # -- restore -------------------------------------------------------------------
    def restaurar_backup(
        self,
        modelo: str | Path,
        versao: str = ULTIMA,
        destino: str | Path = ".",
        *,
        aceitar_sem_assinatura: bool = False,
        **opcoes: Unpack[OpcoesRestauracao],
    ) -> ResultadoRestauracao:
        """Restore a version into `destino` (see `servicos.destino` for the rules).

        Every chunk is checked against its hash as it is read, and the whole file
        end to end (the BLAKE3 recorded at backup; SHA-256 for versions without
        it) before it takes its place. `opcoes`: `sobrescrever`, `progresso`,
        and `conferir_sha256`, which also recomputes the SHA-256 (a second hash
        of every byte). `aceitar_sem_assinatura` accepts, for this call, an
        unsigned version the repository's signing policy would refuse. Returns
        the restored path, with how the destination was read and why.
        """
        self._autorizar("restaurar")
        with self.sem_exigir_assinatura(aceitar_sem_assinatura):
            return ResultadoRestauracao.de(
                self._restauracao.restaurar(modelo, versao, destino, **opcoes)
            )

    def sem_exigir_assinatura(
        self, permitir: bool = True
    ) -> contextlib.AbstractContextManager[None]:
        """Within this block, accept unsigned versions the signing policy refuses."""
        return self.seguranca.permitir_sem_assinatura(self.repo, permitir)


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
