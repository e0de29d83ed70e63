"""Per-machine chunk index: chunk id -> (pack, offset, length), from fragments.

A SQLite file in this machine's state folder (never in the repository): tens
of bytes per chunk on disk and a bounded page cache in memory, so a 1 TiB
repository (4 million chunks) costs the same RAM as a small one. It remembers
which fragments it has merged; a listing of `indices/` brings it up to date,
and a fragment that disappeared (merged by a collection) triggers a rebuild.
Dedup lookups hit this file, never the backend.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from .backends import Backend
from .blob import Codificador
from .fragmento import PREFIXO, chave_fragmento, decodificar_fragmento
from .pacote import Local
from .sqlite_cache import abrir_cache, erro_de_escrita

log = logging.getLogger("SistemaBackup")

_ESQUEMA = """
CREATE TABLE IF NOT EXISTS pacotes (n INTEGER PRIMARY KEY, id BLOB UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS blocos (
    id BLOB PRIMARY KEY, pacote INTEGER NOT NULL, deslocamento INTEGER NOT NULL,
    tamanho INTEGER NOT NULL, flags INTEGER NOT NULL, claro INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fragmentos (id TEXT PRIMARY KEY);
"""


# A chunk's location: (chunk id, pack id, offset, length, flags, plaintext length).
_SELECIONAR_LOCAIS = (
    "SELECT b.id, p.id, b.deslocamento, b.tamanho, b.flags, b.claro "
    "FROM blocos b JOIN pacotes p ON p.n = b.pacote"
)


def _local(linha: tuple[bytes, bytes, int, int, int, int]) -> Local:
    return Local(linha[1].hex(), linha[2], linha[3], linha[4], linha[5])


class IndiceBlocos:
    def __init__(self, arquivo: Path, cache_mb: int = 64) -> None:
        self.arquivo = arquivo
        self._trava = threading.Lock()
        self._conn = abrir_cache(arquivo, _ESQUEMA, cache_mb)

    def fechar(self) -> None:
        with self._trava:
            self._conn.close()

    # -- lookups -----------------------------------------------------------------
    def local(self, id_bloco: str) -> Local | None:
        with self._trava:
            linha = self._conn.execute(
                f"{_SELECIONAR_LOCAIS} WHERE b.id = ?", (bytes.fromhex(id_bloco),)
            ).fetchone()
        return None if linha is None else _local(linha)

    def locais(self, ids: Iterable[str]) -> dict[str, Local]:
        """Locations of many chunks in a few queries (absent ids are left out)."""
        chaves = list({bytes.fromhex(i) for i in ids})
        saida: dict[str, Local] = {}
        with self._trava:
            # Under SQLite's default limit of 999 bound parameters per statement.
            for k in range(0, len(chaves), 900):
                lote = chaves[k : k + 900]
                linhas = self._conn.execute(
                    f"{_SELECIONAR_LOCAIS} WHERE b.id IN ({','.join('?' * len(lote))})",
                    lote,
                ).fetchall()
                for linha in linhas:
                    saida[linha[0].hex()] = _local(linha)
        return saida

    def contem(self, id_bloco: str) -> bool:
        with self._trava:
            return (
                self._conn.execute(
                    "SELECT 1 FROM blocos WHERE id = ?", (bytes.fromhex(id_bloco),)
                ).fetchone()
                is not None
            )

    def todos(self) -> dict[str, Local]:
        with self._trava:
            linhas = self._conn.execute(_SELECIONAR_LOCAIS).fetchall()
        return {linha[0].hex(): _local(linha) for linha in linhas}

    def pacotes_indexados(self) -> set[str]:
        with self._trava:
            return {
                r[0].hex()
                for r in self._conn.execute(
                    "SELECT id FROM pacotes "
                    "WHERE n IN (SELECT DISTINCT pacote FROM blocos)"
                )
            }

    # -- updates -----------------------------------------------------------------
    def registrar(self, locais: dict[str, Local], fragmento: str | None) -> None:
        """Add locations (and mark their fragment merged); a failure only logs.

        The cache is rebuildable: failing to update it (disk full, busy) must
        never fail a backup whose data is already in the repository.
        """
        try:
            with self._trava:
                self._inserir(locais, fragmento)
        except sqlite3.Error as e:
            if not erro_de_escrita(e):
                raise
            log.warning("Cache de blocos %s não atualizado (%s)", self.arquivo, e)

    def _inserir(self, locais: dict[str, Local], fragmento: str | None) -> None:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            numeros: dict[str, int] = {}
            for p in {loc.pacote for loc in locais.values()}:
                c.execute(
                    "INSERT OR IGNORE INTO pacotes(id) VALUES (?)", (bytes.fromhex(p),)
                )
                numeros[p] = c.execute(
                    "SELECT n FROM pacotes WHERE id = ?", (bytes.fromhex(p),)
                ).fetchone()[0]
            c.executemany(
                "INSERT OR IGNORE INTO blocos VALUES (?,?,?,?,?,?)",
                (
                    (
                        bytes.fromhex(i),
                        numeros[loc.pacote],
                        loc.deslocamento,
                        loc.tamanho,
                        loc.flags,
                        loc.claro,
                    )
                    for i, loc in locais.items()
                ),
            )
            if fragmento:
                c.execute("INSERT OR IGNORE INTO fragmentos VALUES (?)", (fragmento,))
            c.execute("COMMIT")
        except BaseException:
            # SQLite already rolled back on SQLITE_FULL and some I/O errors; a
            # second ROLLBACK would hide the real cause.
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise

    def fragmentos_conhecidos(self) -> set[str]:
        with self._trava:
            return {r[0] for r in self._conn.execute("SELECT id FROM fragmentos")}

    def atualizar(self, backend: Backend, codificador: Codificador) -> int:
        """Merge fragments listed in the repository; rebuild if one vanished.

        Returns how many fragments were read. Unreadable fragments are logged and
        skipped (their chunks are found again in the pack trailers).
        """
        listados = {info.chave[len(PREFIXO) :] for info in backend.listar(PREFIXO)}
        conhecidos = self.fragmentos_conhecidos()
        if conhecidos - listados:
            self._limpar()
            conhecidos = set()
        lidos = 0
        for id_frag in sorted(listados - conhecidos):
            try:
                bruto = backend.ler(chave_fragmento(id_frag))
                locais = decodificar_fragmento(codificador, id_frag, bruto)
            except Exception as e:
                log.warning("Fragmento de índice %s ignorado: %s", id_frag, e)
                continue
            self.registrar(locais, id_frag)
            lidos += 1
        return lidos

    def _limpar(self) -> None:
        with self._trava:
            self._conn.execute("BEGIN IMMEDIATE")
            for tabela in ("blocos", "pacotes", "fragmentos"):
                self._conn.execute(f"DELETE FROM {tabela}")
            self._conn.execute("COMMIT")

    def esquecer_pacotes(self, pacotes: Iterable[str]) -> None:
        with self._trava:
            for p in pacotes:
                linha = self._conn.execute(
                    "SELECT n FROM pacotes WHERE id = ?", (bytes.fromhex(p),)
                ).fetchone()
                if linha:
                    self._conn.execute(
                        "DELETE FROM blocos WHERE pacote = ?", (linha[0],)
                    )
