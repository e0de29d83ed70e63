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
from collections.abc import Iterable
from pathlib import Path

from .backends import Backend
from .blob import Codificador
from .fragmento import PREFIXO, chave_fragmento, decodificar_fragmento
from .pacote import PREFIXO as PREFIXO_PACOTES
from .pacote import Local
from .sqlite_cache import (
    CacheSqlite,
    erro_de_escrita,
)

log = logging.getLogger("SistemaBackup")

_ESQUEMA = """
CREATE TABLE IF NOT EXISTS pacotes (n INTEGER PRIMARY KEY, id BLOB UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS blocos (
    id BLOB PRIMARY KEY, pacote INTEGER NOT NULL, deslocamento INTEGER NOT NULL,
    tamanho INTEGER NOT NULL, flags INTEGER NOT NULL, claro INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fragmentos (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS danificados (
    id BLOB NOT NULL, pacote BLOB NOT NULL, deslocamento INTEGER NOT NULL,
    tamanho INTEGER NOT NULL, flags INTEGER NOT NULL, claro INTEGER NOT NULL,
    PRIMARY KEY (id, pacote, deslocamento)) WITHOUT ROWID;
"""


# A chunk's location: (chunk id, pack id, offset, length, flags, plaintext length).
_SELECIONAR_LOCAIS = (
    "SELECT b.id, p.id, b.deslocamento, b.tamanho, b.flags, b.claro "
    "FROM blocos b JOIN pacotes p ON p.n = b.pacote"
)


def _local(linha: tuple[bytes, bytes, int, int, int, int]) -> Local:
    """A row as a location; a row of the wrong shape is damage (ValueError)."""
    id_bloco, pacote, *numeros = linha
    if (
        not isinstance(id_bloco, bytes)
        or len(id_bloco) != 32
        or not isinstance(pacote, bytes)
        or len(pacote) != 32
        or not all(isinstance(n, int) and n >= 0 for n in numeros)
    ):
        raise ValueError(f"linha malformada no cache de blocos: {linha!r}")
    return Local(pacote.hex(), *numeros)


