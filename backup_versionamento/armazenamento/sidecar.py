"""Version sidecars: the typed record that is the truth about one version.

Stored at `modelos/<modelo>/<versao>.json` as canonical JSON (sorted keys, no
spaces, UTF-8): the same content always gives the same bytes, which is what a
signature covers. A sidecar is checked on every read: its schema, its fields,
that its entries add up to its size and hash, and that the model and version it
names are the ones of the place it was read from (a sidecar copied over another
is rejected).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

import blake3

from ..base.nomes_versao import e_versao, ordem_versao
from ..erros import ErroArgumento, ErroIntegridade

ESQUEMA_SIDECAR = 2
ESQUEMAS_LIDOS = {1, 2}  # 1: written by format 1 repositories, same fields
PREFIXO = "modelos/"
SUFIXO = ".json"
SUFIXO_FIXADA = ".fixada"
TAMANHO_MAXIMO_NOME = 200
_NOME_PROIBIDO = re.compile(r"[/\\\x00-\x1f\x7f]")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def motivo_json(e: ValueError) -> str:
    """Why stored bytes are not JSON, in Portuguese (json's own text is English)."""
    if isinstance(e, json.JSONDecodeError):
        return f"JSON inválido na linha {e.lineno}, coluna {e.colno}"
    return "não é JSON em UTF-8"


def validar_nome_modelo(nome: str) -> str:
    """A model name becomes a key segment: refuse anything that could escape it.

    The name always comes from the caller (--nome, nome_modelo=, --modelo), so
    a bad one is a usage error (exit 2), not a damaged repository.
    """
    if (
        not isinstance(nome, str)
        or not nome
        or nome in {".", ".."}
        or _NOME_PROIBIDO.search(nome)
        or nome.startswith(".")
    ):
        raise ErroArgumento(
            f"nome de modelo inválido: {nome!r}; use um nome de arquivo simples, sem "
            "'/', sem caracteres de controle, sem começar com '.' (opção --nome)"
        )
    if len(nome.encode("utf-8")) > TAMANHO_MAXIMO_NOME:
        raise ErroArgumento(
            f"nome de modelo longo demais ({len(nome)} caracteres): use até "
            f"{TAMANHO_MAXIMO_NOME} bytes (opção --nome)"
        )
    return nome


def chave_sidecar(modelo: str, versao: str) -> str:
    return f"{PREFIXO}{modelo}/{versao}{SUFIXO}"


def versao_da_chave(chave: str) -> tuple[str, str] | None:
    """(modelo, versao) of a sidecar's key (`chave_sidecar`'s inverse), else None."""
    resto = chave[len(PREFIXO) :] if chave.startswith(PREFIXO) else ""
    modelo, _, nome = resto.partition("/")
    if not modelo or "/" in nome or not nome.endswith(SUFIXO):
        return None
    versao = nome[: -len(SUFIXO)]
    return (modelo, versao) if e_versao(versao) else None


def chave_fixada(modelo: str, versao: str) -> str:
    return f"{PREFIXO}{modelo}/{versao}{SUFIXO_FIXADA}"


def caminho_entrada_seguro(caminho: str) -> PurePosixPath:
    """Refuse absolute paths and '..' coming from a sidecar."""
    p = PurePosixPath(caminho)
    if (
        not caminho
        or p.is_absolute()
        or ".." in p.parts
        or "\\" in caminho
        or "\x00" in caminho
    ):
        raise ErroIntegridade(f"metadado com caminho inseguro recusado: {caminho!r}")
    return p


def digest_diretorio(entradas: list[Entrada] | tuple[Entrada, ...]) -> str:
    """One SHA-256 for a directory model: over sorted (kind, path, file sha256)."""
    h = hashlib.sha256()
    for e in sorted(entradas, key=lambda e: e.caminho):
        h.update(f"{e.tipo}\t{e.caminho}\t{e.sha256}\n".encode())
    return h.hexdigest()


def conferencia_entrada(caminho: str, sha256: str, blake3_conteudo: bytes) -> str:
    """The end-to-end check of a file entry, verified on every restore.

    BLAKE3 of the entry's path, its recorded SHA-256 and the BLAKE3 of its
    content: a chunk list edited to other intact chunks, an edited `sha256` or
    entries swapped between paths all fail it. BLAKE3 is fast enough to run on
    every restore (docs/FORMATO.md).
    """
    h = blake3.blake3(b"BV2-conferencia\0")
    h.update(caminho.encode("utf-8") + b"\0" + sha256.encode("ascii") + b"\0")
    h.update(blake3_conteudo)
    return h.hexdigest()


@dataclass(frozen=True)
class Entrada:
    """A file or folder of a model; files list their chunks in order."""

    caminho: str
    tipo: str  # "arquivo" | "diretorio"
    modo: int
    tamanho: int = 0
    sha256: str = ""
    blocos: tuple[tuple[str, int], ...] = ()
    # The source file's stat when read: size, mtime_ns, inode, ctime_ns. Lets
    # an unchanged model be recognised without reading it.
    fonte: dict[str, int] | None = None
    # conferencia_entrada(); "" in versions written before it existed (those
    # are checked by their SHA-256 on restore).
    conferencia: str = ""

    def como_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "caminho": self.caminho,
            "tipo": self.tipo,
            "modo": self.modo,
        }
        if self.tipo == "arquivo":
            d.update(
                tamanho=self.tamanho,
                sha256=self.sha256,
                blocos=[[i, n] for i, n in self.blocos],
            )
            if self.fonte is not None:
                d["fonte"] = self.fonte
            # Absent when empty: older sidecars keep their canonical bytes.
            if self.conferencia:
                d["conferencia"] = self.conferencia
        return d


