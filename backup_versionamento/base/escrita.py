"""Writing files, in one place: how an OSError becomes the project's error.

Every layer that touches the disk raises through `erro_de_os`, so a full disk,
a denied folder or a missing path reads the same everywhere, in Portuguese,
naming the file (docs/ARQUITETURA.md).
"""

from __future__ import annotations

import errno

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
