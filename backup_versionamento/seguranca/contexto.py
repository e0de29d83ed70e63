"""Security as configured, for one manager: it wires the pieces together.

The master key (`mestra.py`), the signer (`assinatura.py`), access control
(`acesso.py`), the audit log (`auditoria.py`) and file modes (`permissoes.py`)
each live in their own module. The manager builds one `ContextoSeguranca`,
passes its `preparar_criacao` and `chaves` hooks to `Repositorio.abrir`, then
calls `ligar` once the event bus exists, and `autorizar` at the top of each
public method.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base.endereco import pasta_local
from ..erros import ErroAcessoNegado
from ..registro import NOME_LOGGER
from .acesso import CONSULTA, ControleAcesso, usuario_atual
from .mestra import ChaveMestra
from .permissoes import restringir, restringir_logs

# lazy: startup time (docs/DESEMPENHO.md). Keys, ciphers, signatures and the audit
# log (and `cryptography` under them) load only when the configuration or the
# repository header asks for them.
if TYPE_CHECKING:
    from ..armazenamento.backends import Backend
    from ..armazenamento.repositorio import Repositorio
    from ..eventos import BarramentoEventos
    from .assinatura import AssinadorEd25519
    from .auditoria import Autenticador, LogAuditoria

log = logging.getLogger(NOME_LOGGER)

_ACOES = {
    "backup": "criar backups",
    "restaurar": "restaurar versões",
    "limpeza": "rodar a limpeza",
    "admin": "administrar o repositório",
    CONSULTA: "consultar o repositório",
}


class ContextoSeguranca:
    def __init__(self, config: dict[str, Any], backend: Backend) -> None:
        seg = config["seguranca"]
        # None for an object store (`Path("s3://b/p")` would be a local path).
        self.base = pasta_local(config["diretorios"]["base"])
        self.cripto = seg["criptografia"]
        self.cfg_acesso = seg["controle_acesso"]
        self.backend = backend
        self.acesso = ControleAcesso(self.cfg_acesso)
        self.assinador: AssinadorEd25519 | None = None
        if seg["assinatura"]["habilitada"]:
            from .assinatura import AssinadorEd25519  # lazy: see the imports

            self.assinador = AssinadorEd25519.da_config(seg["assinatura"])
        self.chave = ChaveMestra(self.cripto, backend, self.base)
        # The two hooks of Repositorio.abrir.
        self.preparar_criacao = self.chave.preparar_criacao
        self.chaves = self.chave.chaves
        self.auditoria: LogAuditoria | None = None
        if self.cripto["habilitada"] or self.cfg_acesso["habilitado"]:
            restringir = getattr(backend, "restringir", None)  # a local folder
            if restringir is not None:
                restringir()
        if self.cfg_acesso["grupo"] and self.base is not None:
            from .grupo import preparar_backend

            preparar_backend(self.cfg_acesso, backend)

    # -- wiring ----------------------------------------------------------------------
    def autenticador_auditoria(self) -> Autenticador:
        from .auditoria import Autenticador

        chave = self.chave.derivar("auditoria")
        if chave is not None:
            return Autenticador.hmac_sha256(chave)
        if self.assinador is not None and self.assinador.privada is not None:
            return self.assinador.autenticador()
        return Autenticador.nenhum()

    def ligar(
        self, repo: Repositorio, eventos: BarramentoEventos, pasta_logs: Path
    ) -> None:
        """Signer hooks on the repository, audit subscriber, restrictive modes."""
        # Always: a policy recorded in the header binds even a machine whose
        # configuration has signatures off (docs/SEGURANCA.md).
        if (
            self.assinador is not None
            or repo.cabecalho.get("politica_assinatura")
            or (repo.pasta_estado / "politica_assinatura").exists()  # seen before
        ):
            from .politica_assinatura import PoliticaAssinatura

            chave_hmac = self.chave.derivar("politica")
            repo.assinador = PoliticaAssinatura(repo, self.assinador, chave_hmac)
        if self.cfg_acesso["habilitado"] and self.cfg_acesso["log_acessos"]:
            from .auditoria import LogAuditoria

            no_repositorio = (
                self.base is not None
                and pasta_logs.resolve().is_relative_to(self.base.resolve())
            )
            # A repository that hides names: targets and details encrypted.
            chave_campos = self.chave.derivar("campos_auditoria")
            cifra_campos = None
            if repo.nomes.ocultos and chave_campos is not None:
                from .auditoria import CifraCampos

                cifra_campos = CifraCampos(chave_campos)
            self.auditoria = LogAuditoria(
                pasta_logs,
                self.autenticador_auditoria(),
                "repositorio" if no_repositorio else "",
                cifra_campos,
            )
            gravar_retido = _metodo_do_backend(self.backend, "gravar_retido")
            if gravar_retido is not None:  # an object store: witnesses there
                dias = int(self.cfg_acesso["auditoria_retencao_dias"])
                self.auditoria.testemunha = lambda chave, dados: gravar_retido(
                    chave, dados, dias
                )
            eventos.inscrever(self.auditoria, nome="auditoria")
            # Each version records the head it follows; verificar checks the log
            # still has it (a dropped or replaced log is detected).
            repo.anotadores.append(self.auditoria.ancorar)
            repo.verificadores.append(self.auditoria.conferir_ancoras)
        if (
            self.cripto["habilitada"] or self.cfg_acesso["habilitado"]
        ) and self.base is not None:
            restringir(self.base)
            restringir_logs(pasta_logs)
        if self.cfg_acesso["grupo"] and self.base is not None:
            from .grupo import aplicar

            aplicar(self.base, self.cfg_acesso)

    @contextmanager
    def permitir_sem_assinatura(
        self, repo: Repositorio, permitir: bool = True
    ) -> Iterator[None]:
        """For one call: accept unsigned versions the header's policy would refuse."""
        politica = repo.assinador
        if not permitir or politica is None:  # lazy: cryptography only if signing
            yield
            return
        from .politica_assinatura import PoliticaAssinatura

        if not isinstance(politica, PoliticaAssinatura):
            yield
            return
        with politica.permitir_sem_assinatura():
            yield

    def autorizar(self, papel: str, eventos: BarramentoEventos) -> None:
        """ErroAcessoNegado (and an `acesso_negado` event) if the user lacks `papel`."""
        usuario = usuario_atual()
        try:
            self.acesso.autorizar(papel, _ACOES.get(papel, papel), usuario)
        except ErroAcessoNegado as e:
            log.error("%s", e)
            eventos.emitir("acesso_negado", usuario=usuario, papel=papel, motivo=str(e))
            raise


def _metodo_do_backend(backend: Any, nome: str) -> Any:
    """A method of the innermost backend (past retry and fault wrappers)."""
    while backend is not None:
        metodo = getattr(type(backend), nome, None)
        if metodo is not None:
            return getattr(backend, nome)
        backend = getattr(backend, "interno", None)
    return None
