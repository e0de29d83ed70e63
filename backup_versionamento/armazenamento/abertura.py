"""Opening and creating a repository: the header, the format gate, undoing a create.

A repository is its header (`repositorio.json`): opening reads it and refuses a
format this version does not read; the first writer creates it (concurrent
creators agree on the first one written). `Criacao` remembers that this process
created it, so a first backup refused before writing leaves no empty repository.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base.tempo import agora_iso
from ..erros import ErroChaveAusente, ErroRepositorio, ErroTrava
from ..estado import lugar_do_repositorio, pasta_estado
from .backends import Backend
from .blob import ECONOMIA_MINIMA, Cifra
from .cabecalho import conferir_parametros
from .fluxo import CDC_MAXIMO, CDC_MEDIO, CDC_MINIMO
from .fragmento import PREFIXO as PREFIXO_FRAGMENTOS
from .pacote import PREFIXO as PREFIXO_PACOTES
from .sidecar import PREFIXO, motivo_json
from .trava import travar

log = logging.getLogger("SistemaBackup")

FORMATO_REPOSITORIO = 2
CHAVE_CABECALHO = "repositorio.json"
# Top-level folders a new repository's place may already hold.
_PASTAS_DO_REPOSITORIO = {
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

# Security hooks (implemented by the `seguranca` layer; storage stays unaware of keys).
# `preparar_criacao(cab)` fills a new header's encryption fields and writes what it
# needs (key objects) before the header exists; it returns the keys it wrote, which
# are deleted if another process created the repository first.
PreparadorCriacao = Callable[[dict[str, Any]], list[str]]
# `chaves(cab)` -> (cipher, key for chunk ids) for an existing header, or raises.
ResolvedorChaves = Callable[[dict[str, Any]], tuple[Cifra | None, bytes | None]]


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
        # Features that change how objects are read (cabecalho.RECURSOS).
        "recursos": ["deltas"],
    }


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


@dataclass
class Aberto:
    """A header that passed the format gate, with its keys resolved."""

    cabecalho: dict[str, Any]
    criado_agora: bool
    cifra: Cifra | None = None
    chave_ids: bytes | None = None


def abrir_cabecalho(
    backend: Backend,
    *,
    criar: bool = True,
    preparar_criacao: PreparadorCriacao | None = None,
    chaves: ResolvedorChaves | None = None,
) -> Aberto:
    """Read (or create) the header, check its format and resolve its keys."""
    cab = ler_cabecalho(backend)
    criado_agora = cab is None
    if cab is None:
        if not criar:
            raise ErroRepositorio(
                f"{backend.descrever()}: repositório não encontrado; crie-o com o "
                "primeiro backup (`inicializar_backup.py backup --modelo "
                "ARQUIVO`) ou confira diretorios.base / --base"
            )
        cab = criar_cabecalho(backend, preparar_criacao)
    conferir_formato(backend, cab)
    aberto = Aberto(cab, criado_agora)
    if chaves is not None:
        aberto.cifra, aberto.chave_ids = chaves(cab)
    elif cab.get("criptografia"):
        raise ErroRepositorio(
            f"{backend.descrever()}: repositório criptografado; abra-o com a "
            "configuração de seguranca.criptografia"
        )
    return aberto


def conferir_formato(backend: Backend, cab: dict[str, Any]) -> None:
    """The format gate: only a format 2 header with a valid id and parameters."""
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


def criar_cabecalho(
    backend: Backend, preparar: PreparadorCriacao | None = None
) -> dict[str, Any]:
    """Create the header; concurrent creators agree on the first one written."""
    estranhos = {
        info.chave.split("/", 1)[0]
        for info, _ in zip(backend.listar(""), range(1000), strict=False)
    } - _PASTAS_DO_REPOSITORIO
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


class Criacao:
    """Whether this process created the header, to undo it or put it back."""

    def __init__(
        self,
        backend: Backend,
        cabecalho: dict[str, Any],
        caminho_trava: Callable[[str], Path],
    ) -> None:
        self.backend = backend
        self.cabecalho = cabecalho
        self.caminho_trava = caminho_trava
        self.criado_agora = False  # set by Repositorio.abrir
        self._desfeito = False

    def desfazer(self) -> bool:
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
                if cab is None or cab.get("id") != self.cabecalho["id"]:
                    return False
                self.backend.apagar(CHAVE_CABECALHO)
        except ErroTrava:
            return False  # someone else is using it: it stays
        self.criado_agora = False
        self._desfeito = True
        return True

    def garantir(self) -> None:
        """Put back a header removed by `desfazer` before the next write."""
        if not self._desfeito:
            return
        self.backend.gravar(
            CHAVE_CABECALHO, serializar_cabecalho(self.cabecalho), exclusivo=True
        )
        cab = ler_cabecalho(self.backend)
        if cab is None or cab.get("id") != self.cabecalho["id"]:
            raise ErroRepositorio(
                f"{self.backend.descrever()}: outro processo criou o repositório ao "
                "mesmo tempo; repita o comando"
            )
        self._desfeito = False
        self.criado_agora = True


class CabecalhoAberto:
    """The header as this process opened it, and its creation (mixed into
    `Repositorio`): fields to read, fields other machines added, undoing."""

    backend: Backend
    cabecalho: dict[str, Any]
    criacao: Criacao

    def desfazer_criacao(self) -> bool:
        """Remove the header this process just created if nothing was stored since."""
        return self.criacao.desfazer()

    def _garantir_cabecalho(self) -> None:
        self.criacao.garantir()

    def campo_cabecalho(self, nome: str) -> Any:
        """A field of the header as opened (None if absent)."""
        return self.cabecalho.get(nome)

    def cabecalho_gravado(self) -> dict[str, Any] | None:
        """The header as stored now (another machine may have added a field)."""
        return ler_cabecalho(self.backend)

    def adotar_campo(self, nome: str, valor: Any) -> None:
        """Take into this process's header a field found in the stored one."""
        self.cabecalho[nome] = valor

    def gravar_campo(self, cab: dict[str, Any], nome: str, valor: Any) -> None:
        """Write the stored header `cab` (just read) with `nome` set, and adopt it."""
        cab[nome] = valor
        self.backend.gravar(CHAVE_CABECALHO, serializar_cabecalho(cab))
        self.cabecalho[nome] = valor
