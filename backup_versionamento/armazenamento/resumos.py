"""Per-machine cache of version summaries: fast listing, never the truth.

A SQLite file in this machine's state folder. Each query lists the model's keys
through the backend (one listing, no sidecar read) and re-reads only sidecars it
has not seen or whose size or time changed. Works the same on a local folder, a
read-only mount or an object store; deleting the file is always safe.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..erros import ErroBackup
from ..politica.versoes import Versao, e_versao
from .backends import Backend, InfoObjeto
from .sidecar import PREFIXO, SUFIXO, SUFIXO_FIXADA, Sidecar
from .sqlite_cache import abrir_cache, erro_de_escrita

log = logging.getLogger("SistemaBackup")
_ESQUEMA = """
CREATE TABLE IF NOT EXISTS versoes (
    modelo TEXT NOT NULL, versao TEXT NOT NULL,
    major INTEGER NOT NULL, minor INTEGER NOT NULL, patch INTEGER NOT NULL,
    marca TEXT NOT NULL, fixada INTEGER NOT NULL DEFAULT 0, resumo TEXT NOT NULL,
    PRIMARY KEY (modelo, versao));
"""
LerSidecar = Callable[[str, str], Sidecar]


def _marca(info: InfoObjeto) -> str:
    return f"{info.tamanho}:{info.modificado}"


class IndiceResumos:
    def __init__(
        self, arquivo: Path, backend: Backend, ler: LerSidecar, cache_mb: int = 64
    ) -> None:
        self.arquivo = arquivo
        self.backend = backend
        self.ler = ler
        self._trava = threading.Lock()
        self._conn = abrir_cache(arquivo, _ESQUEMA, cache_mb)
        # (model, version) -> why its sidecar could not be read, from the last
        # sync: such a version is shown as damaged, never silently dropped.
        self._danificadas: dict[tuple[str, str], str] = {}
        self._danificadas_antes: dict[tuple[str, str], str] = {}  # warned once

    def fechar(self) -> None:
        with self._trava:
            self._conn.close()

    # -- sync ----------------------------------------------------------------------
    def _listar(self, prefixo: str) -> dict[str, dict[str, Any]]:
        """model -> {"sidecars": {versao: info}, "fixadas": set}."""
        por_modelo: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"sidecars": {}, "fixadas": set()}
        )
        for info in self.backend.listar(prefixo):
            resto = info.chave[len(PREFIXO) :]
            if resto.count("/") != 1:
                continue
            modelo, nome = resto.split("/")
            if nome.endswith(SUFIXO) and e_versao(nome[: -len(SUFIXO)]):
                por_modelo[modelo]["sidecars"][nome[: -len(SUFIXO)]] = info
            elif nome.endswith(SUFIXO_FIXADA):
                por_modelo[modelo]["fixadas"].add(nome[: -len(SUFIXO_FIXADA)])
        return por_modelo

    def sincronizar(self, modelo: str | None = None) -> None:
        """Bring one model (or all) in line with the repository's listing."""
        listagem = self._listar(f"{PREFIXO}{modelo}/" if modelo else PREFIXO)
        modelos = [modelo] if modelo else sorted(listagem)
        with self._trava:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    if modelo is None:
                        self._conn.execute(
                            "DELETE FROM versoes WHERE modelo NOT IN "
                            "(SELECT value FROM json_each(?))",
                            (json.dumps(modelos),),
                        )
                    if modelo is None:
                        self._danificadas.clear()
                    for m in modelos:
                        self._sincronizar(m, listagem.get(m))
                    self._conn.execute("COMMIT")
                except BaseException:
                    # SQLite already rolled back on SQLITE_FULL and some I/O
                    # errors; a second ROLLBACK would hide the real cause.
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                if not erro_de_escrita(e):
                    raise
                log.warning("Cache de versões %s não atualizado (%s)", self.arquivo, e)

    def _sincronizar(self, modelo: str, lista: dict[str, Any] | None) -> None:
        sidecars: dict[str, InfoObjeto] = lista["sidecars"] if lista else {}
        fixadas: set[str] = lista["fixadas"] if lista else set()
        conhecidas = dict(
            self._conn.execute(
                "SELECT versao, marca FROM versoes WHERE modelo=?", (modelo,)
            ).fetchall()
        )
        for chave in [k for k in self._danificadas if k[0] == modelo]:
            del self._danificadas[chave]
        for versao in set(conhecidas) - set(sidecars):
            self._conn.execute(
                "DELETE FROM versoes WHERE modelo=? AND versao=?", (modelo, versao)
            )
        for versao, info in sidecars.items():
            if conhecidas.get(versao) == _marca(info):
                continue
            try:
                sc = self.ler(modelo, versao)
            except ErroBackup as e:
                if self._danificadas_antes.get((modelo, versao)) != str(e):
                    log.warning(
                        "Versão danificada fora da listagem: %s %s: %s (rode "
                        "`inicializar_backup.py verificar`)",
                        modelo,
                        versao,
                        e,
                    )
                self._danificadas[(modelo, versao)] = str(e)
                self._danificadas_antes[(modelo, versao)] = str(e)
                self._conn.execute(
                    "DELETE FROM versoes WHERE modelo=? AND versao=?", (modelo, versao)
                )
                continue
            self._inserir(sc.resumo(), _marca(info))
        self._conn.execute(
            "UPDATE versoes SET fixada=(versao IN (SELECT value FROM "
            "json_each(?))) WHERE modelo=?",
            (json.dumps(sorted(fixadas)), modelo),
        )

    def _inserir(self, resumo: dict[str, Any], marca: str) -> None:
        v = Versao.ler(resumo["versao"])
        self._conn.execute(
            "INSERT OR REPLACE INTO versoes VALUES (?,?,?,?,?,?,0,?)",
            (
                resumo["modelo"],
                resumo["versao"],
                v.major,
                v.minor,
                v.patch,
                marca,
                json.dumps(resumo, ensure_ascii=False),
            ),
        )

    def esquecer(self, modelo: str, versao: str) -> None:
        """Drop a version found unreadable or removed."""
        with self._trava:
            self._conn.execute(
                "DELETE FROM versoes WHERE modelo=? AND versao=?", (modelo, versao)
            )

    # -- queries -------------------------------------------------------------------
    def modelos(self) -> list[str]:
        """Every model, also one whose only versions are damaged."""
        self.sincronizar()
        with self._trava:
            nomes = {
                r[0] for r in self._conn.execute("SELECT DISTINCT modelo FROM versoes")
            }
            nomes.update(m for m, _ in self._danificadas)
        return sorted(nomes)

    def danificadas(self, modelo: str | None = None) -> list[dict[str, str]]:
        """Versions whose sidecar did not read at the last sync (call after it)."""
        with self._trava:
            itens = sorted(self._danificadas.items())
        return [
            {"modelo": m, "versao": v, "erro": erro}
            for (m, v), erro in itens
            if modelo is None or m == modelo
        ]

    def versoes(self, modelo: str, *, sincronizar: bool = True) -> list[dict[str, Any]]:
        """Summaries of a model's versions, oldest first."""
        if sincronizar:
            self.sincronizar(modelo)
        with self._trava:
            linhas = self._conn.execute(
                "SELECT resumo, fixada FROM versoes WHERE modelo=? "
                "ORDER BY major, minor, patch",
                (modelo,),
            ).fetchall()
        saida = []
        for resumo, fixada in linhas:
            d = json.loads(resumo)
            d["fixada"] = bool(fixada)
            saida.append(d)
        return saida

    def totais(self) -> dict[str, int]:
        """Counts and logical bytes over every model (call modelos() first)."""
        with self._trava:
            n_modelos, n_versoes, tamanho = self._conn.execute(
                "SELECT COUNT(DISTINCT modelo), COUNT(*), "
                "COALESCE(SUM(json_extract(resumo, '$.tamanho')),0) FROM versoes"
            ).fetchone()
        return {"modelos": n_modelos, "versoes": n_versoes, "tamanho_logico": tamanho}
