"""Stat cache: what each model looked like when it was last backed up.

An unchanged 5 GiB checkpoint must not be re-read on every sweep, so a model is
only handed to the manager when its (size, mtime_ns, inode) differs from the one
recorded after its last successful backup. The cache can always be rebuilt: losing
it costs one re-read (the manager dedups identical content), never a version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, NamedTuple

from ..base.escrita import escrever_json_atomico
from ..registro import NOME_LOGGER

log = logging.getLogger(NOME_LOGGER)

NOME_ARQUIVO = "cache_varredura.json"
VERSAO_FORMATO = 1


class Assinatura(NamedTuple):
    """What stat says about a model; for a folder, a digest of its files' stats."""

    tamanho: int
    mtime_ns: int
    inode: int
    conteudo: str = ""  # folders only: digest of (relative path, size, mtime, inode)


def assinatura(caminho: Path) -> Assinatura | None:
    """Stat a model file or folder without reading its bytes; None when it is gone."""
    try:
        st = os.stat(caminho, follow_symlinks=False)
    except OSError:
        return None
    if not os.path.isdir(caminho) or os.path.islink(caminho):
        return Assinatura(st.st_size, st.st_mtime_ns, st.st_ino)
    # Newest file, not the folder's own mtime: "recently written" is about content.
    total, ultimo, vistos = 0, 0, 0
    resumo = hashlib.blake2b(digest_size=16)
    for pasta, subpastas, arquivos in os.walk(caminho):
        subpastas.sort()
        for nome in sorted(arquivos):
            completo = os.path.join(pasta, nome)
            try:
                s = os.stat(completo, follow_symlinks=False)
            except OSError:
                continue
            total += s.st_size
            vistos += 1
            ultimo = max(ultimo, s.st_mtime_ns)
            rel = os.path.relpath(completo, caminho)
            resumo.update(f"{rel}\0{s.st_size}\0{s.st_mtime_ns}\0{s.st_ino}\n".encode())
    return Assinatura(
        total, ultimo if vistos else st.st_mtime_ns, st.st_ino, resumo.hexdigest()
    )


class CacheVarredura:
    """Thread-safe map path -> Assinatura, persisted atomically as JSON."""

    def __init__(self, arquivo: Path) -> None:
        self.arquivo = arquivo
        self._trava = threading.Lock()
        self._entradas: dict[str, Assinatura] = self._ler()

    def _ler(self) -> dict[str, Assinatura]:
        try:
            dados = json.loads(self.arquivo.read_text(encoding="utf-8"))
            if dados.get("versao") != VERSAO_FORMATO:
                raise ValueError(f"versão {dados.get('versao')!r} desconhecida")
            return {
                caminho: Assinatura(
                    e["tamanho"], e["mtime_ns"], e["inode"], e.get("conteudo", "")
                )
                for caminho, e in dados["entradas"].items()
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            # A cache is rebuildable: start empty rather than refuse to run.
            log.warning(
                "Cache de varredura ilegível (%s): %s; recomeçando vazio",
                self.arquivo,
                e,
            )
            return {}

    def mudou(self, caminho: Path, atual: Assinatura | None = None) -> bool:
        """True when `caminho` differs from what its last backup saw (or is new)."""
        if atual is None:
            atual = assinatura(caminho)
        if atual is None:
            return False
        with self._trava:
            return self._entradas.get(str(caminho)) != atual

    def registrar(self, caminho: Path, valor: Assinatura) -> None:
        with self._trava:
            self._entradas[str(caminho)] = valor

    def esquecer(self, caminho: Path) -> None:
        with self._trava:
            self._entradas.pop(str(caminho), None)

    def podar(self) -> int:
        """Drop entries whose path no longer exists; returns how many."""
        with self._trava:
            mortos = [c for c in self._entradas if not os.path.lexists(c)]
            for c in mortos:
                del self._entradas[c]
        return len(mortos)

    def __len__(self) -> int:
        with self._trava:
            return len(self._entradas)

    def salvar(self) -> None:
        with self._trava:
            dados: dict[str, Any] = {
                "versao": VERSAO_FORMATO,
                "entradas": {c: a._asdict() for c, a in sorted(self._entradas.items())},
            }
            # Written under the lock so two threads cannot reorder their renames.
            escrever_json_atomico(self.arquivo, dados)
