"""Security as configured, for one manager: keys, signer, access, audit.

The manager builds one `ContextoSeguranca`, passes its `preparar_criacao` and
`chaves` hooks to `Repositorio.abrir`, then calls `ligar` once the event bus
exists, and `autorizar` at the top of each public method.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..armazenamento.sidecar import CAMPO_NOMES_CHAVEADOS
from ..base.endereco import pasta_local
from ..erros import ErroAcessoNegado, ErroCriptografia
from ..registro import NOME_LOGGER
from .acesso import CONSULTA, ControleAcesso, usuario_atual

# lazy: startup time (docs/DESEMPENHO.md). Keys, ciphers, signatures and the audit
# log (and `cryptography` under them) load only when the configuration or the
# repository header asks for them.
if TYPE_CHECKING:
    from ..armazenamento.backends import Backend
    from ..armazenamento.blob import Cifra
    from ..armazenamento.repositorio import Repositorio
    from ..eventos import BarramentoEventos
    from .assinatura import AssinadorEd25519
    from .auditoria import Autenticador, LogAuditoria
    from .chaves import Chaveiro, Credencial

log = logging.getLogger(NOME_LOGGER)

# Every new encrypted repository hides model names and versions in its object
# keys (docs/FORMATO.md, "Nomes chaveados"). Only the tests' encrypted rerun of
# the older suites, which address sidecars by path, turns it off.
NOMES_CHAVEADOS_NOVOS = True

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
        self.mestra: bytes | None = None
        self.id_chave: str | None = None
        self.id_repositorio: str | None = None
        self.auditoria: LogAuditoria | None = None
        if self.cripto["habilitada"] or self.cfg_acesso["habilitado"]:
            backend.restringir()  # a local folder: 0640/0750; else nothing
        if self.cfg_acesso["grupo"] and self.base is not None:
            from .grupo import preparar_backend

            preparar_backend(self.cfg_acesso, backend)

    # -- keys ------------------------------------------------------------------------
    @property
    def arquivo_chave(self) -> Path:
        return Path(self.cripto["chave_arquivo"])

    def credenciais(self, perguntar: bool = True) -> list[Credencial]:
        """Key file (if present) then passphrase (env var or a prompt on a terminal)."""
        from .chaves import (
            TIPO_ARQUIVO,
            TIPO_SENHA,
            Credencial,
            ler_arquivo_chave,
            senha_do_ambiente,
        )

        creds = []
        if self.arquivo_chave.exists():
            creds.append(
                Credencial(
                    TIPO_ARQUIVO,
                    ler_arquivo_chave(self.arquivo_chave),
                    f"o arquivo de chave {self.arquivo_chave}",
                )
            )
        senha = senha_do_ambiente(perguntar=perguntar and not creds)
        if senha:
            creds.append(Credencial(TIPO_SENHA, senha, "a senha informada"))
        return creds

    def preparar_criacao(self, cab: dict[str, Any]) -> list[str]:
        """Hook of Repositorio.abrir: a new encrypted repository's keys and header."""
        if not self.cripto["habilitada"]:
            return []
        from .chaves import (
            TAMANHO_MINIMO_SENHA,
            TIPO_ARQUIVO,
            TIPO_SENHA,
            VARIAVEL_SENHA,
            Chaveiro,
            Credencial,
            chave_objeto,
            criar_arquivo_chave,
            ler_arquivo_chave,
        )
        from .cifra import ALGORITMO, impressao_mestra

        creds = []
        senha = os.environ.get(VARIAVEL_SENHA)
        if senha and len(senha) < TAMANHO_MINIMO_SENHA:
            raise ErroCriptografia(
                f"{VARIAVEL_SENHA}: senha curta demais; use ao menos "
                f"{TAMANHO_MINIMO_SENHA} caracteres"
            )
        arq = self.arquivo_chave
        if not arq.exists() and not senha:
            try:
                criar_arquivo_chave(arq)
            except ErroCriptografia:
                if not arq.exists():  # not a concurrent creator: a real failure
                    raise
        if arq.exists():
            creds.append(Credencial(TIPO_ARQUIVO, ler_arquivo_chave(arq), str(arq)))
        if senha:
            creds.append(Credencial(TIPO_SENHA, senha, "senha"))
        if self.base is not None and arq.resolve().is_relative_to(self.base.resolve()):
            log.warning(
                "%s: o arquivo de chave está dentro do repositório: uma cópia do "
                "repositório leva a chave junto. Guarde-o fora (docs/SEGURANCA.md)",
                arq,
            )
        mestra = os.urandom(32)
        chaveiro = Chaveiro(self.backend, cab["id"])
        escritas = [chave_objeto(chaveiro.embrulhar(mestra, c)) for c in creds]
        cab["ids_chaveados"] = True
        if NOMES_CHAVEADOS_NOVOS:
            cab[CAMPO_NOMES_CHAVEADOS] = True
        cab["criptografia"] = {
            "algoritmo": ALGORITMO,
            "derivacao": "HKDF-SHA256",
            "impressao": impressao_mestra(mestra, cab["id"]),
        }
        self.mestra, self.id_repositorio = mestra, cab["id"]
        return escritas

    def chaves(self, cab: dict[str, Any]) -> tuple[Cifra | None, bytes | None]:
        """Hook of Repositorio.abrir: cipher and chunk-id key of an existing header."""
        desc = self.backend.descrever()
        cc = cab.get("criptografia")
        if not cc:
            if self.cripto["habilitada"]:
                raise ErroCriptografia(
                    f"{desc}: o repositório não é criptografado, mas "
                    "seguranca.criptografia.habilitada é true. A criptografia não é "
                    "ligada num repositório existente: crie um repositório novo com "
                    "criptografia e copie as versões para ele (docs/SEGURANCA.md, "
                    '"Passar a usar criptografia"), ou deixe habilitada=false. '
                    "Nada foi lido nem escrito."
                )
            return None, None
        from .chaves import Chaveiro
        from .cifra import (
            ALGORITMO,
            USO_DADOS,
            USO_IDS,
            CifraAESGCM,
            derivar,
            impressao_mestra,
        )

        if not isinstance(cc, dict) or cc.get("algoritmo") != ALGORITMO:
            raise ErroCriptografia(
                f"{desc}: criptografia {cc!r} desconhecida; esta versão usa {ALGORITMO}"
            )
        id_repo = str(cab["id"])
        impressao = str(cc.get("impressao"))
        if not (
            self.mestra is not None
            and self.id_repositorio == id_repo
            and impressao_mestra(self.mestra, id_repo) == impressao
        ):
            dica = f"o arquivo de chave {self.arquivo_chave} não existe"
            self.mestra, self.id_chave = Chaveiro(self.backend, id_repo).abrir(
                self.credenciais(), impressao, dica
            )
            self.id_repositorio = id_repo
        chave_ids = (
            derivar(self.mestra, USO_IDS, id_repo) if cab.get("ids_chaveados") else None
        )
        return CifraAESGCM(derivar(self.mestra, USO_DADOS, id_repo)), chave_ids

    # -- key management (`chaves` subcommand) -------------------------------------
    def _chaveiro_aberto(self) -> tuple[Chaveiro, bytes]:
        from .chaves import Chaveiro

        if self.mestra is None or self.id_repositorio is None:
            raise ErroCriptografia(
                f"{self.backend.descrever()}: o repositório não é criptografado; não "
                "há chaves a gerenciar"
            )
        return Chaveiro(self.backend, self.id_repositorio), self.mestra

    def adicionar_chave(
        self, credencial: Credencial, usuario: str | None = None
    ) -> str:
        """Wrap the master key for one more key file or passphrase; data untouched.

        `usuario`: the person the key is for (one key object per person).
        """
        chaveiro, mestra = self._chaveiro_aberto()
        return chaveiro.embrulhar(mestra, credencial, usuario=usuario)

    def remover_chaves_de(self, usuario: str) -> list[str]:
        chaveiro, _ = self._chaveiro_aberto()
        return chaveiro.remover_de(usuario)

    def remover_chave(self, id_chave: str) -> None:
        chaveiro, _ = self._chaveiro_aberto()
        chaveiro.remover(id_chave)

    def reembrulhar(self, id_chave: str, credencial: Credencial) -> str:
        """Replace key object `id_chave` by one under a new credential (new first)."""
        chaveiro, mestra = self._chaveiro_aberto()
        if not any(o["id"] == id_chave for o in chaveiro.listar()):
            raise ErroCriptografia(
                f"chave {id_chave!r} não existe neste repositório "
                "(veja `chaves listar`)"
            )
        novo = chaveiro.embrulhar(mestra, credencial)
        chaveiro.remover(id_chave)
        return novo

    # -- wiring ----------------------------------------------------------------------
    def autenticador_auditoria(self) -> Autenticador:
        from .auditoria import Autenticador

        if self.mestra is not None and self.id_repositorio:
            from .cifra import USO_AUDITORIA, derivar

            return Autenticador.hmac_sha256(
                derivar(self.mestra, USO_AUDITORIA, self.id_repositorio)
            )
        if self.assinador is not None and self.assinador.privada is not None:
            return _autenticador_ed25519(self.assinador)
        return Autenticador.nenhum()

    def ligar(
        self, repo: Repositorio, eventos: BarramentoEventos, pasta_logs: Path
    ) -> None:
        """Signer hooks on the repository, audit subscriber, restrictive modes."""
        # Always: a policy recorded in the header binds even a machine whose
        # configuration has signatures off (docs/SEGURANCA.md).
        if (
            self.assinador is not None
            or repo.campo_cabecalho("politica_assinatura")
            or (repo.pasta_estado / "politica_assinatura").exists()  # seen before
        ):
            from .politica_assinatura import PoliticaAssinatura

            chave_hmac = None
            if self.mestra is not None and self.id_repositorio:
                from .cifra import USO_POLITICA, derivar

                chave_hmac = derivar(self.mestra, USO_POLITICA, self.id_repositorio)
            repo.assinador = PoliticaAssinatura(repo, self.assinador, chave_hmac)
        if self.cfg_acesso["habilitado"] and self.cfg_acesso["log_acessos"]:
            from .auditoria import LogAuditoria

            no_repositorio = (
                self.base is not None
                and pasta_logs.resolve().is_relative_to(self.base.resolve())
            )
            cifra_campos = None
            if repo.nomes.ocultos and self.mestra is not None and self.id_repositorio:
                from .auditoria import USO_CAMPOS, CifraCampos
                from .cifra import derivar

                cifra_campos = CifraCampos(
                    derivar(self.mestra, USO_CAMPOS, self.id_repositorio)
                )
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
            _restringir(self.base)
            _restringir_logs(pasta_logs)
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


