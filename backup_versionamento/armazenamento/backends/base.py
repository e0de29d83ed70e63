"""The backend protocol: opaque keys to immutable-ish blobs, no `Path` in a key.

A backend is a flat key/value store (a local folder, memory, S3). Keys are
'/'-separated strings such as 'pacotes/ab/<id>' or 'modelos/<modelo>/1.0.0.json';
model names are user file names, so any Unicode is allowed in a segment.

Capabilities a store may lack are still part of the protocol, so callers never
probe with getattr: `criacao_condicional` (None: probe it, reivindicacao.py),
`restringir()` (a no-op without file modes), `limpar_temporarios()` ((0, 0)
without temp files) and `pasta_local` (None unless a folder on this machine).
The contract suite (tests/test_backend_contrato.py) checks each on every backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias

Bytes: TypeAlias = bytes | bytearray | memoryview
# One buffer or several (a pack written as header + blobs + trailer, no join).
Partes: TypeAlias = Bytes | Sequence[Bytes]


@dataclass(frozen=True)
class InfoObjeto:
    chave: str
    tamanho: int
    modificado: float  # POSIX seconds (file mtime / S3 LastModified)


class Backend(Protocol):
    """What the storage engine needs from a place that holds a repository.

    `gravar` is atomic (a reader sees all of it or nothing) and durable when it
    returns; `exclusivo=True` creates only if absent (link() locally,
    If-None-Match on S3) and returns False, touching nothing, if the key exists.
    `listar` yields every key starting with the string `prefixo`, at any depth,
    unordered, never a temp or partial object. `apagar` of an absent key is fine.
    Invalid keys raise ValueError (a programming error, see `validar_chave`).
    Every method is safe to call from several threads at once (parallel pack
    writers share one backend).
    """

    # Read-only properties so plain attributes and delegating properties both fit.
    @property
    def somente_leitura(self) -> bool:
        """True when the backend knows it cannot write (a read-only mount)."""
        ...

    @property
    def exclusao_real(self) -> bool:
        """True when flock on this machine truly excludes writers (local folder)."""
        ...

    @property
    def criacao_condicional(self) -> bool | None:
        """True when `gravar(exclusivo=True)` is honored by construction (link(),
        a lock in memory, or a wrapper that makes it so); None when it depends
        on the server and must be probed (S3: some servers ignore If-None-Match;
        see reivindicacao.py)."""
        ...

    @property
    def pasta_local(self) -> Path | None:
        """The folder on this machine holding the keys (free space, the logs'
        place); None for memory and object stores. The one answer to "is this
        repository local?" once a backend exists."""
        ...

    @property
    def leitura_maxima(self) -> int:
        """The largest byte range worth one read: requests to an object store
        have latency (read much at once); a local read gains nothing from huge
        buffers, whose fresh pages cost page faults."""
        ...

    def descrever(self) -> str: ...

    def ler(self, chave: str) -> bytes: ...

    def ler_intervalo(self, chave: str, inicio: int, tamanho: int) -> bytes: ...

    def gravar(
        self, chave: str, partes: Partes, *, exclusivo: bool = False
    ) -> bool: ...

    def info(self, chave: str) -> InfoObjeto | None: ...

    def existe(self, chave: str) -> bool: ...

    def listar(self, prefixo: str) -> Iterator[InfoObjeto]: ...

    def apagar(self, chave: str) -> None: ...

    def restringir(self) -> None:
        """Create what follows without access for "others" (a folder: files 0640,
        folders 0750; docs/SEGURANCA.md). A no-op where the store has no modes."""
        ...

    def limpar_temporarios(self, idade_s: float) -> tuple[int, int]:
        """Remove what crashed writers left, older than `idade_s` seconds, never a
        key: (count, bytes). (0, 0) where nothing half-written can remain."""
        ...


class BackendEnvolto:
    """Base of the wrappers (retries, fault injection, claims): every property and
    verb passes through to the wrapped backend; a wrapper overrides what it changes."""

    def __init__(self, interno: Backend) -> None:
        self.interno = interno

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.interno!r})"

    @property
    def somente_leitura(self) -> bool:
        return self.interno.somente_leitura

    @property
    def exclusao_real(self) -> bool:
        return self.interno.exclusao_real

    @property
    def leitura_maxima(self) -> int:
        return self.interno.leitura_maxima

    @property
    def criacao_condicional(self) -> bool | None:
        return self.interno.criacao_condicional

    @property
    def pasta_local(self) -> Path | None:
        return self.interno.pasta_local

    def descrever(self) -> str:
        return self.interno.descrever()

    def ler(self, chave: str) -> bytes:
        return self.interno.ler(chave)

    def ler_intervalo(self, chave: str, inicio: int, tamanho: int) -> bytes:
        return self.interno.ler_intervalo(chave, inicio, tamanho)

    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        return self.interno.gravar(chave, partes, exclusivo=exclusivo)

    def info(self, chave: str) -> InfoObjeto | None:
        return self.interno.info(chave)

    def existe(self, chave: str) -> bool:
        return self.interno.existe(chave)

    def listar(self, prefixo: str) -> Iterator[InfoObjeto]:
        return self.interno.listar(prefixo)

    def apagar(self, chave: str) -> None:
        self.interno.apagar(chave)

    def restringir(self) -> None:
        self.interno.restringir()

    def limpar_temporarios(self, idade_s: float) -> tuple[int, int]:
        return self.interno.limpar_temporarios(idade_s)


def validar_chave(chave: str) -> str:
    """Return `chave` if it is a valid key, else raise ValueError.

    Rules keep keys portable to a file system and to S3: non-empty segments,
    no '.'/'..', no segment starting with '.' (temp files and hidden names live
    there), no leading '/', no backslash, no NUL.
    """
    if not isinstance(chave, str):
        raise ValueError(f"chave inválida (não é texto): {chave!r}")
    if not chave or "\\" in chave or "\0" in chave:
        raise ValueError(f"chave inválida: {chave!r}")
    for segmento in chave.split("/"):
        if not segmento or segmento.startswith("."):
            raise ValueError(f"chave inválida: {chave!r}")
    return chave


def como_vistas(partes: Partes) -> list[memoryview]:
    """Normalize `partes` into a list of byte views (no copy)."""
    if isinstance(partes, (bytes, bytearray, memoryview)):
        partes = [partes]
    vistas = []
    for p in partes:
        v = memoryview(p)
        if v.ndim != 1 or v.itemsize != 1:
            v = v.cast("B")
        vistas.append(v)
    return vistas


def validar_intervalo(inicio: int, tamanho: int) -> None:
    if inicio < 0 or tamanho < 0:
        raise ValueError(f"intervalo inválido: início {inicio}, tamanho {tamanho}")


def iguais(dados: bytes, vistas: Sequence[memoryview]) -> bool:
    """True if `dados` equals the concatenation of `vistas`, without joining them."""
    if len(dados) != sum(v.nbytes for v in vistas):
        return False
    pos = 0
    atual = memoryview(dados)
    for v in vistas:
        if atual[pos : pos + v.nbytes] != v:
            return False
        pos += v.nbytes
    return True
