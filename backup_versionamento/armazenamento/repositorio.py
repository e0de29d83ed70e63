"""The repository (format 2): header, packs, index fragments, sidecars, pins.

It assembles the parts over one backend and knows nothing of the file system
outside its per-machine state folder. Write order (docs/FORMATO.md): packs ->
index fragment -> sidecar (exclusive create) -> per-machine caches. A crash at
any point leaves at worst unreferenced packs, never a sidecar that points to
missing data.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import blake3

from ..base.tempo import agora_iso
from ..erros import (
    ErroBackup,
    ErroChaveAusente,
    ErroIntegridade,
    ErroObjetoCorrompido,
    ErroRepositorio,
    ErroTrava,
    ErroVersaoNaoEncontrada,
)
from ..estado import lugar_do_repositorio, pasta_estado
from ..politica.versoes import Versao, e_versao
from .backends import Backend
from .blob import ECONOMIA_MINIMA, TIPO_SIDECAR, Cifra, Codificador
from .cabecalho import conferir_parametros
from .fluxo import (
    CDC_MAXIMO,
    CDC_MEDIO,
    CDC_MINIMO,
    Escrito,
    Progresso,
    escrever_blocos_conferidos,
)
from .fragmento import PREFIXO as PREFIXO_FRAGMENTOS
from .indice_blocos import IndiceBlocos
from .objetos import ArmazemObjetos, SessaoEscrita
from .pacote import PREFIXO as PREFIXO_PACOTES
from .pacote import Local, chave_pacote, ler_trailer
from .resumos import IndiceResumos
from .sidecar import (
    CAMPO_NOMES_CHAVEADOS,
    PREFIXO,
    Nomes,
    Sidecar,
    conferencia_entrada,
    id_objeto_chave,
    motivo_json,
    validar_nome_modelo,
)
from .trava import travar

log = logging.getLogger("SistemaBackup")

FORMATO_REPOSITORIO = 2
CHAVE_CABECALHO = "repositorio.json"


def cabecalho_novo(id_repositorio: str | None = None) -> dict[str, Any]:
    return {
        "formato": FORMATO_REPOSITORIO,
        "id": id_repositorio or uuid.uuid4().hex,
        "criado_em": agora_iso(),
        "fragmentacao": {
            "algoritmo": "fastcdc2020",
            "medio": CDC_MEDIO,
            "minimo": CDC_MINIMO,
            "maximo": CDC_MAXIMO,
        },
        "hash_bloco": "blake3",
        "ids_chaveados": False,
        "hash_arquivo": "sha256",
        "compressao": {"algoritmo": "zstd", "economia_minima": ECONOMIA_MINIMA},
        "criptografia": None,
    }


# Security hooks (implemented by the `seguranca` layer; storage stays unaware of keys).
# `preparar_criacao(cab)` fills a new header's encryption fields and writes what it
# needs (key objects) before the header exists; it returns the keys it wrote, which
# are deleted if another process created the repository first.
PreparadorCriacao = Callable[[dict[str, Any]], list[str]]
# `chaves(cab)` -> (cipher, key for chunk ids) for an existing header, or raises.
ResolvedorChaves = Callable[[dict[str, Any]], tuple[Cifra | None, bytes | None]]


class Assinador(Protocol):
    """Signs sidecars before they are published and checks them when read."""

    def assinar(self, sidecar: Sidecar) -> Sidecar: ...

    def conferir(self, sidecar: Sidecar, origem: str) -> None: ...


def id_objeto_sidecar(modelo: str, versao: str) -> bytes:
    """Object id of a sidecar blob: a sidecar moved elsewhere fails authentication."""
    return blake3.blake3(f"{modelo}/{versao}".encode()).digest()


def chave_de_nomes(chave_ids: bytes) -> bytes:
    """The key of keyed object names, derived from the chunk-id key."""
    return hmac.new(
        chave_ids, b"backup_versionamento/chave-nomes/v1", hashlib.sha256
    ).digest()


def serializar_cabecalho(cab: dict[str, Any]) -> bytes:
    return (json.dumps(cab, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def ler_cabecalho(backend: Backend) -> dict[str, Any] | None:
    """The header as stored, or None when there is no repository there."""
    try:
        bruto = backend.ler(CHAVE_CABECALHO)
    except ErroChaveAusente:
        return None
    try:
        cab = json.loads(bruto)
    except (ValueError, UnicodeDecodeError) as e:
        raise ErroRepositorio(
            f"{backend.descrever()}/{CHAVE_CABECALHO}: cabeçalho do repositório "
            f"ilegível ({motivo_json(e)}); restaure-o de uma cópia"
        ) from None
    if not isinstance(cab, dict):
        raise ErroRepositorio(
            f"{backend.descrever()}/{CHAVE_CABECALHO}: cabeçalho inválido"
        )
    return cab


def localizar_estado(backend: Backend, estado: str = "") -> Path | None:
    """This machine's state folder of the repository at `backend` (None: no repo)."""
    cab = ler_cabecalho(backend)
    if cab is None or not isinstance(cab.get("id"), str):
        return None
    return pasta_estado(cab["id"], estado, lugar_do_repositorio(backend.descrever()))


