"""SQLite cache of version summaries: fast listing, never the truth.

Each model folder's mtime is remembered; a query stats the folder once and only
rescans it (listdir, then reads just the sidecars it has not seen) when the
mtime moved. A folder changed within the last two seconds is not trusted to be
settled (mtime granularity), so it is rescanned next time too. Deleting the
file is always safe: it is rebuilt from the sidecars.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ..erros import ErroIntegridade
from ..politica.versoes import Versao, e_versao
from .metadados import PREFIXO, ler_sidecar, resumo_versao

log = logging.getLogger("SistemaBackup")
SUFIXO_FIXADA = ".fixada"
_RECENTE_NS = 2_000_000_000
_ESQUEMA = """
CREATE TABLE IF NOT EXISTS modelos (nome TEXT PRIMARY KEY, marca INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versoes (
    modelo TEXT NOT NULL, versao TEXT NOT NULL,
    major INTEGER NOT NULL, minor INTEGER NOT NULL, patch INTEGER NOT NULL,
    criado_em TEXT NOT NULL, tamanho INTEGER NOT NULL,
    tamanho_armazenado INTEGER NOT NULL,
    fixada INTEGER NOT NULL DEFAULT 0, resumo TEXT NOT NULL,
    PRIMARY KEY (modelo, versao));
"""


class Indice:
    def __init__(self, arquivo: Path, raiz: Path, cache_mb: int = 256) -> None:
        self.arquivo = arquivo
        self.pasta_modelos = raiz / PREFIXO
        self._trava = threading.Lock()
        self._conn = self._abrir(cache_mb)

    def _abrir(self, cache_mb: int) -> sqlite3.Connection:
        for tentativa in range(2):
            try:
                conn = sqlite3.connect(
                    self.arquivo,
                    timeout=30,
                    check_same_thread=False,
                    isolation_level=None,
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA cache_size=-{int(cache_mb) * 1024}")
                conn.executescript(_ESQUEMA)
                return conn
            except sqlite3.DatabaseError:
                if tentativa:
                    raise
                # A damaged cache is just dropped: the sidecars are the truth.
                log.warning(
                    "Índice %s danificado; reconstruindo a partir dos metadados",
                    self.arquivo,
                )
                for sufixo in ("", "-wal", "-shm"):
                    Path(f"{self.arquivo}{sufixo}").unlink(missing_ok=True)
        raise AssertionError("inalcançável")

    def fechar(self) -> None:
        with self._trava:
            self._conn.close()

    def _inserir(self, resumo: dict[str, Any], fixada: bool) -> None:
        v = Versao.ler(resumo["versao"])
        self._conn.execute(
            "INSERT OR REPLACE INTO versoes VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                resumo["modelo"],
                resumo["versao"],
                v.major,
                v.minor,
                v.patch,
                resumo["criado_em"],
                resumo["tamanho"],
                resumo["tamanho_armazenado"],
                int(fixada),
                json.dumps(resumo, ensure_ascii=False),
            ),
        )

    def registrar(self, sidecar: dict[str, Any]) -> None:
        """Add a version just written (the writer knows it; no need to re-read)."""
        with self._trava:
            self._inserir(resumo_versao(sidecar), False)

    def sincronizar(self, modelo: str) -> None:
        with self._trava:
            self._sincronizar(modelo)

    def _sincronizar(self, modelo: str) -> None:
        pasta = self.pasta_modelos / modelo
        try:
            marca = os.stat(pasta).st_mtime_ns
        except FileNotFoundError:
            self._conn.execute("DELETE FROM versoes WHERE modelo=?", (modelo,))
            self._conn.execute("DELETE FROM modelos WHERE nome=?", (modelo,))
            return
        linha = self._conn.execute(
            "SELECT marca FROM modelos WHERE nome=?", (modelo,)
        ).fetchone()
        if linha and linha[0] == marca:
            return
        nomes = os.listdir(pasta)
        no_disco = {n[:-5] for n in nomes if n.endswith(".json") and e_versao(n[:-5])}
        fixadas = {n[: -len(SUFIXO_FIXADA)] for n in nomes if n.endswith(SUFIXO_FIXADA)}
        conhecidas = {
            r[0]
            for r in self._conn.execute(
                "SELECT versao FROM versoes WHERE modelo=?", (modelo,)
            )
        }
        self._conn.execute("BEGIN")
        try:
            for versao in conhecidas - no_disco:
                self._conn.execute(
                    "DELETE FROM versoes WHERE modelo=? AND versao=?", (modelo, versao)
                )
            for versao in sorted(no_disco - conhecidas):
                arquivo = pasta / f"{versao}.json"
                try:
                    sidecar = ler_sidecar(arquivo.read_bytes(), str(arquivo))
                except (ErroIntegridade, OSError) as e:
                    log.warning("Versão ignorada na listagem: %s", e)
                    continue
                self._inserir(resumo_versao(sidecar), versao in fixadas)
            self._conn.execute(
                "UPDATE versoes SET fixada=(versao IN (SELECT value FROM "
                "json_each(?))) WHERE modelo=?",
                (json.dumps(sorted(fixadas)), modelo),
            )
            confiavel = time.time_ns() - marca > _RECENTE_NS
            self._conn.execute(
                "INSERT OR REPLACE INTO modelos VALUES (?,?)",
                (modelo, marca if confiavel else 0),
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def esquecer(self, modelo: str, versao: str) -> None:
        """Drop a version found unreadable; its folder is rescanned next time."""
        with self._trava:
            self._conn.execute(
                "DELETE FROM versoes WHERE modelo=? AND versao=?", (modelo, versao)
            )
            self._conn.execute("UPDATE modelos SET marca=0 WHERE nome=?", (modelo,))

    def modelos(self) -> list[str]:
        try:
            nomes = sorted(
                n
                for n in os.listdir(self.pasta_modelos)
                if not n.startswith(".") and (self.pasta_modelos / n).is_dir()
            )
        except FileNotFoundError:
            return []
        with self._trava:
            for nome in nomes:
                self._sincronizar(nome)
            self._conn.execute(
                "DELETE FROM versoes WHERE modelo NOT IN "
                "(SELECT value FROM json_each(?))",
                (json.dumps(nomes),),
            )
        return [n for n in nomes if self.versoes(n, sincronizar=False)]

    def versoes(self, modelo: str, *, sincronizar: bool = True) -> list[dict[str, Any]]:
        """Summaries of a model's versions, oldest first."""
        with self._trava:
            if sincronizar:
                self._sincronizar(modelo)
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
                "SELECT COUNT(DISTINCT modelo), COUNT(*), COALESCE(SUM(tamanho),0) "
                "FROM versoes"
            ).fetchone()
        return {"modelos": n_modelos, "versoes": n_versoes, "tamanho_logico": tamanho}