@dataclass(frozen=True)
class Sidecar:
    modelo: str
    versao: str
    tipo: str  # "arquivo" | "diretorio"
    entradas: tuple[Entrada, ...]
    tamanho: int
    sha256: str
    criado_em: str
    tamanho_armazenado: int = 0
    tipo_mudanca: str = ""
    incremento: str = ""
    descricao: str = ""
    usuario: str = ""
    host: str = ""
    origem: str = ""
    versao_anterior: str | None = None
    avisos: tuple[str, ...] = ()
    metricas: dict[str, Any] = field(default_factory=dict)
    validacao: dict[str, Any] | None = None
    inspecao: dict[str, Any] | None = None
    mudanca: dict[str, Any] | None = None
    linhagem: dict[str, Any] | None = None
    assinatura: dict[str, Any] | None = None
    esquema: int = ESQUEMA_SIDECAR
    # The audit log's head when this version was published ({log, seq, hash}):
    # a log later truncated, deleted or replaced no longer has it (auditoria.py).
    auditoria: dict[str, Any] | None = None

    # -- views ---------------------------------------------------------------------
    def como_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["entradas"] = [e.como_dict() for e in self.entradas]
        d["avisos"] = list(self.avisos)
        if d["auditoria"] is None:  # absent in older sidecars: same bytes, same hash
            del d["auditoria"]
        return d

    def bytes_canonicos(self) -> bytes:
        """Stable bytes: what is stored, hashed and signed."""
        return json.dumps(
            self.como_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    def blocos(self) -> list[tuple[str, int]]:
        return [b for e in self.entradas for b in e.blocos]

    def arquivos(self) -> list[Entrada]:
        return [e for e in self.entradas if e.tipo == "arquivo"]

    def resumo(self) -> dict[str, Any]:
        """The public view of a version (what listar_versoes returns)."""
        return {
            "modelo": self.modelo,
            "versao": self.versao,
            "descricao": self.descricao,
            "tipo_mudanca": self.tipo_mudanca,
            "incremento": self.incremento,
            "criado_em": self.criado_em,
            "tamanho": self.tamanho,
            "tamanho_armazenado": self.tamanho_armazenado,
            "sha256": self.sha256,
            "metricas": self.metricas or {},
            "tipo": self.tipo,
            "arquivos": len(self.arquivos()),
            "usuario": self.usuario,
            "host": self.host,
            "origem": self.origem,
            "versao_anterior": self.versao_anterior,
            "validacao": self.validacao,
            "mudanca": self.mudanca,
            "linhagem": self.linhagem,
        }

    # -- parsing -------------------------------------------------------------------
    @classmethod
    def de_dict(cls, dados: Any, origem: str) -> Sidecar:
        """Build and check; raise ErroIntegridade naming `origem`."""

        def ruim(motivo: str) -> ErroIntegridade:
            return ErroIntegridade(f"{origem}: metadado inválido ({motivo})")

        if not isinstance(dados, dict):
            raise ruim("não é um objeto JSON")
        if dados.get("esquema") not in ESQUEMAS_LIDOS:
            raise ruim(
                f"esquema {dados.get('esquema')!r} desconhecido; esta versão lê os "
                f"esquemas {sorted(ESQUEMAS_LIDOS)}"
            )
        for campo, tipo in (
            ("modelo", str),
            ("versao", str),
            ("tipo", str),
            ("entradas", list),
            ("sha256", str),
            ("tamanho", int),
            ("criado_em", str),
        ):
            if not isinstance(dados.get(campo), tipo):
                raise ruim(f"campo '{campo}' ausente ou com tipo errado")
        if dados["tipo"] not in ("arquivo", "diretorio"):
            raise ruim(f"tipo {dados['tipo']!r} desconhecido")
        entradas = tuple(_entrada(e, ruim) for e in dados["entradas"])
        total = sum(e.tamanho for e in entradas)
        if total != dados["tamanho"]:
            raise ruim("tamanho total difere da soma das entradas")
        if dados["tipo"] == "arquivo":
            if len(entradas) != 1 or entradas[0].tipo != "arquivo":
                raise ruim("modelo-arquivo deve ter exatamente uma entrada de arquivo")
            esperado = entradas[0].sha256
        else:
            esperado = digest_diretorio(entradas)
        if dados["sha256"] != esperado:
            raise ruim("SHA-256 do modelo não confere com as entradas (editado?)")
        if not isinstance(dados.get("auditoria", {}), dict):
            raise ruim("campo 'auditoria' com tipo errado")
        conhecidos = {f for f in cls.__dataclass_fields__}
        extras = {k: v for k, v in dados.items() if k in conhecidos}
        extras["entradas"] = entradas
        extras["avisos"] = tuple(dados.get("avisos") or ())
        extras["metricas"] = dados.get("metricas") or {}
        try:
            return cls(**extras)
        except TypeError as e:
            raise ruim(str(e)) from None

    @classmethod
    def ler(cls, bruto: bytes, *, modelo: str, versao: str, origem: str) -> Sidecar:
        """Parse stored bytes and check that they belong where they were found."""
        try:
            dados = json.loads(bruto)
        except (ValueError, UnicodeDecodeError) as e:
            raise ErroIntegridade(
                f"{origem}: metadado corrompido ({motivo_json(e)})"
            ) from None
        sc = cls.de_dict(dados, origem)
        if sc.modelo != modelo or sc.versao != versao:
            raise ErroIntegridade(
                f"{origem}: o metadado diz ser {sc.modelo} {sc.versao}, mas está no "
                f"lugar de {modelo} {versao} (copiado ou trocado); recusado"
            )
        ordem_versao(versao)  # a version name, or ErroVersaoNaoEncontrada
        return sc


def _entrada(e: Any, ruim: Any) -> Entrada:
    if not isinstance(e, dict) or not isinstance(e.get("caminho"), str):
        raise ruim("entrada sem caminho")
    caminho_entrada_seguro(e["caminho"])
    modo = e.get("modo", 0o644)
    if not isinstance(modo, int):
        raise ruim(f"entrada {e['caminho']!r} com modo inválido")
    if e.get("tipo") == "diretorio":
        return Entrada(e["caminho"], "diretorio", modo)
    blocos = e.get("blocos")
    if not isinstance(blocos, list) or not _SHA256.match(str(e.get("sha256", ""))):
        raise ruim(f"entrada {e['caminho']!r} sem blocos ou sha256")
    lista = []
    for b in blocos:
        if (
            not isinstance(b, list)
            or len(b) != 2
            or not isinstance(b[0], str)
            or not _SHA256.match(b[0])
            or not isinstance(b[1], int)
            or b[1] < 0
        ):
            raise ruim(f"entrada {e['caminho']!r} com bloco malformado")
        lista.append((b[0], b[1]))
    if sum(n for _, n in lista) != e.get("tamanho"):
        raise ruim(f"entrada {e['caminho']!r}: soma dos blocos difere do tamanho")
    fonte = e.get("fonte")
    conferencia = e.get("conferencia", "")
    if conferencia != "" and not (
        isinstance(conferencia, str) and _SHA256.match(conferencia)
    ):
        raise ruim(f"entrada {e['caminho']!r} com conferência inválida")
    return Entrada(
        e["caminho"],
        "arquivo",
        modo,
        e["tamanho"],
        e["sha256"],
        tuple(lista),
        fonte if isinstance(fonte, dict) else None,
        conferencia,
    )


# -- object keys -------------------------------------------------------------------
# Header flag: a model's objects are stored under keyed ids, not its name.
CAMPO_NOMES_CHAVEADOS = "nomes_chaveados"
_DOMINIO_NOMES = b"backup_versionamento/nomes/v1\x00"
_ID_OCULTO = re.compile(r"^[0-9a-f]{32}$")


class Nomes:
    """Object keys of a model's objects: its name in clear, or keyed ids.

    With a key (an encrypted repository whose header has `nomes_chaveados`),
    `modelos/<modelo>/<versao>.json` becomes `modelos/<idm>/<idv>.json` with
    idm = HMAC(key, model) and idv = HMAC(key, model + version), so the key
    reveals neither, yet is deterministic: exclusive create still allocates a
    version once. Model and version are read from the (encrypted) sidecar,
    which must hash back to the key it was found at (docs/FORMATO.md).
    """

    def __init__(self, chave: bytes | None = None) -> None:
        self.chave = chave

    @property
    def ocultos(self) -> bool:
        return self.chave is not None

    def _id(self, *partes: str) -> str:
        assert self.chave is not None
        dados = _DOMINIO_NOMES + "\x00".join(partes).encode("utf-8")
        return hmac.new(self.chave, dados, hashlib.sha256).hexdigest()[:32]

    def segmento_modelo(self, modelo: str) -> str:
        return self._id("modelo", modelo) if self.ocultos else modelo

    def segmento_versao(self, modelo: str, versao: str) -> str:
        return self._id("versao", modelo, versao) if self.ocultos else versao

    def segmento_alias(self, modelo: str, alias: str) -> str:
        return self._id("alias", modelo, alias) if self.ocultos else alias

    def prefixo(self, modelo: str) -> str:
        """`modelos/<model segment>/`: every object of one model."""
        return f"{PREFIXO}{self.segmento_modelo(modelo)}/"

    def chave_sidecar(self, modelo: str, versao: str) -> str:
        return f"{self.prefixo(modelo)}{self.segmento_versao(modelo, versao)}{SUFIXO}"

    def chave_fixada(self, modelo: str, versao: str) -> str:
        seg = self.segmento_versao(modelo, versao)
        return f"{self.prefixo(modelo)}{seg}{SUFIXO_FIXADA}"

    def segmentos(self, chave: str, sufixo: str = SUFIXO) -> tuple[str, str] | None:
        """(model segment, version segment) of a sidecar key (or a pin's), else None.

        In clear the segments are the names (the version must parse); hidden,
        they are ids to be resolved by reading the sidecar."""
        resto = chave[len(PREFIXO) :] if chave.startswith(PREFIXO) else ""
        seg_modelo, _, nome = resto.partition("/")
        if not seg_modelo or "/" in nome or not nome.endswith(sufixo):
            return None
        seg_versao = nome[: -len(sufixo)]
        if self.ocultos:
            ok = bool(_ID_OCULTO.match(seg_modelo) and _ID_OCULTO.match(seg_versao))
        else:
            ok = e_versao(seg_versao)
        return (seg_modelo, seg_versao) if ok else None

    def conferir(self, chave: str, modelo: str, versao: str, origem: str) -> None:
        """A sidecar read at `chave` must name the model and version of that key."""
        if self.chave_sidecar(modelo, versao) != chave:
            raise ErroIntegridade(
                f"{origem}: o metadado diz ser {modelo} {versao}, que não fica "
                "neste lugar (copiado ou trocado); recusado"
            )


def id_objeto_chave(chave: str) -> bytes:
    """AAD object id of an object at a keyed-id key: moved elsewhere, it fails."""
    return blake3.blake3(b"objeto-oculto\x00" + chave.encode("utf-8")).digest()
