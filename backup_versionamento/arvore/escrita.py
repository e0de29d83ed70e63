"""Writing a stored version back to the file system, verified, then renamed.

Each file is written under a temporary name inside the destination's folder:
every chunk checked against its id (a hash of its content) as it is read, the
size against the sidecar, the whole file end to end (its BLAKE3 against the
entry's `conferencia`; the SHA-256 for versions written before it existed, and
also when asked), its mode applied, and only then renamed into place; a folder
model is assembled in a temporary folder and renamed whole. Paths from a
sidecar are re-checked (no absolute, no '..', no parent that is a symbolic link).
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..armazenamento.fluxo import Progresso, escrever_blocos_conferidos
from ..armazenamento.objetos import ArmazemObjetos
from ..armazenamento.sidecar import (
    Entrada,
    Sidecar,
    caminho_entrada_seguro,
    conferencia_entrada,
)
from ..base.escrita import erro_de_os, sincronizar_pasta
from ..base.padroes import THREADS_BACKUP
from ..erros import ErroIntegridade, ErroRestauracao

if TYPE_CHECKING:
    from ..armazenamento.repositorio import Repositorio

# servicos.destino removes stale temps of killed restores by this suffix.
SUFIXO_TEMP = ".restaurando"


def restaurar_versao(
    repo: Repositorio, sidecar: Sidecar, destino: Path, **opcoes: Any
) -> Path:
    """`restaurar` from a repository, with its read threads (the services' door)."""
    return restaurar(repo.objetos, sidecar, destino, threads=repo.threads, **opcoes)


def restaurar(
    armazem: ArmazemObjetos,
    sidecar: Sidecar,
    destino: Path,
    *,
    sobrescrever: bool = False,
    conferir_sha256: bool = False,
    threads: int = THREADS_BACKUP,
    progresso: Progresso | None = None,
) -> Path:
    """Rebuild a version at exactly `destino` (its final path)."""
    final = destino
    if final.exists() or final.is_symlink():
        if not sobrescrever:
            raise ErroRestauracao(
                f"{final}: já existe; escolha outro destino ou use --sobrescrever "
                "(sobrescrever=True na API)"
            )
        if final.is_dir() != (sidecar.tipo == "diretorio") or final.is_symlink():
            raise ErroRestauracao(
                f"{final}: existe e é de outro tipo; não será substituído"
            )
    escritor = _Escritor(armazem, threads, progresso, conferir_sha256)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if sidecar.tipo == "arquivo":
            escritor.arquivo(sidecar.entradas[0], final, sobrescrever)
        else:
            escritor.diretorio(sidecar, final, sobrescrever)
    except OSError as e:
        raise erro_de_os(e, e.filename or str(final), repositorio=True) from e
    return final


class _Escritor:
    def __init__(
        self,
        armazem: ArmazemObjetos,
        threads: int,
        progresso: Progresso | None,
        conferir_sha256: bool,
    ) -> None:
        self.armazem = armazem
        self.threads = threads
        self.progresso = progresso
        self.conferir_sha256 = conferir_sha256

    def entrada(self, ent: Entrada, fd: int) -> None:
        # Always end to end: BLAKE3 when the version recorded it, else SHA-256.
        conferir_sha256 = self.conferir_sha256 or not ent.conferencia
        escrito = escrever_blocos_conferidos(
            fd,
            self.armazem,
            list(ent.blocos),
            threads=self.threads,
            progresso=self.progresso,
            sha256=conferir_sha256,
            digest_blake3=bool(ent.conferencia),
        )
        if escrito.tamanho != ent.tamanho:
            raise ErroIntegridade(
                f"{ent.caminho}: o arquivo restaurado tem {escrito.tamanho} bytes, o "
                f"registrado tem {ent.tamanho}; restauração abortada"
            )
        sha = escrito.sha256 if conferir_sha256 else None
        conferir_entrada(ent, sha, escrito.blake3)
        os.fchmod(fd, ent.modo & 0o777)
        os.fsync(fd)

    def arquivo(self, ent: Entrada, final: Path, sobrescrever: bool) -> None:
        # The name is chosen before the file exists and the cleanup covers its
        # creation: a Ctrl+C/SIGTERM raised right after the open returns
        # (mkstemp's window, seen under load) must not leave it behind.
        temp = _nome_temp(final)
        limpar: Path | None = temp
        try:
            try:
                fd = os.open(temp, _CRIAR_TEMP, 0o600)
            except FileExistsError:
                limpar = None  # not ours: never removed here
                raise
            try:
                self.entrada(ent, fd)
            finally:
                os.close(fd)
            if sobrescrever:
                os.replace(temp, final)
            else:
                try:
                    os.link(temp, final)
                except FileExistsError:
                    raise ErroRestauracao(
                        f"{final}: já existe; use --sobrescrever"
                    ) from None
                os.unlink(temp)
        except BaseException:
            if limpar is not None:
                limpar.unlink(missing_ok=True)
            raise
        sincronizar_pasta(final.parent)

    def diretorio(self, sidecar: Sidecar, final: Path, sobrescrever: bool) -> None:
        temp = _nome_temp(final)
        limpar: Path | None = temp
        try:
            try:
                os.mkdir(temp, 0o700)  # created inside the cleanup (see arquivo)
            except FileExistsError:
                limpar = None
                raise
            for ent in sidecar.entradas:
                rel = caminho_entrada_seguro(ent.caminho)
                alvo = temp.joinpath(*rel.parts)
                _recusar_pais_link(temp, alvo)
                if ent.tipo == "diretorio":
                    alvo.mkdir(exist_ok=True)
                    continue
                alvo.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(
                    alvo, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600
                )
                try:
                    self.entrada(ent, fd)
                finally:
                    os.close(fd)
            for ent in sidecar.entradas:
                if ent.tipo == "diretorio":
                    os.chmod(temp / ent.caminho, ent.modo & 0o777)
            antigo = None
            if final.exists() and sobrescrever:
                antigo = final.with_name(f".{final.name}.antigo-{uuid.uuid4().hex[:8]}")
                os.rename(final, antigo)
            os.rename(temp, final)
            if antigo:
                shutil.rmtree(antigo)
        except BaseException:
            if limpar is not None:
                shutil.rmtree(limpar, ignore_errors=True)
            raise
        sincronizar_pasta(final.parent)


_CRIAR_TEMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW


def _nome_temp(final: Path) -> Path:
    """`.<name>.<random>.restaurando` next to `final` (what mkstemp would
    name it; servicos.destino removes these when a killed restore left one)."""
    return final.parent / f".{final.name}.{secrets.token_hex(6)}{SUFIXO_TEMP}"


def conferir_entrada(ent: Entrada, sha256: str | None, blake3: bytes) -> None:
    """Raise ErroIntegridade when rebuilt content does not match `ent`.

    `blake3` is the content's BLAKE3 (checked when the entry has a
    `conferencia`); `sha256` the content's SHA-256, or None when not computed.
    """
    if sha256 is not None and sha256 != ent.sha256:
        raise ErroIntegridade(
            f"{ent.caminho}: SHA-256 do arquivo restaurado não confere "
            "com o registrado; restauração abortada"
        )
    if ent.conferencia and (
        conferencia_entrada(ent.caminho, ent.sha256, blake3) != ent.conferencia
    ):
        raise ErroIntegridade(
            f"{ent.caminho}: o conteúdo restaurado não confere com o registrado "
            "(conferência BLAKE3 de ponta a ponta: a lista de blocos ou o SHA-256 "
            "do metadado foi alterado); restauração abortada. Rode "
            "'inicializar_backup.py verificar --completa' e restaure outra versão"
        )


def _recusar_pais_link(raiz: Path, alvo: Path) -> None:
    atual = alvo.parent
    while atual != raiz:
        if atual.is_symlink():
            raise ErroRestauracao(
                f"{alvo}: pasta-pai é link simbólico; restauração recusada"
            )
        atual = atual.parent
