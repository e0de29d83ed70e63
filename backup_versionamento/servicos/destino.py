"""Where a restore goes: one decision, with its reason in words for the output.

Rules, first match wins:
- a path ending in '/' is a folder (created), and the model goes inside it;
- an existing folder: the model goes inside it;
- an existing file: that is the target (replaced only with `sobrescrever`);
- a file model and a path with the model's own extension: that is the file name;
- anything else that does not exist is a folder (created).
Refused with a clear error: a target inside the repository, a parent that is a
file, a parent where this user cannot write (or a read-only file system).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import time
from pathlib import Path
from typing import NamedTuple

from ..arvore.escrita import SUFIXO_TEMP as SUFIXO_RESTAURANDO
from ..base.escrita import erro_de_os
from ..erros import ErroBackup, ErroPermissao, ErroRestauracao
from ..registro import NOME_LOGGER

log = logging.getLogger(NOME_LOGGER)

# A restore temp untouched for this long was left by a killed restore (a running
# one rewrites its file continuously).
IDADE_TEMPORARIO_S = 10 * 60


class DestinoResolvido(NamedTuple):
    caminho: Path  # final path of the restored file or model folder
    tratado_como: str  # "pasta" (the model goes inside) or "arquivo" (its name)
    motivo: str  # why, in Portuguese


def resolver_destino(
    destino: str | Path,
    nome_modelo: str,
    tipo: str,
    base_repositorio: Path | None,
) -> DestinoResolvido:
    """Decide the final path of a restore; raise when it cannot or must not go there.

    `tipo` is the sidecar's kind: "arquivo" or "diretorio". Reads the file system,
    writes nothing. `base_repositorio` is None for a repository in an object store.
    """
    texto = os.fspath(destino)
    if not texto:
        raise ErroRestauracao(
            "destino vazio; use --destino PASTA (ex.: ./restauracao/)"
        )
    alvo = Path(texto)
    extensao = Path(nome_modelo).suffix
    try:
        if texto.endswith(("/", os.sep)):
            if alvo.exists() and not alvo.is_dir():
                raise ErroRestauracao(
                    f"{alvo}: existe e é um arquivo, não uma pasta; escolha outra "
                    "pasta de destino"
                )
            r = DestinoResolvido(alvo / nome_modelo, "pasta", "termina em '/'")
        elif alvo.is_dir():
            r = DestinoResolvido(alvo / nome_modelo, "pasta", "é uma pasta existente")
        elif alvo.exists() or alvo.is_symlink():
            r = DestinoResolvido(alvo, "arquivo", "já existe como arquivo")
        elif tipo == "arquivo" and extensao and alvo.suffix.lower() == extensao.lower():
            r = DestinoResolvido(
                alvo, "arquivo", f"não existe e tem a extensão {extensao} do modelo"
            )
        else:
            motivo = (
                f"não existe e não tem a extensão {extensao} do modelo"
                if tipo == "arquivo" and extensao
                else "não existe (um modelo em pasta vai dentro dela)"
                if tipo != "arquivo"
                else "não existe e o modelo não tem extensão"
            )
            r = DestinoResolvido(alvo / nome_modelo, "pasta", motivo)
        if base_repositorio is not None:
            _checar_fora_do_repositorio(r.caminho, base_repositorio, tipo)
        _checar_pasta_gravavel(r.caminho.parent)
    except OSError as e:  # e.g. a name too long, a symlink loop
        erro = erro_de_os(e, texto)
        if type(erro) is ErroBackup:
            erro = ErroRestauracao(f"{erro}; escolha outro --destino")
        raise erro from None
    return r


def _checar_fora_do_repositorio(final: Path, base: Path, tipo: str) -> None:
    real, repo = final.resolve(), base.resolve()
    if real.is_relative_to(repo):
        raise ErroRestauracao(
            f"{final}: o destino fica dentro do repositório ({base}); restaure fora "
            "dele (ex.: --destino ./restauracao/)"
        )
    if tipo != "arquivo" and repo.is_relative_to(real):
        raise ErroRestauracao(
            f"{final}: o destino contém o repositório ({base}); escolha outra pasta"
        )


def _checar_pasta_gravavel(pasta: Path) -> None:
    """The nearest existing ancestor must be a folder this user can write into."""
    existente = pasta
    while not existente.exists() and existente != existente.parent:
        existente = existente.parent
    if not existente.is_dir():
        raise ErroRestauracao(
            f"{existente}: é um arquivo, não uma pasta, e não pode conter o destino "
            f"{pasta}; escolha outro --destino"
        )
    if not os.access(existente, os.W_OK | os.X_OK):
        if _somente_leitura(existente):
            raise ErroPermissao(
                f"{existente}: sistema de arquivos somente leitura; restaure em "
                "outra pasta (--destino)"
            )
        raise ErroPermissao(
            f"{existente}: sem permissão de escrita; restaure em outra pasta "
            f"(--destino) ou ajuste as permissões (chmod u+w {existente})"
        )


def _somente_leitura(pasta: Path) -> bool:
    try:
        return bool(os.statvfs(pasta).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def preparar_pasta(final: Path) -> None:
    """Create the folder that will hold `final`; drop temps of killed restores."""
    pasta = final.parent
    try:
        pasta.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise erro_de_os(e, str(pasta)) from None
    remover_temporarios_antigos(pasta, final.name)


def remover_temporarios_antigos(
    pasta: Path, nome: str, idade_s: float = IDADE_TEMPORARIO_S
) -> list[Path]:
    """Remove `.<nome>.*.restaurando` left in `pasta` by a killed restore.

    Only those untouched for `idade_s`: a restore still running keeps writing.
    """
    removidos = []
    limite = time.time() - idade_s
    padrao = os.path.join(glob.escape(str(pasta)), f".{glob.escape(nome)}.*")
    for caminho in map(Path, glob.glob(padrao + SUFIXO_RESTAURANDO)):
        try:
            if _ultima_escrita(caminho) > limite:
                continue
            if caminho.is_dir() and not caminho.is_symlink():
                shutil.rmtree(caminho)
            else:
                caminho.unlink()
        except OSError as e:
            log.warning("Temporário antigo não removido: %s: %s", caminho, e)
            continue
        log.info("Temporário de restauração interrompida removido: %s", caminho)
        removidos.append(caminho)
    return removidos


def _ultima_escrita(caminho: Path) -> float:
    """Newest mtime in a file or a folder tree (a folder's own mtime misses writes)."""
    mais_nova = caminho.lstat().st_mtime
    if caminho.is_dir() and not caminho.is_symlink():
        for atual, _, nomes in os.walk(caminho):
            for n in nomes:
                with contextlib.suppress(OSError):
                    mais_nova = max(
                        mais_nova, os.lstat(os.path.join(atual, n)).st_mtime
                    )
    return mais_nova