def _autenticador_ed25519(assinador: AssinadorEd25519) -> Autenticador:
    import base64

    from .auditoria import Autenticador

    def assinar(dados: bytes) -> str:
        assert assinador.privada is not None
        return base64.b64encode(assinador.privada.sign(dados)).decode("ascii")

    def conferir(dados: bytes, valor: str) -> bool:
        try:
            assert assinador.publica is not None
            assinador.publica.verify(base64.b64decode(valor, validate=True), dados)
            return True
        except Exception:
            return False

    return Autenticador("ed25519", assinar, conferir)


# logs/ of a protected local repository: like its other folders and files
# (docs/SEGURANCA.md): the owner writes, the group reads, others nothing.
MODO_PASTA_LOGS = 0o750
MODO_ARQUIVO_LOG = 0o640


def _restringir_logs(pasta: Path) -> None:
    """logs/ 0750 and its files at most 0640, whatever the umask made them."""
    try:
        itens = [pasta, *pasta.iterdir()] if pasta.is_dir() else []
        for item in itens:
            st = item.lstat()
            if st.st_uid != os.geteuid() or stat.S_ISLNK(st.st_mode):
                continue
            teto = MODO_PASTA_LOGS if stat.S_ISDIR(st.st_mode) else MODO_ARQUIVO_LOG
            modo = stat.S_IMODE(st.st_mode)
            if modo & ~teto:
                os.chmod(item, modo & teto)
    except OSError as e:
        log.debug("%s: permissões não ajustadas (%s)", pasta, e)


def _restringir(base: Path) -> None:
    """No access for 'others' on the repository folder (group kept: a shared team)."""
    try:
        st = base.stat()
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o007:
            os.chmod(base, stat.S_IMODE(st.st_mode) & ~0o007)
    except OSError as e:
        log.debug("%s: permissões não ajustadas (%s)", base, e)
