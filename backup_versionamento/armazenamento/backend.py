"""Storage backends: a key/value store of immutable blobs under string keys.

Keys look like 'objetos/ab/<id>' or 'modelos/<modelo>/<versao>.json'. The local
backend maps them to files under the repository folder. The protocol is what an
S3 backend must also provide (conditional create = If-None-Match).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..erros import ErroEspacoInsuficiente, ErroPermissao, ErroRepositorio
from .escrita_atomica import (
    SUFIXO_TEMP,
    escrever_atomico,
    escrever_tudo,
    sincronizar_pasta,
)


class Backend(Protocol):
    """What the repository needs from a storage place (local today, S3 next)."""

    def caminho(self, chave: str) -> Path: ...

    def existe(self, chave: str) -> bool: ...

    def ler(self, chave: str) -> bytes: ...

    def gravar(
        self,
        chave: str,
        partes: Sequence[bytes | memoryview],
        *,
        exclusivo: bool = False,
        sincronizar: bool = True,
    ) -> bool: ...

    def gravar_objeto(
        self, chave: str, partes: Sequence[bytes | memoryview]
    ) -> None: ...

    def sincronizar_pastas(self, chaves_pastas: set[str]) -> None: ...


def traduzir_erro_os(e: OSError, alvo: str) -> Exception:
    """Turn an OSError into the project's error with a message that names `alvo`."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return ErroEspacoInsuficiente(
            f"{alvo}: espaço em disco insuficiente; libere espaço (ou rode "
            "`inicializar_backup.py limpeza`) e tente de novo. Nada do que já estava "
            "guardado foi perdido."
        )
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ErroPermissao(
            f"{alvo}: permissão negada ({e.strerror}); confira o dono "
            "e as permissões da pasta"
        )
    return ErroRepositorio(f"{alvo}: erro de E/S ({e.strerror or e})")


class BackendLocal:
    """Files under a folder; every write is temp + fsync + rename."""

    def __init__(self, raiz: Path) -> None:
        self.raiz = raiz

    def caminho(self, chave: str) -> Path:
        return self.raiz / chave

    def existe(self, chave: str) -> bool:
        return os.path.exists(self.raiz / chave)

    def ler(self, chave: str) -> bytes:
        with open(self.raiz / chave, "rb") as f:
            return f.read()

    def gravar(
        self,
        chave: str,
        partes: Sequence[bytes | memoryview],
        *,
        exclusivo: bool = False,
        sincronizar: bool = True,
    ) -> bool:
        destino = self.raiz / chave
        try:
            return escrever_atomico(
                destino,
                partes,
                exclusivo=exclusivo,
                sincronizar_pasta_depois=sincronizar,
            )
        except OSError as e:
            raise traduzir_erro_os(e, str(destino)) from e

    def gravar_objeto(self, chave: str, partes: Sequence[bytes | memoryview]) -> None:
        """Write a content-addressed object: temp + fsync + rename, no folder fsync.

        A plain rename is safe here: two writers of one key write the same
        content. Callers fsync the touched folders once (`sincronizar_pastas`).
        """
        destino = self.raiz / chave
        temp = f"{destino}.{os.getpid()}.{threading.get_ident()}{SUFIXO_TEMP}"
        try:
            try:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            except FileNotFoundError:
                destino.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                escrever_tudo(fd, partes)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temp, destino)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise traduzir_erro_os(e, str(destino)) from e
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def sincronizar_pastas(self, chaves_pastas: set[str]) -> None:
        """fsync folders whose renames were not synced one by one."""
        for pasta in chaves_pastas:
            sincronizar_pasta(self.raiz / pasta)