class Repositorio:
    """One format 2 repository over a backend, with this machine's caches."""

    def __init__(
        self,
        backend: Backend,
        cabecalho: dict[str, Any],
        *,
        estado: str = "",
        threads: int = 2,
        buffer_mb: int = 128,
        cache_mb: int = 256,
        nivel_compressao: int = 1,
        threads_compressao: int = 2,
        cifra: Cifra | None = None,
        chave_ids: bytes | None = None,
    ) -> None:
        self.backend = backend
        self.cabecalho = cabecalho
        self.id: str = cabecalho["id"]
        # Set by abrir(): this process wrote the header (see desfazer_criacao).
        self.criado_agora = False
        self._desfeito = False
        self.pasta_estado = pasta_estado(
            self.id, estado, lugar_do_repositorio(backend.descrever())
        )
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

    # -- opening -------------------------------------------------------------------
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
        cab = ler_cabecalho(backend)
        if cab is None:
            if not criar:
                raise ErroRepositorio(
                    f"{backend.descrever()}: repositório não encontrado; crie-o com o "
                    "primeiro backup (`inicializar_backup.py backup --modelo "
                    "ARQUIVO`) ou confira diretorios.base / --base"
                )
            cab = cls._criar(backend, preparar_criacao)
            criado_agora = True
        else:
            criado_agora = False
        formato = cab.get("formato")
        if formato == 1:
            raise ErroRepositorio(
                f"{backend.descrever()}: repositório no formato 1 (um arquivo por "
                "bloco); converta-o uma vez com `inicializar_backup.py migrar "
                f"--base {backend.descrever()}` (seguro: pode ser interrompido e "
                "retomado)"
            )
        if formato != FORMATO_REPOSITORIO:
            raise ErroRepositorio(
                f"{backend.descrever()}/{CHAVE_CABECALHO}: formato de repositório "
                f"{formato!r} desconhecido; esta versão lê o formato "
                f"{FORMATO_REPOSITORIO}. Atualize o backup_versionamento ou use "
                "outra pasta."
            )
        if not isinstance(cab.get("id"), str) or len(cab["id"]) != 32:
            raise ErroRepositorio(
                f"{backend.descrever()}/{CHAVE_CABECALHO}: id do repositório inválido"
            )
        conferir_parametros(cab, f"{backend.descrever()}/{CHAVE_CABECALHO}")
        if cab.get("migracao_pendente"):  # usable; the old objects still take space
            log.warning(
                "%s: migração do formato 1 interrompida; termine-a com "
                "`inicializar_backup.py migrar --base %s`",
                backend.descrever(),
                backend.descrever(),
            )
        if chaves is not None:
            opcoes["cifra"], opcoes["chave_ids"] = chaves(cab)
        elif cab.get("criptografia"):
            raise ErroRepositorio(
                f"{backend.descrever()}: repositório criptografado; abra-o com a "
                "configuração de seguranca.criptografia"
            )
        repo = cls(backend, cab, **opcoes)
        repo.criado_agora = criado_agora
        return repo

    @staticmethod
    def _criar(
        backend: Backend, preparar: PreparadorCriacao | None = None
    ) -> dict[str, Any]:
        """Create the header; concurrent creators agree on the first one written."""
        estranhos = {
            info.chave.split("/", 1)[0]
            for info, _ in zip(backend.listar(""), range(1000), strict=False)
        } - {
            CHAVE_CABECALHO,  # another process created it meanwhile: fine
            "logs",
            "modelos",
            "pacotes",
            "indices",
            "travas",
            "relatorios",
            "chaves",  # key objects of a concurrent creator (or the key file's folder)
            "auditoria",  # audit witnesses (seguranca/auditoria.py)
        }
        if estranhos:
            raise ErroRepositorio(
                f"{backend.descrever()}: a pasta não está vazia e não é um repositório "
                f"de backup (contém {', '.join(sorted(estranhos)[:5])}); use uma "
                "pasta nova"
            )
        novo = cabecalho_novo()
        escritas = preparar(novo) if preparar is not None else []
        backend.gravar(CHAVE_CABECALHO, serializar_cabecalho(novo), exclusivo=True)
        cab = ler_cabecalho(backend)
        if cab is None:  # pragma: no cover - the store lost a write it acknowledged
            raise ErroRepositorio(f"{backend.descrever()}: cabeçalho sumiu ao criar")
        if cab.get("id") != novo["id"]:  # another process won: drop our key objects
            for chave in escritas:
                backend.apagar(chave)
        return cab

    def fechar(self) -> None:
        self.resumos.fechar()
        self.indice_blocos.fechar()

    def descrever(self) -> str:
        return self.backend.descrever()

    # -- locks (per machine) -------------------------------------------------------
    def caminho_trava(self, nome: str) -> Path:
        pasta = self.pasta_estado / "travas"
        if not pasta.is_dir() and (pasta.exists() or pasta.is_symlink()):
            # Per-machine state, never the truth: a file in the way is removed.
            log.warning("%s não é uma pasta; removido e recriado", pasta)
            with contextlib.suppress(FileNotFoundError):
                pasta.unlink()
        return pasta / f"{nome}.lock"

    # -- writing -------------------------------------------------------------------
    def desfazer_criacao(self) -> bool:
        """Remove the header this process just created if nothing was stored since.

        A first backup refused before writing (validation, disk space) must not
        leave an empty repository behind. Only where this machine's lock truly
        excludes writers and the repository is not encrypted (its key objects
        would have to be recreated); the next write puts the same header back.
        """
        if (
            not self.criado_agora
            or not self.backend.exclusao_real
            or self.cabecalho.get("criptografia")
        ):
            return False
        try:
            with travar(self.caminho_trava("repositorio"), espera=0):
                for prefixo in (PREFIXO, PREFIXO_PACOTES, PREFIXO_FRAGMENTOS):
                    if next(iter(self.backend.listar(prefixo)), None) is not None:
                        return False
                cab = ler_cabecalho(self.backend)
                if cab is None or cab.get("id") != self.id:
                    return False
                self.backend.apagar(CHAVE_CABECALHO)
        except ErroTrava:
            return False  # someone else is using it: it stays
        self.criado_agora = False
        self._desfeito = True
        return True

    def _garantir_cabecalho(self) -> None:
        """Put back a header removed by desfazer_criacao before the next write."""
        if not self._desfeito:
            return
        self.backend.gravar(
            CHAVE_CABECALHO, serializar_cabecalho(self.cabecalho), exclusivo=True
        )
        cab = ler_cabecalho(self.backend)
        if cab is None or cab.get("id") != self.id:
            raise ErroRepositorio(
                f"{self.descrever()}: outro processo criou o repositório ao mesmo "
                "tempo; repita o comando"
            )
        self._desfeito = False
        self.criado_agora = True

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

    def selar_sidecar(
        self, modelo: str, versao: str, claro: bytes
    ) -> bytes | list[bytes | memoryview]:
        """Canonical JSON as is, or an encrypted blob of kind 3 when encrypted."""
        if self.codificador.cifra is None:
            return claro
        return self.codificador.codificar(
            claro, TIPO_SIDECAR, self._id_objeto(modelo, versao), sempre_tentar=True
        )

    def _id_objeto(self, modelo: str, versao: str) -> bytes:
        # Hidden names: the key is bound, and the key is bound to the names.
        if self.nomes.ocultos:
            return id_objeto_chave(self.nomes.chave_sidecar(modelo, versao))
        return id_objeto_sidecar(modelo, versao)

    def abrir_sidecar(self, modelo: str, versao: str, bruto: bytes) -> bytes:
        return self._abrir_em(
            self.nomes.chave_sidecar(modelo, versao),
            self._id_objeto(modelo, versao),
            bruto,
        )

    def _abrir_em(self, chave: str, id_objeto: bytes, bruto: bytes) -> bytes:
        if self.codificador.cifra is None:
            return bruto
        try:
            return bytes(
                self.codificador.decodificar(bruto, TIPO_SIDECAR, id_objeto, nome=chave)
            )
        except ErroObjetoCorrompido as e:  # name the file, not the object id
            raise ErroObjetoCorrompido(
                f"{self.descrever()}/{chave}: metadado recusado ({e.mensagem})", chave
            ) from None

    # -- reading -------------------------------------------------------------------
    def modelos(self) -> list[str]:
        return self.resumos.modelos()

    def versoes(self, modelo: str) -> list[dict[str, Any]]:
        validar_nome_modelo(modelo)
        return self.resumos.versoes(modelo)

    def nome_da_chave(self, chave: str) -> tuple[str, str]:
        """(model, version) of a listed sidecar key; raises ErroBackup if unreadable.

        In clear, the key says it. Hidden, this machine's summaries or an earlier
        read say it, else the sidecar is read (decrypted, not signature-checked:
        callers read the version next) and must hash back to `chave`.
        """
        if not self.nomes.ocultos:
            segs = self.nomes.segmentos(chave)
            if segs is None:
                raise ErroIntegridade(f"{self.descrever()}/{chave}: não é um metadado")
            return segs
        achado = self._nomes_por_chave.get(chave)
        if achado is None and not self._nomes_aquecidos:
            self._nomes_aquecidos = True
            for m, v in self.resumos.conhecidas():
                self._nomes_por_chave[self.nomes.chave_sidecar(m, v)] = (m, v)
            achado = self._nomes_por_chave.get(chave)
        if achado is not None:
            return achado
        origem = f"{self.descrever()}/{chave}"
        claro = self._abrir_em(chave, id_objeto_chave(chave), self.backend.ler(chave))
        try:
            dados = json.loads(claro)
        except (ValueError, UnicodeDecodeError) as e:
            raise ErroIntegridade(
                f"{origem}: metadado corrompido ({motivo_json(e)})"
            ) from None
        modelo = dados.get("modelo") if isinstance(dados, dict) else None
        versao = dados.get("versao") if isinstance(dados, dict) else None
        if not isinstance(modelo, str) or not isinstance(versao, str):
            raise ErroIntegridade(f"{origem}: metadado sem modelo ou versão")
        self.nomes.conferir(chave, modelo, versao, origem)
        self._nomes_por_chave[chave] = (modelo, versao)
        return modelo, versao

    def chaves_sidecars(self, modelo: str | None = None) -> list[str]:
        """Keys of every sidecar (of one model), sorted, from a listing."""
        prefixo = self.nomes.prefixo(modelo) if modelo else PREFIXO
        return sorted(
            info.chave
            for info in self.backend.listar(prefixo)
            if self.nomes.segmentos(info.chave) is not None
        )

    def ultima_versao(self, modelo: str) -> Versao | None:
        """Highest version in the repository (from a listing, not the cache)."""
        versoes = set(self._ocupadas.get(modelo, ()))
        for chave in self.chaves_sidecars(modelo):
            try:
                versoes.add(self.nome_da_chave(chave)[1])
            except ErroBackup as e:  # verificar reports it; publishing skips it
                log.warning("Metadado ilegível ignorado ao numerar: %s", e)
        validas = [Versao.ler(v) for v in versoes if e_versao(v)]
        return max(validas) if validas else None

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

    def iterar_sidecars(self) -> Iterator[tuple[str, str, Sidecar | ErroBackup]]:
        """Every (modelo, versao, sidecar or the error reading it), from the store."""
        chaves = sorted(i.chave for i in self.backend.listar(PREFIXO))
        ocupados = set()
        for chave in chaves:
            resto = chave[len(PREFIXO) :]
            partes = resto.split("/")
            if len(partes) > 2:
                # Keys under "<versao>.json/": a folder took the sidecar's place.
                lugar = f"{PREFIXO}{partes[0]}/{partes[1]}"
                segs = self.nomes.segmentos(lugar)
                if segs is not None and lugar not in ocupados:
                    ocupados.add(lugar)
                    yield (
                        *self._rotulos(lugar, segs),
                        ErroIntegridade(
                            f"{self.descrever()}/{lugar}: uma pasta "
                            "ocupa o lugar do metadado da versão; restaure o arquivo "
                            "de uma cópia do repositório"
                        ),
                    )
                continue
            segs = self.nomes.segmentos(chave)
            if segs is None:
                continue
            try:
                modelo, versao = self.nome_da_chave(chave)
            except ErroBackup as e:
                yield (*self._rotulos(chave, segs), e)
                continue
            try:
                yield modelo, versao, self.ler_versao(modelo, versao)
            except ErroBackup as e:
                yield modelo, versao, e

    def _rotulos(self, chave: str, segs: tuple[str, str]) -> tuple[str, str]:
        """Names to report an unreadable sidecar by (its key's ids when hidden)."""
        if not self.nomes.ocultos:
            return segs
        if not self._nomes_aquecidos:
            with contextlib.suppress(ErroBackup):
                self.nome_da_chave(chave)
        return self._nomes_por_chave.get(chave, (f"(nome oculto {segs[0]})", segs[1]))

    # -- checking ------------------------------------------------------------------
    def verificar(
        self,
        *,
        completa: bool = False,
        modelo: str | None = None,
        progresso: Progresso | None = None,
        so_versao: str | None = None,
    ) -> dict[str, Any]:
        """Check sidecars and every chunk they use; report, never raise for findings.

        `so_versao` (with `modelo`) checks that one version."""
        inicio = time.monotonic()
        problemas: list[dict[str, Any]] = []
        usos: dict[str, set[tuple[str, str]]] = defaultdict(set)
        tamanhos: dict[str, int] = {}
        sidecars: list[Sidecar] = []
        # Versions this machine listed before whose sidecar is gone (deleted,
        # or an empty folder in its place): reported once.
        sumidas = self.resumos.sumidas(modelo)
        for mod, versao, sc in self.iterar_sidecars():
            if (modelo and mod != modelo) or (so_versao and versao != so_versao):
                continue
            if isinstance(sc, ErroBackup):
                self.resumos.esquecer(mod, versao)
                problemas.append(
                    {
                        "tipo": "metadado",
                        "modelo": mod,
                        "versao": versao,
                        "mensagem": str(sc),
                    }
                )
                continue
            sidecars.append(sc)
            for id_bloco, n in sc.blocos():
                usos[id_bloco].add((mod, versao))
                tamanhos[id_bloco] = n
        ja = {(p["modelo"], p["versao"]) for p in problemas}
        for mod, versao, visto in sumidas:
            if (mod, versao) in ja:
                continue
            problemas.append(
                {
                    "tipo": "metadado",
                    "modelo": mod,
                    "versao": versao,
                    "mensagem": f"{self.descrever()}/"
                    f"{self.nomes.chave_sidecar(mod, versao)}: "
                    f"o metadado desta versão sumiu do repositório (esta máquina a "
                    f"listou; notado em {visto}). Se não foi a retenção de outra "
                    "máquina, restaure o arquivo de uma cópia; os blocos não usados "
                    "por outras versões saem na próxima limpeza",
                }
            )
        self.objetos.atualizar_indice(forcar=True)
        ruins: dict[str, str] = {}
        por_pacote: dict[str, list[tuple[str, Local]]] = defaultdict(list)
        for id_bloco in usos:
            try:
                loc = self.objetos.localizar(id_bloco)
            except ErroObjetoCorrompido as e:
                ruins[id_bloco] = str(e)
                continue
            por_pacote[loc.pacote].append((id_bloco, loc))

        pacotes_ruins: dict[str, str] = {}
        # Chunks whose pack's trailer contradicts this machine's index.
        contraditos: set[str] = set()
        nao_lidos: set[str] = set()

        def checar(
            item: tuple[str, list[tuple[str, Local]]],
        ) -> tuple[dict[str, str], int]:
            id_pacote, blocos = item
            erros: dict[str, str] = {}
            try:
                dados = self.backend.ler(chave_pacote(id_pacote))
            except ErroChaveAusente:
                return {
                    i: f"bloco {i}: pacote {id_pacote} ausente" for i, _ in blocos
                }, 0
            except (ErroBackup, OSError) as e:
                nao_lidos.update(i for i, _ in blocos)  # not known damaged
                return {i: f"bloco {i}: erro de leitura ({e})" for i, _ in blocos}, 0
            # The trailer is the map of last resort (a lost fragment): check it.
            trailer = None
            try:
                trailer = ler_trailer(self.codificador, id_pacote, dados, len(dados))
            except ErroObjetoCorrompido as e:
                pacotes_ruins[id_pacote] = str(e)
            vista = memoryview(dados)
            for id_bloco, loc in blocos:
                trecho = vista[loc.deslocamento : loc.deslocamento + loc.tamanho]
                try:
                    if len(trecho) != loc.tamanho:
                        raise ErroObjetoCorrompido(
                            f"bloco {id_bloco}: pacote {id_pacote} truncado", id_bloco
                        )
                    claro = self.codificador.decodificar_bloco(id_bloco, trecho)
                    if len(claro) != tamanhos[id_bloco]:
                        raise ErroObjetoCorrompido(
                            f"bloco {id_bloco}: tamanho não confere", id_bloco
                        )
                except ErroObjetoCorrompido as e:
                    erros[id_bloco] = str(e)
                    if trailer is not None and trailer.get(id_bloco) != loc:
                        contraditos.add(id_bloco)
            return erros, len(dados)

        with ThreadPoolExecutor(max(1, self.threads)) as pool:
            for erros, lidos in pool.map(checar, por_pacote.items()):
                ruins.update(erros)
                if progresso:
                    progresso(lidos)
        # Damaged where the trailer puts them: the next backup stores them again.
        self.indice_blocos.marcar_danificados(
            {
                i: loc
                for lista in por_pacote.values()
                for i, loc in lista
                if i in ruins and i not in contraditos and i not in nao_lidos
            }
        )
        if contraditos and self.objetos.reconstruir_indice(
            f"{len(contraditos)} bloco(s) fora do lugar que o pacote registra"
        ):
            return self.verificar(completa=completa, modelo=modelo, progresso=None)
        for id_bloco, erro in ruins.items():
            for mod, versao in sorted(usos[id_bloco]):
                problemas.append(
                    {
                        "tipo": "objeto",
                        "modelo": mod,
                        "versao": versao,
                        "objeto": id_bloco,
                        "mensagem": erro,
                    }
                )
        for id_pacote, erro in sorted(pacotes_ruins.items()):
            n_ruins = sum(i in ruins for i, _ in por_pacote[id_pacote])
            estado = (
                f"{n_ruins} bloco(s) dele estão ilegíveis (acima)"
                if n_ruins
                else "os blocos seguem legíveis"
            )
            for mod, versao in sorted(
                {u for i, _ in por_pacote[id_pacote] for u in usos[i]}
            ):
                problemas.append(
                    {
                        "tipo": "pacote",
                        "modelo": mod,
                        "versao": versao,
                        "objeto": id_pacote,
                        "pacote": id_pacote,
                        "mensagem": f"{erro}; {estado}, e o pacote não poderia "
                        "reconstruir um índice perdido",
                    }
                )
        if completa:
            for sc in sidecars:
                if not any(i in ruins for i, _ in sc.blocos()):
                    problemas.extend(self._verificar_reconstrucao(sc))
        for verificador in self.verificadores:
            problemas.extend(verificador(sidecars))
        self.resumos.esquecer_sumidas(sumidas)  # reported: once is enough
        afetadas = sorted({f"{p['modelo']} {p['versao']}" for p in problemas})
        return {
            "ok": not problemas,
            "completa": completa,
            "versoes_verificadas": len(sidecars)
            + sum(p["tipo"] == "metadado" for p in problemas),
            "objetos_verificados": len(usos),
            "pacotes_verificados": len(por_pacote),
            "versoes_com_problema": afetadas,
            "problemas": problemas,
            # Skipped, the index rebuilt from the packs: no data at risk.
            "avisos": [
                f"{self.descrever()}/{chave}: fragmento de índice ilegível, "
                f"ignorado ({motivo}); o índice foi refeito pelos pacotes"
                for chave, motivo in sorted(
                    self.indice_blocos.fragmentos_ilegiveis.items()
                )
            ],
            "duracao_s": round(time.monotonic() - inicio, 3),
        }

    def _verificar_reconstrucao(self, sc: Sidecar) -> list[dict[str, Any]]:
        saida = []
        with open(os.devnull, "wb") as nulo:
            for ent in sc.arquivos():
                try:
                    r = escrever_blocos_conferidos(
                        nulo.fileno(),
                        self.objetos,
                        list(ent.blocos),
                        threads=self.threads,
                        sha256=True,
                        digest_blake3=True,
                    )
                except ErroObjetoCorrompido as e:
                    r = Escrito(-1, str(e))
                if (
                    r.tamanho != ent.tamanho
                    or r.sha256 != ent.sha256
                    or (
                        ent.conferencia
                        and conferencia_entrada(ent.caminho, ent.sha256, r.blake3)
                        != ent.conferencia
                    )
                ):
                    saida.append(
                        {
                            "tipo": "conteudo",
                            "modelo": sc.modelo,
                            "versao": sc.versao,
                            "mensagem": f"{ent.caminho}: conteúdo reconstruído não "
                            "confere com o registrado (SHA-256 ou conferência BLAKE3)",
                        }
                    )
        return saida

    def tamanho_pacotes(self) -> tuple[int, int]:
        """(number of packs, bytes they hold)."""
        pacotes = self.objetos.pacotes()
        return len(pacotes), sum(pacotes.values())
