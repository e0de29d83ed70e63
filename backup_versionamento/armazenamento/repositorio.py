"""The repository (format 2): header, packs, index fragments, sidecars, pins.

It assembles the parts over one backend and knows nothing of the file system
outside its per-machine state folder. Write order (docs/FORMATO.md): packs ->
index fragment -> sidecar (exclusive create) -> per-machine caches. A crash at
any point leaves at worst unreferenced packs, never a sidecar that points to
missing data.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

from ..base.nomes_versao import e_versao, maior_versao
from ..base.padroes import (
    BUFFER_MB,
    CACHE_MB,
    NIVEL_COMPRESSAO,
    THREADS_BACKUP,
    THREADS_COMPRESSAO,
)
from ..erros import (
    ErroBackup,
    ErroChaveAusente,
    ErroRepositorio,
    ErroVersaoNaoEncontrada,
)
from ..estado import lugar_do_repositorio, pasta_estado
from . import verificador
from .abertura import (
    CHAVE_CABECALHO,
    FORMATO_REPOSITORIO,
    CabecalhoAberto,
    Criacao,
    PreparadorCriacao,
    ResolvedorChaves,
    abrir_cabecalho,
    cabecalho_novo,
    ler_cabecalho,
    localizar_estado,
    serializar_cabecalho,
)
from .aliases import HistoricoAliases
from .backends import Backend
from .blob import ECONOMIA_MINIMA, Cifra, Codificador
from .coordenacao import Coordenacao
from .deltas import fechar, ler_registro
from .fluxo import Progresso
from .indice_blocos import IndiceBlocos
from .nomes_sidecar import NomesSidecar, id_objeto_sidecar
from .objetos import ArmazemObjetos, SessaoEscrita
from .resumos import IndiceResumos
from .sidecar import (
    CAMPO_NOMES_CHAVEADOS,
    Nomes,
    Sidecar,
    validar_nome_modelo,
)

log = logging.getLogger("SistemaBackup")

# The header's names moved to abertura.py; still importable from here.
__all__ = [
    "CHAVE_CABECALHO",
    "FORMATO_REPOSITORIO",
    "Assinador",
    "PreparadorCriacao",
    "Repositorio",
    "ResolvedorChaves",
    "cabecalho_novo",
    "chave_de_nomes",
    "id_objeto_sidecar",
    "ler_cabecalho",
    "localizar_estado",
    "serializar_cabecalho",
]


class Assinador(Protocol):
    """Signs sidecars before they are published and checks them when read."""

    def assinar(self, sidecar: Sidecar) -> Sidecar: ...

    def conferir(self, sidecar: Sidecar, origem: str) -> None: ...


def chave_de_nomes(chave_ids: bytes) -> bytes:
    """The key of keyed object names, derived from the chunk-id key."""
    return hmac.new(
        chave_ids, b"backup_versionamento/chave-nomes/v1", hashlib.sha256
    ).digest()


class Repositorio(NomesSidecar, CabecalhoAberto, Coordenacao):
    """One format 2 repository over a backend, with this machine's caches. The
    services ask it (and its mixins) rather than reach into its parts."""

    def __init__(
        self,
        backend: Backend,
        cabecalho: dict[str, Any],
        *,
        estado: str = "",
        threads: int = THREADS_BACKUP,
        buffer_mb: int = BUFFER_MB,
        cache_mb: int = CACHE_MB,
        nivel_compressao: int = NIVEL_COMPRESSAO,
        threads_compressao: int = THREADS_COMPRESSAO,
        cifra: Cifra | None = None,
        chave_ids: bytes | None = None,
    ) -> None:
        self.backend = backend
        self.cabecalho = cabecalho
        self.id: str = cabecalho["id"]
        self.pasta_estado = pasta_estado(
            self.id, estado, lugar_do_repositorio(backend.descrever())
        )
        # Set by abrir(): this process wrote the header (see desfazer_criacao).
        self.criacao = Criacao(backend, cabecalho, self.caminho_trava)
        self.threads = threads
        self.buffer_mb = buffer_mb
        compressao = cabecalho.get("compressao") or {}
        self.codificador = Codificador(
            self.id,
            nivel_compressao,
            cifra=cifra,
            economia_minima=float(compressao.get("economia_minima", ECONOMIA_MINIMA)),
            chave_ids=chave_ids,
        )
        # Object keys of models: names in clear, or keyed ids (`nomes_chaveados`).
        chave_nomes = None
        if cabecalho.get(CAMPO_NOMES_CHAVEADOS):
            if chave_ids is None:
                raise ErroRepositorio(
                    f"{backend.descrever()}: o repositório esconde os nomes dos "
                    "modelos e precisa da chave (seguranca.criptografia)"
                )
            chave_nomes = chave_de_nomes(chave_ids)
        self.nomes = Nomes(chave_nomes)
        # Hidden names: listed key -> (model, version), learnt from the sidecars.
        self._nomes_por_chave: dict[str, tuple[str, str]] = {}
        self._nomes_aquecidos = False
        # Versions whose exclusive create failed: they exist (keys are determined
        # by the names), even when their sidecar could not be read.
        self._ocupadas: dict[str, set[str]] = defaultdict(set)
        # Signs and checks sidecars when seguranca.assinatura is on.
        self.assinador: Assinador | None = None
        # Hooks of the security layer: fill fields of a sidecar before it is
        # signed and published (the audit anchor), and add findings to verificar.
        self.anotadores: list[Callable[[Sidecar], Sidecar]] = []
        self.verificadores: list[Callable[[list[Sidecar]], list[dict[str, Any]]]] = []
        self.indice_blocos = IndiceBlocos(
            self.pasta_estado / "blocos.sqlite", max(8, cache_mb // 4)
        )
        self.objetos = ArmazemObjetos(
            backend,
            self.codificador,
            self.indice_blocos,
            escritores=threads,
            threads_compressao=threads_compressao,
        )
        self.resumos = IndiceResumos(
            self.pasta_estado / "versoes.sqlite",
            backend,
            self.ler_versao,
            cache_mb,
            nomes=self.nomes,
            resolver=self.nome_da_chave,
        )

    # -- opening (armazenamento/abertura.py) ----------------------------------------
    @classmethod
    def abrir(
        cls,
        backend: Backend,
        *,
        criar: bool = True,
        preparar_criacao: PreparadorCriacao | None = None,
        chaves: ResolvedorChaves | None = None,
        **opcoes: Any,
    ) -> Repositorio:
        """Open the repository at `backend` (creating it if `criar`)."""
        aberto = abrir_cabecalho(
            backend, criar=criar, preparar_criacao=preparar_criacao, chaves=chaves
        )
        if chaves is not None:
            opcoes["cifra"], opcoes["chave_ids"] = aberto.cifra, aberto.chave_ids
        repo = cls(backend, aberto.cabecalho, **opcoes)
        repo.criacao.criado_agora = aberto.criado_agora
        return repo

    def fechar(self) -> None:
        self.resumos.fechar()
        self.indice_blocos.fechar()

    def descrever(self) -> str:
        return self.backend.descrever()

    # -- what the services ask ------------------------------------------------------
    def atualizar_indice(self) -> None:
        """Re-read the chunk index: a collection may have run since it was read."""
        self.objetos.atualizar_indice(forcar=True)

    def com_bases(self, ids: set[str]) -> set[str]:
        """`ids` and, transitively, the chunks their delta chunks are read from."""
        return fechar(ids, ler_registro(self.objetos)[0])

    def sincronizar(self, modelo: str | None = None) -> None:
        """Bring this machine's version summaries in line with the repository."""
        self.resumos.sincronizar(modelo)

    def danificadas(self, modelo: str | None = None) -> list[dict[str, str]]:
        """Versions whose sidecar did not read at the last listing."""
        return self.resumos.danificadas(modelo)

    def totais(self) -> dict[str, int]:
        """Models, versions and logical bytes (after `modelos()`)."""
        return self.resumos.totais()

    def aliases(self, assinador: Callable[[], Any]) -> HistoricoAliases:
        """The alias histories of this repository, signed by `assinador()`."""
        return HistoricoAliases(
            self.backend, self.codificador, assinador, nomes=self.nomes
        )

    # -- writing -------------------------------------------------------------------
    def sessao(self) -> SessaoEscrita:
        self._garantir_cabecalho()
        return self.objetos.sessao()

    def publicar(self, sidecar: Sidecar) -> bool:
        """Create the sidecar exclusively; False if that version already exists."""
        self._garantir_cabecalho()
        for anotar in self.anotadores:
            sidecar = anotar(sidecar)
        if self.assinador is not None:
            sidecar = self.assinador.assinar(sidecar)
        criado = self.backend.gravar(
            self.nomes.chave_sidecar(sidecar.modelo, sidecar.versao),
            self.selar_sidecar(
                sidecar.modelo, sidecar.versao, sidecar.bytes_canonicos()
            ),
            exclusivo=True,
        )
        if not criado:
            self._ocupadas[sidecar.modelo].add(sidecar.versao)
        elif self.nomes.ocultos:  # this process knows the names of its own key
            chave = self.nomes.chave_sidecar(sidecar.modelo, sidecar.versao)
            self._nomes_por_chave[chave] = (sidecar.modelo, sidecar.versao)
        return criado

    def blocos_ausentes(self, ids: set[str]) -> list[str]:
        """Chunks of `ids` that no existing pack holds (after another's collection)."""
        self.objetos.atualizar_indice(forcar=True)
        pacotes = self.objetos.pacotes()
        ausentes = []
        sumidos = set()
        for id_bloco in ids:
            loc = self.indice_blocos.local(id_bloco)
            if loc is None or loc.pacote not in pacotes:
                ausentes.append(id_bloco)
                if loc is not None:
                    sumidos.add(loc.pacote)
        # Never deduplicate against them again: the retry writes those chunks.
        self.indice_blocos.esquecer_pacotes(sumidos)
        return ausentes

    # -- reading -------------------------------------------------------------------
    def modelos(self) -> list[str]:
        return self.resumos.modelos()

    def versoes(self, modelo: str) -> list[dict[str, Any]]:
        validar_nome_modelo(modelo)
        return self.resumos.versoes(modelo)

    def ultima_versao(self, modelo: str) -> str | None:
        """Highest version in the repository (from a listing, not the cache)."""
        versoes = set(self._ocupadas.get(modelo, ()))
        for chave in self.chaves_sidecars(modelo):
            try:
                versoes.add(self.nome_da_chave(chave)[1])
            except ErroBackup as e:  # verificar reports it; publishing skips it
                log.warning("Metadado ilegível ignorado ao numerar: %s", e)
        return maior_versao([v for v in versoes if e_versao(v)])

    def ler_versao(self, modelo: str, versao: str) -> Sidecar:
        validar_nome_modelo(modelo)
        chave = self.nomes.chave_sidecar(modelo, versao)
        try:
            bruto = self.backend.ler(chave)
        except ErroChaveAusente:
            if self.ultima_versao(modelo) is None:
                raise ErroVersaoNaoEncontrada(
                    f"modelo {modelo!r} não tem backups neste repositório "
                    f"({self.descrever()}); veja os modelos com "
                    "`inicializar_backup.py listar`"
                ) from None
            raise ErroVersaoNaoEncontrada(
                f"versão {versao} do modelo {modelo!r} não existe; veja as versões com "
                f"`inicializar_backup.py listar --modelo {modelo}`"
            ) from None
        origem = f"{self.descrever()}/{chave}"
        sc = Sidecar.ler(
            self.abrir_sidecar(modelo, versao, bruto),
            modelo=modelo,
            versao=versao,
            origem=origem,
        )
        if self.assinador is not None:
            self.assinador.conferir(sc, origem)
        return sc

    def ler_sem_politica(self, modelo: str, versao: str) -> Sidecar:
        """A sidecar decrypted and checked, but not by the signature policy (which
        reads the other versions with it)."""
        chave = self.nomes.chave_sidecar(modelo, versao)
        return Sidecar.ler(
            self.abrir_sidecar(modelo, versao, self.backend.ler(chave)),
            modelo=modelo,
            versao=versao,
            origem=f"{self.descrever()}/{chave}",
        )

    def fixar(self, modelo: str, versao: str, fixa: bool) -> None:
        self.ler_versao(modelo, versao)  # must exist and be readable
        if fixa:
            self.backend.gravar(self.nomes.chave_fixada(modelo, versao), b"")
        else:
            self.backend.apagar(self.nomes.chave_fixada(modelo, versao))

    def remover_versao(self, modelo: str, versao: str) -> None:
        """Delete a version's sidecar (retention); its data goes in the next GC."""
        # Forgotten first: a crash in between must not look like a lost sidecar.
        self.resumos.esquecer(modelo, versao)
        self.backend.apagar(self.nomes.chave_sidecar(modelo, versao))
        self.backend.apagar(self.nomes.chave_fixada(modelo, versao))

    # -- checking (armazenamento/verificador.py) -----------------------------------
    def verificar(
        self,
        *,
        completa: bool = False,
        modelo: str | None = None,
        progresso: Progresso | None = None,
        so_versao: str | None = None,
    ) -> dict[str, Any]:
        """Check sidecars and every chunk they use; report, never raise for findings."""
        return verificador.verificar(
            self,
            completa=completa,
            modelo=modelo,
            progresso=progresso,
            so_versao=so_versao,
        )

    def tamanho_pacotes(self) -> tuple[int, int]:
        """(number of packs, bytes they hold)."""
        pacotes = self.objetos.pacotes()
        return len(pacotes), sum(pacotes.values())
