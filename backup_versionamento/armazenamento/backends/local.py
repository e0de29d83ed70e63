"""Local folder backend: one file per key under the repository folder.

Every write goes to a hidden temp file in the target folder, is fsynced, then
linked (exclusive create) or renamed over the key, and the folder is fsynced:
a reader sees the old object or the new one, never a torn one, and a crash
leaves at worst a stray '.<name>.<random>.tmp' that `listar` never shows.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from ...base.escrita import (
    SUFIXO_TEMP,
    erro_de_os,
    escrever_atomico,
    sincronizar_pasta,
)
from ...erros import (
    ErroChaveAusente,
    ErroIntegridade,
    ErroPermissao,
)
from .base import InfoObjeto, Partes, como_vistas, validar_chave, validar_intervalo


def _detectar_somente_leitura(raiz: str) -> bool:
    """A read-only mount, or a folder this process cannot write into."""
    try:
        if not os.path.isdir(raiz):
            return False
        if os.statvfs(raiz).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(raiz, os.W_OK)


class BackendLocal:
    """Files under a folder; atomic and durable writes, reads that work read-only."""

    exclusao_real = True
    criacao_condicional: bool | None = True  # link()
    leitura_maxima = 1 << 20
    # Modes of what this backend creates; `restringir` drops access for "others"
    # (encryption or access control on: docs/SEGURANCA.md).
    modo_arquivo = 0o644
    modo_pasta = 0o755

    # With a team group (controle_acesso.grupo) the modes are set explicitly after
    # each create: the umask would strip the group bits, mkdir the setgid/sticky.
    _modos_exatos = False

    def restringir(self) -> None:
        self.modo_arquivo, self.modo_pasta = 0o640, 0o750

    @property
    def pasta_local(self) -> Path:
        return self.raiz

    def usar_grupo(self, modo_pasta: int) -> None:
        """Group modes (seguranca/grupo.py): files 0640, folders `modo_pasta`."""
        self.modo_arquivo, self.modo_pasta = 0o640, modo_pasta
        self._modos_exatos = True

    def __init__(self, raiz: Path, *, somente_leitura: bool | None = None) -> None:
        self.raiz = Path(raiz)
        self._raiz = os.fspath(self.raiz)
        if somente_leitura is None:
            somente_leitura = _detectar_somente_leitura(self._raiz)
        self.somente_leitura = somente_leitura

    def __repr__(self) -> str:
        return f"BackendLocal({self._raiz!r})"

    def descrever(self) -> str:
        return self._raiz

    def _caminho(self, chave: str) -> str:
        return os.path.join(self._raiz, validar_chave(chave))

    @staticmethod
    def _ausente(chave: str, caminho: str) -> ErroChaveAusente:
        return ErroChaveAusente(
            f"{caminho}: objeto ausente no repositório (chave {chave!r}); "
            "rode `inicializar_backup.py verificar`",
            chave,
        )

    def ler(self, chave: str) -> bytes:
        caminho = self._caminho(chave)
        try:
            with open(caminho, "rb", buffering=0) as f:
                return f.readall()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
            raise self._ausente(chave, caminho) from e
        except OSError as e:
            raise erro_de_os(e, caminho, repositorio=True) from e

    def ler_intervalo(self, chave: str, inicio: int, tamanho: int) -> bytes:
        caminho = self._caminho(chave)
        validar_intervalo(inicio, tamanho)
        try:
            fd = os.open(caminho, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError) as e:
            raise self._ausente(chave, caminho) from e
        except OSError as e:
            raise erro_de_os(e, caminho, repositorio=True) from e
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise self._ausente(chave, caminho)
            curto = ErroIntegridade(
                f"{caminho}: objeto menor que o esperado (tem {st.st_size} "
                f"bytes; pedidos {tamanho} a partir de {inicio}); rode "
                "`inicializar_backup.py verificar`"
            )
            if inicio + tamanho > st.st_size:
                raise curto
            pedacos: list[bytes] = []
            pos, falta = inicio, tamanho
            while falta:
                pedaco = os.pread(fd, falta, pos)
                if not pedaco:  # truncated under us
                    raise curto
                pedacos.append(pedaco)
                pos += len(pedaco)
                falta -= len(pedaco)
            return pedacos[0] if len(pedacos) == 1 else b"".join(pedacos)
        except OSError as e:
            raise erro_de_os(e, caminho, repositorio=True) from e
        finally:
            os.close(fd)

    def _exigir_escrita(self, caminho: str) -> None:
        if self.somente_leitura:
            raise ErroPermissao(
                f"{caminho}: o repositório em {self._raiz} é somente leitura "
                "(montagem read-only ou pasta sem permissão de escrita)"
            )

    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        caminho = self._caminho(chave)
        self._exigir_escrita(caminho)
        try:
            return escrever_atomico(
                caminho,
                como_vistas(partes),
                exclusivo=exclusivo,
                modo=self.modo_arquivo,
                modo_exato=self._modos_exatos,
                criar_pastas=self._criar_pastas,
            )
        except OSError as e:
            raise erro_de_os(e, caminho, repositorio=True) from e

    def _criar_pastas(self, pasta: str) -> None:
        """mkdir -p, fsyncing each new folder's parent so the path is durable."""
        faltando = []
        atual = pasta
        while not os.path.isdir(atual):
            faltando.append(atual)
            pai = os.path.dirname(atual)
            if pai == atual:
                break
            atual = pai
        for p in reversed(faltando):
            with contextlib.suppress(FileExistsError):
                os.mkdir(p, self.modo_pasta)
                if self._modos_exatos:
                    os.chmod(p, self.modo_pasta)
            sincronizar_pasta(os.path.dirname(p))

    def info(self, chave: str) -> InfoObjeto | None:
        caminho = self._caminho(chave)
        try:
            st = os.stat(caminho)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise erro_de_os(e, caminho, repositorio=True) from e
        if not stat.S_ISREG(st.st_mode):
            return None
        return InfoObjeto(chave, st.st_size, st.st_mtime)

    def existe(self, chave: str) -> bool:
        return self.info(chave) is not None

    def listar(self, prefixo: str) -> Iterator[InfoObjeto]:
        # Walk only the folder the prefix names; its last part filters names.
        pasta_chave, barra, inicio_nome = prefixo.rpartition("/")
        if barra:
            try:
                validar_chave(pasta_chave)
            except ValueError:
                return  # no valid key can start with this prefix
        pasta = os.path.join(self._raiz, pasta_chave) if pasta_chave else self._raiz
        base = pasta_chave + "/" if pasta_chave else ""
        pendentes = [(pasta, base, inicio_nome)]
        while pendentes:
            pasta, base, inicio_nome = pendentes.pop()
            try:
                entradas = os.scandir(pasta)
            except (FileNotFoundError, NotADirectoryError):
                continue  # absent, or removed while we walked
            except OSError as e:
                raise erro_de_os(e, pasta, repositorio=True) from e
            with entradas:
                for entrada in entradas:
                    nome = entrada.name
                    if nome.startswith(".") or "\\" in nome:
                        continue  # temp files, hidden names, not keys
                    if inicio_nome and not nome.startswith(inicio_nome):
                        continue
                    try:
                        if entrada.is_dir(follow_symlinks=False):
                            pendentes.append((entrada.path, base + nome + "/", ""))
                        elif entrada.is_file():
                            st = entrada.stat()
                            yield InfoObjeto(base + nome, st.st_size, st.st_mtime)
                    except FileNotFoundError:
                        continue  # deleted while we walked

    def limpar_temporarios(self, idade_s: float) -> tuple[int, int]:
        """Remove temp files left by crashed writers, older than `idade_s`.

        Returns (files removed, bytes freed). Local only: object stores have no
        half-written objects.
        """
        if self.somente_leitura:
            return 0, 0
        limite = time.time() - idade_s
        n = total = 0
        for pasta, _subs, nomes in os.walk(self._raiz):
            for nome in nomes:
                if not (nome.startswith(".") and nome.endswith(SUFIXO_TEMP)):
                    continue
                caminho = os.path.join(pasta, nome)
                try:
                    st = os.stat(caminho)
                    if st.st_mtime < limite:
                        os.unlink(caminho)
                        n += 1
                        total += st.st_size
                except FileNotFoundError:
                    continue
        return n, total

    def apagar(self, chave: str) -> None:
        caminho = self._caminho(chave)
        self._exigir_escrita(caminho)
        try:
            os.unlink(caminho)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except OSError as e:
            raise erro_de_os(e, caminho, repositorio=True) from e