class IndiceBlocos(CacheSqlite):
    def __init__(self, arquivo: Path, cache_mb: int = 64) -> None:
        super().__init__(arquivo, _ESQUEMA, cache_mb, "blocos")
        # Bumped each time the file is found damaged and thrown away: the
        # object store then merges the fragments again before trusting it.
        self.geracao = 0
        # Fragment key -> why it could not be read (skipped; reported by verificar).
        self.fragmentos_ilegiveis: dict[str, str] = {}

    def _ao_descartar(self) -> None:
        self.geracao += 1

    # -- lookups -----------------------------------------------------------------
    def local(self, id_bloco: str) -> Local | None:
        chave = bytes.fromhex(id_bloco)

        def op(c: sqlite3.Connection) -> Local | None:
            sql = f"{_SELECIONAR_LOCAIS} WHERE b.id = ?"
            linha = c.execute(sql, (chave,)).fetchone()
            return None if linha is None else _local(linha)

        return self._usar(op)

    def locais(self, ids: Iterable[str]) -> dict[str, Local]:
        """Locations of many chunks in a few queries (absent ids are left out)."""
        chaves = list({bytes.fromhex(i) for i in ids})

        def op(c: sqlite3.Connection) -> dict[str, Local]:
            saida: dict[str, Local] = {}
            # Under SQLite's default limit of 999 bound parameters per statement.
            for k in range(0, len(chaves), 900):
                lote = chaves[k : k + 900]
                linhas = c.execute(
                    f"{_SELECIONAR_LOCAIS} WHERE b.id IN ({','.join('?' * len(lote))})",
                    lote,
                ).fetchall()
                for linha in linhas:
                    saida[linha[0].hex()] = _local(linha)
            return saida

        return self._usar(op)

    def contem(self, id_bloco: str) -> bool:
        return self.local(id_bloco) is not None

    def todos(self) -> dict[str, Local]:
        return self._usar(
            lambda c: {
                linha[0].hex(): _local(linha)
                for linha in c.execute(_SELECIONAR_LOCAIS).fetchall()
            }
        )

    def pacotes_indexados(self) -> set[str]:
        return self._usar(
            lambda c: {
                r[0].hex()
                for r in c.execute(
                    "SELECT id FROM pacotes "
                    "WHERE n IN (SELECT DISTINCT pacote FROM blocos)"
                )
            }
        )

    # -- updates -----------------------------------------------------------------
    def registrar(self, locais: dict[str, Local], fragmento: str | None) -> None:
        """Add locations (and mark their fragment merged); a failure only logs.

        The cache is rebuildable: failing to update it (disk full, busy) must
        never fail a backup whose data is already in the repository.
        """
        try:
            self._usar(lambda c: self._inserir(locais, fragmento))
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
        def op(c: sqlite3.Connection) -> set[str]:
            ids = {r[0] for r in c.execute("SELECT id FROM fragmentos")}
            if not all(isinstance(i, str) for i in ids):
                raise TypeError("id de fragmento que não é texto")
            return ids

        return self._usar(op)

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
        novos = sorted(listados - conhecidos)
        # A chunk listed twice (stored again after its pack was lost): keep the
        # location whose pack exists and is long enough. One listing.
        pacotes = (
            {
                info.chave.rsplit("/", 1)[-1]: info.tamanho
                for info in backend.listar(PREFIXO_PACOTES)
            }
            if novos
            else {}
        )
        for id_frag in novos:
            try:
                bruto = backend.ler(chave_fragmento(id_frag))
                locais = decodificar_fragmento(codificador, id_frag, bruto)
            except Exception as e:
                log.warning(
                    "Fragmento de índice %s ilegível, ignorado (o índice é refeito "
                    "pelos pacotes): %s",
                    id_frag,
                    e,
                )
                self.fragmentos_ilegiveis[chave_fragmento(id_frag)] = str(e)
                continue
            ruins = self.danificados()
            validos = {
                i: loc
                for i, loc in locais.items()
                if loc.deslocamento + loc.tamanho <= pacotes.get(loc.pacote, -1)
                and (i, loc.pacote, loc.deslocamento) not in ruins
            }
            self.registrar(validos, id_frag)
            lidos += 1
        return lidos

    def reiniciar(self, motivo: str) -> None:
        """Forget every location (kept: chunks known damaged); says why, once."""
        log.warning(
            "Cache de blocos desta máquina %s inconsistente com o repositório (%s); "
            "reconstruído a partir do repositório",
            self.arquivo,
            motivo,
        )
        self._limpar()
        with self._trava:
            self.geracao += 1

    def _limpar(self) -> None:
        def op(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            for tabela in ("blocos", "pacotes", "fragmentos"):
                c.execute(f"DELETE FROM {tabela}")
            c.execute("COMMIT")

        self._usar(op)

    def esquecer_pacotes(self, pacotes: Iterable[str]) -> None:
        lista = [bytes.fromhex(p) for p in pacotes]

        def op(c: sqlite3.Connection) -> None:
            for p in lista:
                linha = c.execute("SELECT n FROM pacotes WHERE id = ?", (p,)).fetchone()
                if linha:
                    c.execute("DELETE FROM blocos WHERE pacote = ?", (linha[0],))

        self._usar(op)

    def marcar_danificados(self, locais: dict[str, Local]) -> None:
        """Chunks read back damaged where their pack's trailer puts them.

        Never trusted by dedup again nor taken from a fragment on a rebuild: the
        next backup of the same content stores them anew (the repair), and
        every version using them reads the new copy.
        """
        linhas = [loc.registro(i) for i, loc in locais.items()]

        def op(c: sqlite3.Connection) -> None:
            c.executemany(
                "INSERT OR IGNORE INTO danificados VALUES (?,?,?,?,?,?)", linhas
            )
            c.executemany("DELETE FROM blocos WHERE id = ?", [(k[0],) for k in linhas])

        self._usar(op)

    def local_danificado(self, id_bloco: str) -> Local | None:
        """Where a chunk was found damaged (read again to report it truly)."""
        chave = bytes.fromhex(id_bloco)
        return self._usar(
            lambda c: next(
                (
                    _local(linha)
                    for linha in c.execute(
                        "SELECT id, pacote, deslocamento, tamanho, flags, claro "
                        "FROM danificados WHERE id = ?",
                        (chave,),
                    )
                ),
                None,
            )
        )

    def danificados(self) -> set[tuple[str, str, int]]:
        return self._usar(
            lambda c: {
                (i.hex(), p.hex(), d)
                for i, p, d in c.execute(
                    "SELECT id, pacote, deslocamento FROM danificados"
                )
            }
        )

    def esquecer_blocos(self, ids: Iterable[str]) -> None:
        """Drop rows the repository contradicts (a backup then writes them again)."""
        lista = [(bytes.fromhex(i),) for i in ids]
        self._usar(lambda c: c.executemany("DELETE FROM blocos WHERE id = ?", lista))
