"""Writing files, in one place: the atomic write, and how an OSError becomes
the project's error.

Write to a temp file in the same folder, fsync, then rename (or link, when the
target must not exist yet), then fsync the folder: a reader sees the old file or
the new one, never a torn one, and a crash leaves at worst a stray temp file
(`.NOME.<hex>.tmp`). Every layer that touches the disk raises through
`erro_de_os`, so a full disk, a denied folder or a missing path reads the same
everywhere, in Portuguese, naming the file (docs/ARQUITETURA.md).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from ..erros import (
    ErroArquivoNaoEncontrado,
    ErroBackup,
    ErroEspacoInsuficiente,
    ErroPermissao,
    ErroRepositorio,
    ErroTransitorio,
)

_ERRNOS_TRANSITORIOS = {errno.EAGAIN, errno.EINTR, errno.ETIMEDOUT}

# The OS's own messages are English ("Is a directory", "Read-only file system"):
# every message shown to a person names the errno in Portuguese from this table.
_MENSAGENS_OS: dict[int, str] = {
    errno.ENOENT: "arquivo ou pasta não encontrado",
    errno.ENOTDIR: "uma parte do caminho é um arquivo, não uma pasta",
    errno.EISDIR: "é uma pasta, não um arquivo",
    errno.EEXIST: "já existe",
    errno.ENOTEMPTY: "a pasta não está vazia",
    errno.EACCES: "permissão negada",
    errno.EPERM: "operação não permitida",
    errno.EROFS: "sistema de arquivos somente leitura",
    errno.ENOSPC: "sem espaço em disco",
    errno.EDQUOT: "cota de disco excedida",
    errno.ENAMETOOLONG: "nome de arquivo longo demais",
    errno.ELOOP: "links simbólicos demais (ciclo?)",
    errno.EXDEV: "origem e destino em sistemas de arquivos diferentes",
    errno.EIO: "erro de entrada/saída do disco",
    errno.EMFILE: "arquivos abertos demais neste processo",
    errno.ENFILE: "arquivos abertos demais no sistema",
    errno.EBUSY: "recurso ocupado",
    errno.ETXTBSY: "arquivo em uso",
    errno.EFBIG: "arquivo grande demais",
    errno.ENODEV: "dispositivo não encontrado",
    errno.ENXIO: "dispositivo ou endereço inexistente",
    errno.EINVAL: "argumento inválido",
}


def mensagem_os(e: OSError) -> str:
    """The OS error `e` in Portuguese (errno name kept for searching)."""
    if e.errno in _MENSAGENS_OS:
        return f"{_MENSAGENS_OS[e.errno]} ({errno.errorcode[e.errno]})"
    if e.errno is not None and e.errno in errno.errorcode:
        return f"erro do sistema {errno.errorcode[e.errno]}"
    return str(e.strerror or e)


def erro_de_os(
    e: OSError, alvo: str | None = None, *, repositorio: bool = False
) -> ErroBackup:
    """The project's error for an OSError, naming `alvo` (or the file in `e`).

    `repositorio=True` is for the store's own files: a failure there is an
    ErroRepositorio (or ErroTransitorio, which the retry policy retries), and a
    full disk says that nothing already kept was lost.
    """
    nome = alvo or e.filename or "?"
    if repositorio:
        return _erro_no_repositorio(e, nome)
    texto = f"{nome}: {mensagem_os(e)}"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return ErroEspacoInsuficiente(
            f"{texto}; libere espaço (ou rode `inicializar_backup.py limpeza`) e "
            "tente de novo"
        )
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ErroPermissao(f"{texto}; confira o dono e as permissões da pasta")
    if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
        return ErroArquivoNaoEncontrado(f"{texto}; confira o caminho")
    return ErroBackup(texto)


def _erro_no_repositorio(e: OSError, alvo: str) -> ErroBackup:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return ErroEspacoInsuficiente(
            f"{alvo}: espaço em disco insuficiente; libere espaço (ou rode "
            "`inicializar_backup.py limpeza`) e tente de novo. Nada do que já estava "
            "guardado foi perdido."
        )
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ErroPermissao(
            f"{alvo}: permissão negada ({mensagem_os(e)}); confira o dono "
            "e as permissões da pasta"
        )
    if e.errno in _ERRNOS_TRANSITORIOS:
        return ErroTransitorio(f"{alvo}: falha temporária de E/S ({mensagem_os(e)})")
    return ErroRepositorio(f"{alvo}: erro de E/S ({mensagem_os(e)})")


# -- atomic writes ---------------------------------------------------------------
SUFIXO_TEMP = ".tmp"
# A temp name adds '.' + '.' + 16 hex + '.tmp' to the file name; keep it under
# NAME_MAX (255 bytes) for long user file names.
_NOME_TEMP_MAX = 200


def sincronizar_pasta(pasta: str | Path) -> None:
    """fsync a directory so a rename inside it survives power loss."""
    fd = os.open(pasta, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _criar_pastas(pasta: str) -> None:
    os.makedirs(pasta, exist_ok=True)


def escrever_atomico(
    destino: str | Path,
    partes: bytes | Sequence[bytes | bytearray | memoryview],
    *,
    exclusivo: bool = False,
    modo: int = 0o644,
    modo_exato: bool = True,
    criar_pastas: Callable[[str], None] = _criar_pastas,
    sincronizar_pasta_depois: bool = True,
) -> bool:
    """Write `partes` to `destino` atomically and durably.

    With `exclusivo=True` the file is created only if it does not exist yet
    (os.link fails on an existing name, atomically); returns False in that case
    and leaves the existing file untouched. The file gets `modo` exactly, or
    `modo` less the umask with `modo_exato=False`. The folder is made with
    `criar_pastas` when missing. OSError is raised as is: the caller names it.
    """
    if isinstance(partes, (bytes, bytearray, memoryview)):
        partes = [partes]
    pasta, nome = os.path.split(os.fspath(destino))
    pasta = pasta or "."
    nome_curto = os.fsencode(nome)[:_NOME_TEMP_MAX].decode(errors="ignore")
    temp = os.path.join(pasta, f".{nome_curto}.{secrets.token_hex(8)}{SUFIXO_TEMP}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(temp, flags, modo)
    except FileNotFoundError:
        criar_pastas(pasta)
        fd = os.open(temp, flags, modo)
    try:
        try:
            if modo_exato:
                os.fchmod(fd, modo)
            escrever_tudo(fd, partes)
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusivo:
            try:
                os.link(temp, destino)
            except FileExistsError:
                return False
        else:
            os.replace(temp, destino)
    finally:
        # After a failure of any kind (KeyboardInterrupt too) or a lost race;
        # after a link, the temp name is simply dropped.
        with contextlib.suppress(OSError):
            os.unlink(temp)
    if sincronizar_pasta_depois:
        sincronizar_pasta(pasta)
    return True


def escrever_json_atomico(
    destino: Path, dados: Any, *, exclusivo: bool = False
) -> bool:
    texto = json.dumps(dados, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    return escrever_atomico(destino, texto.encode("utf-8"), exclusivo=exclusivo)


# writev takes at most IOV_MAX buffers per call (1024 on Linux); EINVAL beyond.
_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024


def escrever_tudo(fd: int, partes: Sequence[bytes | bytearray | memoryview]) -> None:
    """writev until every byte of `partes` is written (short writes happen)."""
    vistas = [memoryview(p).cast("B") for p in partes]
    i = 0
    while i < len(vistas):
        lote = vistas[i : i + _IOV_MAX]
        escritos = os.writev(fd, lote)
        # Skip the buffers fully written; keep the rest of a partly written one.
        for v in lote:
            if escritos >= v.nbytes:
                escritos -= v.nbytes
                i += 1
            else:
                vistas[i] = v[escritos:]
                break
        while i < len(vistas) and vistas[i].nbytes == 0:
            i += 1


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's sync_file_range(2) (Linux only; Python's os module lacks it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        f = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    f.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    f.restype = ctypes.c_int
    return cast(Callable[[int, int, int, int], int], f)


_SYNC_FILE_RANGE = _sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def iniciar_descarga(fd: int, inicio: int, tamanho: int) -> None:
    """Start writing a range of dirty pages to disk without waiting for it.

    Called as a big file is written, so the final fsync finds the disk already
    busy with it (PostgreSQL's *_flush_after does the same): on a 512 MiB
    restore the closing fsync drops from ~0.2 s to nearly nothing. A no-op where
    sync_file_range(2) is missing; errors are left for fsync to report.
    """
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, inicio, tamanho, _SYNC_FILE_RANGE_WRITE)
