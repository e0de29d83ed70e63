"""Reading a model (a file or a folder) into a write session, entry by entry.

Every file is chunked into the session and described by an `Entrada`; nothing
is visible in the repository until the caller publishes a sidecar. An entry
that cannot be read is an error that names it (never a silently empty folder).
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..armazenamento.fluxo import GravadorBlocos, Progresso
from ..armazenamento.objetos import SessaoEscrita
from ..armazenamento.sidecar import Entrada, conferencia_entrada, digest_diretorio
from ..base.escrita import erro_de_os
from ..erros import (
    ErroArgumento,
    ErroArquivoNaoEncontrado,
    ErroIntegridade,
    ErroPermissao,
)

log = logging.getLogger("SistemaBackup")


@dataclass
class Conteudo:
    """What a source tree became: entries plus totals (the sidecar's content part)."""

    tipo: str
    entradas: list[Entrada]
    tamanho: int
    sha256: str
    tamanho_armazenado: int
    avisos: list[str] = field(default_factory=list)


def fonte_de(st: os.stat_result) -> dict[str, int]:
    """The stat fields that tell an unchanged file without reading it."""
    return {
        "tamanho": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "inode": st.st_ino,
        "ctime_ns": st.st_ctime_ns,
    }


@dataclass(frozen=True)
class Listagem:
    """A source walked once: what the skip check compares and the write reads."""

    tipo: str  # "arquivo" | "diretorio"
    itens: list[tuple[Path, str, os.stat_result]]
    avisos: list[str]

    @property
    def tamanho(self) -> int:
        """Bytes of the regular files (what a backup without a base must fit)."""
        return sum(st.st_size for _, _, st in self.itens if stat.S_ISREG(st.st_mode))


def coletar_origem(origem: Path) -> Listagem:
    """Check a source like `checar_origem` and list it in the same single walk."""
    try:
        if not origem.is_dir():
            checar_origem(origem)  # missing, special or unreadable: its message
            return Listagem(*listar_origem(origem))
        if not os.access(origem, os.R_OK | os.X_OK):
            raise ErroPermissao(
                f"{origem}: sem permissão de leitura; rode chmod -R u+rX {origem}"
            )
        return Listagem(*listar_origem(origem))
    except PermissionError:
        raise ErroPermissao(
            f"{origem}: sem permissão de leitura; rode chmod -R u+rX {origem}"
        ) from None
    except OSError as e:
        raise erro_de_os(e, e.filename or str(origem)) from e


def listar_origem(
    origem: Path,
) -> tuple[str, list[tuple[Path, str, os.stat_result]], list[str]]:
    """(kind, [(path, relative name, stat)] in order, warnings) without reading data.

    Unreadable folders or files are errors that name them.
    """
    avisos: list[str] = []
    itens: list[tuple[Path, str, os.stat_result]] = []
    if not origem.is_dir():
        return "arquivo", [(origem, origem.name, os.stat(origem))], avisos

    def erro_walk(e: OSError) -> None:
        raise ErroPermissao(
            f"{e.filename}: sem permissão de leitura dentro do modelo; nada foi "
            f"gravado. Rode chmod -R u+rX {origem}"
        )

    for pasta, subpastas, nomes in os.walk(origem, onerror=erro_walk):
        subpastas.sort()
        rel_pasta = Path(pasta).relative_to(origem)
        for sub in list(subpastas):
            cam = Path(pasta) / sub
            if cam.is_symlink():
                avisos.append(f"link simbólico ignorado: {rel_pasta / sub}")
                subpastas.remove(sub)
                continue
            st = os.stat(cam)
            if not os.access(cam, os.R_OK | os.X_OK):
                erro_walk(PermissionError(13, "sem permissão", str(cam)))
            itens.append((cam, (rel_pasta / sub).as_posix(), st))
        for nome in sorted(nomes):
            cam = Path(pasta) / nome
            rel = (rel_pasta / nome).as_posix()
            if cam.is_symlink() or not cam.is_file():
                avisos.append(f"ignorado (não é arquivo comum): {rel}")
                continue
            if not os.access(cam, os.R_OK):
                raise ErroPermissao(
                    f"{cam}: sem permissão de leitura dentro do modelo; nada foi "
                    f"gravado. Rode chmod 644 {cam}"
                )
            itens.append((cam, rel, os.stat(cam)))
    return "diretorio", itens, avisos


def ler_origem(
    origem: Path,
    sessao: SessaoEscrita,
    gravador: GravadorBlocos,
    progresso: Progresso | None = None,
    listagem: Listagem | None = None,
) -> Conteudo:
    """Chunk a file or a folder into `sessao`; return its entries and totals.

    `listagem` is the walk already done (coletar_origem); None walks now.
    """
    try:
        if listagem is None:
            tipo, itens, avisos = listar_origem(origem)
        else:
            tipo, itens, avisos = listagem.tipo, listagem.itens, listagem.avisos
        entradas: list[Entrada] = []
        novos = 0
        for caminho, nome, st in itens:
            if stat.S_ISDIR(st.st_mode):
                entradas.append(Entrada(nome, "diretorio", stat.S_IMODE(st.st_mode)))
                continue
            with open(caminho, "rb", buffering=0) as f:
                antes = os.fstat(f.fileno())
                res = gravador.gravar_arquivo(f, progresso, nome)
            depois = os.stat(caminho)
            if (antes.st_mtime_ns, antes.st_size) != (
                depois.st_mtime_ns,
                depois.st_size,
            ) or res.tamanho != depois.st_size:
                raise ErroIntegridade(
                    f"{caminho}: o arquivo mudou durante o backup; espere a escrita "
                    "terminar e tente de novo (nada foi gravado)"
                )
            novos += res.bytes_novos
            entradas.append(
                Entrada(
                    nome,
                    "arquivo",
                    stat.S_IMODE(depois.st_mode),
                    res.tamanho,
                    res.sha256,
                    tuple(res.blocos),
                    fonte_de(depois),
                    conferencia_entrada(nome, res.sha256, res.blake3),
                )
            )
    except OSError as e:
        raise erro_de_os(e, e.filename or str(origem)) from e
    for a in avisos:
        log.warning("%s: %s", origem, a)
    tamanho = sum(e.tamanho for e in entradas)
    sha = entradas[0].sha256 if tipo == "arquivo" else digest_diretorio(entradas)
    return Conteudo(tipo, entradas, tamanho, sha, novos, avisos)


def inalterado(
    origem: Path,
    entradas: tuple[Entrada, ...] | list[Entrada],
    listagem: Listagem | None = None,
) -> bool:
    """True when every file's size, mtime, inode and ctime match what was recorded.

    Answers without reading a byte of data: a 5 GiB unchanged model costs a
    few stat calls (none more when `listagem`, the walk already done, is given).
    """
    if listagem is not None:
        tipo, itens = listagem.tipo, listagem.itens
    else:
        try:
            tipo, itens, _ = listar_origem(origem)
        except (OSError, ErroPermissao):
            return False
    registradas = {e.caminho: e for e in entradas}
    if len(itens) != len(registradas):
        return False
    for _caminho, nome, st in itens:
        e = registradas.get(nome)
        if e is None:
            return False
        if stat.S_ISDIR(st.st_mode):
            if e.tipo != "diretorio":
                return False
            continue
        if e.tipo != "arquivo" or e.fonte is None or e.fonte != fonte_de(st):
            return False
    return tipo == ("diretorio" if origem.is_dir() else "arquivo")


def _tipo_especial(caminho: Path) -> str:
    modo = caminho.stat().st_mode
    if stat.S_ISFIFO(modo):
        return "é um FIFO, pipe nomeado"
    if stat.S_ISSOCK(modo):
        return "é um socket"
    if stat.S_ISCHR(modo) or stat.S_ISBLK(modo):
        return "é um dispositivo"
    return "tipo de arquivo especial"


def checar_origem(origem: Path) -> int:
    """Fail early, with a clear message, on a missing or unreadable source."""
    try:
        if not origem.exists():
            raise ErroArquivoNaoEncontrado(
                f"{origem}: arquivo não encontrado; confira o caminho (ls -la {origem})"
            )
        if origem.is_dir():
            total = 0
            for pasta, _subs, nomes in os.walk(origem):
                if not os.access(pasta, os.R_OK | os.X_OK):
                    raise ErroPermissao(
                        f"{pasta}: sem permissão de leitura; "
                        f"rode chmod -R u+rX {origem}"
                    )
                for n in nomes:
                    p = Path(pasta) / n
                    if p.is_file() and not p.is_symlink():
                        if not os.access(p, os.R_OK):
                            raise ErroPermissao(
                                f"{p}: sem permissão de leitura; rode chmod 644 {p}"
                            )
                        total += p.stat().st_size
            return total
        if not origem.is_file():
            # It exists (a FIFO, socket or device): a wrong argument, not a
            # missing file; reading a FIFO would block forever.
            raise ErroArgumento(
                f"{origem}: não é um arquivo comum nem uma pasta "
                f"({_tipo_especial(origem)}); informe o arquivo ou a pasta do modelo"
            )
        with open(origem, "rb"):
            pass
        return origem.stat().st_size
    except PermissionError:
        raise ErroPermissao(
            f"{origem}: sem permissão de leitura; rode chmod 644 {origem}"
        ) from None
    except OSError as e:
        raise erro_de_os(e, str(origem)) from e
