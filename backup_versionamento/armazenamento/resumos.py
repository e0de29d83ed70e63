"""Per-machine cache of version summaries: fast listing, never the truth.

A SQLite file in this machine's state folder. Each query lists the model's keys
through the backend (one listing, no sidecar read) and re-reads only sidecars it
has not seen or whose size or time changed. Works the same on a local folder, a
read-only mount or an object store; deleting the file is always safe.

When the repository hides names (keyed ids in the keys, `sidecar.Nomes`), the
listing gives ids: each one is resolved to (model, version) by the repository
(from these rows, else by reading the sidecar), so this cache is also what keeps
listing a large repository fast.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import blake3

from ..base.nomes_versao import ordem_versao
from ..base.tempo import agora_iso
from ..erros import ErroBackup
from .backends import Backend, InfoObjeto
from .sidecar import PREFIXO, SUFIXO_FIXADA, Nomes, Sidecar
from .sqlite_cache import (
    CacheSqlite,
    erro_de_escrita,
)

log = logging.getLogger("SistemaBackup")
_ESQUEMA = """
CREATE TABLE IF NOT EXISTS versoes (
    modelo TEXT NOT NULL, versao TEXT NOT NULL,
    major INTEGER NOT NULL, minor INTEGER NOT NULL, patch INTEGER NOT NULL,
    marca TEXT NOT NULL, fixada INTEGER NOT NULL DEFAULT 0, resumo TEXT NOT NULL,
    PRIMARY KEY (modelo, versao));
CREATE TABLE IF NOT EXISTS sumidas (
    modelo TEXT NOT NULL, versao TEXT NOT NULL, visto_em TEXT NOT NULL,
    PRIMARY KEY (modelo, versao));
"""
LerSidecar = Callable[[str, str], Sidecar]
# Sidecars read at once to learn hidden names (I/O bound: S3 GETs).
THREADS_RESOLVER = 8
# A listed sidecar key -> (model, version); raises ErroBackup when unreadable.
Resolver = Callable[[str], tuple[str, str]]


def _marca(info: InfoObjeto) -> str:
    return f"{info.tamanho}:{info.modificado}"


def _selo(
    modelo: str, versao: str, major: int, minor: int, patch: int, resumo: str
) -> str:
    """Checksum of a row: SQLite has no page checksums, and a flipped byte in a
    summary must not show a wrong SHA-256 in `listar`. Stored after the listing
    mark; a row that does not match is read again from its sidecar."""
    h = blake3.blake3(f"{modelo}\0{versao}\0{major}.{minor}.{patch}\0{resumo}".encode())
    return h.hexdigest()[:32]


class IndiceResumos(CacheSqlite):
    def __init__(
        self,
        arquivo: Path,
        backend: Backend,
        ler: LerSidecar,
        cache_mb: int = 64,
        *,
        nomes: Nomes | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        super().__init__(arquivo, _ESQUEMA, cache_mb, "versões")
        self.backend = backend
        self.ler = ler
        self.nomes = nomes or Nomes()
        self.resolver = resolver
        # (model, version) -> why its sidecar could not be read, from the last
        # sync: such a version is shown as damaged, never silently dropped.
        self._danificadas: dict[tuple[str, str], str] = {}
        self._danificadas_antes: dict[tuple[str, str], str] = {}  # warned once

    # -- sync ----------------------------------------------------------------------
    def _listar(
        self, prefixo: str, modelo: str | None
    ) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], str]]:
        """(model -> {"sidecars": {versao: info}, "fixadas": set}, unreadable).

        Unreadable: hidden-name sidecars that could not be resolved, by the
        labels they are shown with, and why."""
        por_modelo: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"sidecars": {}, "fixadas": set()}
        )
        fixadas: list[tuple[str, str]] = []
        sidecars: list[tuple[tuple[str, str], InfoObjeto]] = []
        for info in self.backend.listar(prefixo):
            segs = self.nomes.segmentos(info.chave)
            if segs is not None:
                sidecars.append((segs, info))
                continue
            fixada = self.nomes.segmentos(info.chave, SUFIXO_FIXADA)
            if fixada is not None:
                fixadas.append(fixada)
        nomes_de, ilegiveis = resolver_nomes(
            sidecars, modelo, self.resolver if self.nomes.ocultos else None
        )
        for segs, info in sidecars:
            if segs in nomes_de:
                m, v = nomes_de[segs]
                por_modelo[m]["sidecars"][v] = info
        for segs in fixadas:
            if segs in nomes_de:
                m, v = nomes_de[segs]
                por_modelo[m]["fixadas"].add(v)
        return por_modelo, ilegiveis

    def sincronizar(self, modelo: str | None = None) -> None:
        """Bring one model (or all) in line with the repository's listing."""
        prefixo = self.nomes.prefixo(modelo) if modelo else PREFIXO
        listagem, ilegiveis = self._listar(prefixo, modelo)
        modelos = [modelo] if modelo else sorted(listagem)

        def op(c: sqlite3.Connection) -> None:
            c.execute("BEGIN IMMEDIATE")
            try:
                if modelo is None:
                    c.execute(
                        "DELETE FROM versoes WHERE modelo NOT IN "
                        "(SELECT value FROM json_each(?))",
                        (json.dumps(modelos),),
                    )
                    self._danificadas.clear()
                for m in modelos:
                    self._sincronizar(m, listagem.get(m))
                self._anotar_ilegiveis(ilegiveis)
                c.execute("COMMIT")
            except BaseException:
                # SQLite already rolled back on SQLITE_FULL and some I/O
                # errors; a second ROLLBACK would hide the real cause.
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

        try:
            self._usar(op)
        except sqlite3.Error as e:
            if not erro_de_escrita(e):
                raise
            log.warning("Cache de versões %s não atualizado (%s)", self.arquivo, e)

    def _sincronizar(self, modelo: str, lista: dict[str, Any] | None) -> None:
        sidecars: dict[str, InfoObjeto] = lista["sidecars"] if lista else {}
        fixadas: set[str] = lista["fixadas"] if lista else set()
        conhecidas = {
            versao: (marca, _selo(modelo, versao, ma, mi, pa, resumo))
            for versao, marca, ma, mi, pa, resumo in self._conn.execute(
                "SELECT versao, marca, major, minor, patch, resumo FROM versoes "
                "WHERE modelo=?",
                (modelo,),
            ).fetchall()
        }
        for chave in [k for k in self._danificadas if k[0] == modelo]:
            del self._danificadas[chave]
        for versao in set(conhecidas) - set(sidecars):
            self._conn.execute(
                "DELETE FROM versoes WHERE modelo=? AND versao=?", (modelo, versao)
            )
            marca, selo = conhecidas[versao]
            if not marca.endswith(f":{selo}"):
                continue  # a damaged row, not a version that existed
            # Not removed by this machine (esquecer would have dropped it): a
            # trace for `verificar`, which reports it once.
            log.warning(
                "Versão %s %s sumiu do repositório (esta máquina a conhecia)",
                modelo,
                versao,
            )
            self._conn.execute(
                "INSERT OR REPLACE INTO sumidas VALUES (?,?,?)",
                (modelo, versao, agora_iso()),
            )
        if sidecars:
            self._conn.execute(
                "DELETE FROM sumidas WHERE modelo=? AND versao IN "
                "(SELECT value FROM json_each(?))",
                (modelo, json.dumps(sorted(sidecars))),
            )
        for versao, info in sidecars.items():
            marca, selo = conhecidas.get(versao, ("", ""))
            if marca == f"{_marca(info)}:{selo}":
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

    def _anotar_ilegiveis(self, ilegiveis: dict[tuple[str, str], str]) -> None:
        for (m, v), erro in ilegiveis.items():
            if self._danificadas_antes.get((m, v)) != erro:
                log.warning(
                    "Versão danificada fora da listagem: %s %s: %s (rode "
                    "`inicializar_backup.py verificar`)",
                    m,
                    v,
                    erro,
                )
            self._danificadas[(m, v)] = erro
            self._danificadas_antes[(m, v)] = erro

    def _inserir(self, resumo: dict[str, Any], marca: str) -> None:
        major, minor, patch = ordem_versao(resumo["versao"])
        texto = json.dumps(resumo, ensure_ascii=False)
        modelo, versao = resumo["modelo"], resumo["versao"]
        selo = _selo(modelo, versao, major, minor, patch, texto)
        self._conn.execute(
            "INSERT OR REPLACE INTO versoes VALUES (?,?,?,?,?,?,0,?)",
            (
                resumo["modelo"],
                resumo["versao"],
                major,
                minor,
                patch,
                f"{marca}:{selo}",
                texto,
            ),
        )

    def esquecer(self, modelo: str, versao: str) -> None:
        """Drop a version found unreadable or removed."""

        def op(c: sqlite3.Connection) -> None:
            for tabela in ("versoes", "sumidas"):
                c.execute(
                    f"DELETE FROM {tabela} WHERE modelo=? AND versao=?",
                    (modelo, versao),
                )

        self._usar(op)

    def sumidas(self, modelo: str | None = None) -> list[tuple[str, str, str]]:
        """(modelo, versao, when noticed) of versions whose sidecar vanished.

        Syncs first; the caller reports them and then calls `esquecer_sumidas`.
        """
        self.sincronizar(modelo)
        return self._usar(
            lambda c: [
                (str(m), str(v), str(q))
                for m, v, q in c.execute(
                    "SELECT modelo, versao, visto_em FROM sumidas "
                    "WHERE ? IS NULL OR modelo = ? ORDER BY modelo, versao",
                    (modelo, modelo),
                )
            ]
        )

    def esquecer_sumidas(self, lista: list[tuple[str, str, str]]) -> None:
        self._usar(
            lambda c: c.executemany(
                "DELETE FROM sumidas WHERE modelo=? AND versao=?",
                [(m, v) for m, v, _ in lista],
            )
        )

    def conhecidas(self) -> set[tuple[str, str]]:
        """(modelo, versao) of every version this machine has listed (not synced)."""
        return self._usar(
            lambda c: {
                (str(m), str(v))
                for m, v in c.execute("SELECT modelo, versao FROM versoes")
            }
        )

    # -- queries -------------------------------------------------------------------
    def modelos(self) -> list[str]:
        """Every model, also one whose only versions are damaged."""
        self.sincronizar()
        sql = "SELECT DISTINCT modelo FROM versoes"
        nomes = set(
            self._usar(lambda c: [r[0] for r in c.execute(sql)], self.sincronizar)
        )
        with self._trava:
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

        def op(c: sqlite3.Connection) -> list[dict[str, Any]]:
            saida = []
            for resumo, fixada in c.execute(
                "SELECT resumo, fixada FROM versoes WHERE modelo=? "
                "ORDER BY major, minor, patch",
                (modelo,),
            ).fetchall():
                d = json.loads(resumo)
                if not isinstance(d, dict):
                    raise ValueError("resumo que não é um objeto JSON")
                d["fixada"] = bool(fixada)
                saida.append(d)
            return saida

        return self._usar(op, lambda: self.sincronizar(modelo))

    def totais(self) -> dict[str, int]:
        """Counts and logical bytes over every model (call modelos() first)."""
        n_modelos, n_versoes, tamanho = self._usar(
            lambda c: c.execute(
                "SELECT COUNT(DISTINCT modelo), COUNT(*), "
                "COALESCE(SUM(json_extract(resumo, '$.tamanho')),0) FROM versoes"
            ).fetchone(),
            self.sincronizar,
        )
        return {"modelos": n_modelos, "versoes": n_versoes, "tamanho_logico": tamanho}


def resolver_nomes(
    sidecars: list[tuple[tuple[str, str], InfoObjeto]],
    modelo: str | None,
    resolver: Resolver | None,
) -> tuple[dict[tuple[str, str], tuple[str, str]], dict[tuple[str, str], str]]:
    """Key segments -> (model, version), and the unreadable by label and why.

    Without a `resolver` the segments are the names (names in clear); hidden
    names are resolved in parallel (a new machine reads each sidecar once: on
    S3 that is one GET each).
    """
    if resolver is None:
        return {segs: segs for segs, _ in sidecars}, {}

    def um(item: tuple[tuple[str, str], InfoObjeto]) -> tuple[str, str] | str:
        try:
            return resolver(item[1].chave)
        except ErroBackup as e:
            return str(e)

    nomes_de: dict[tuple[str, str], tuple[str, str]] = {}
    ilegiveis: dict[tuple[str, str], str] = {}
    # The first one alone: it warms the repository's map from this cache.
    achados = [um(item) for item in sidecars[:1]]
    if len(sidecars) > 1:
        with ThreadPoolExecutor(THREADS_RESOLVER) as pool:
            achados += pool.map(um, sidecars[1:])
    for (segs, _), achado in zip(sidecars, achados, strict=True):
        if isinstance(achado, str):
            ilegiveis[(modelo or f"(nome oculto {segs[0]})", segs[1])] = achado
        else:
            nomes_de[segs] = achado
    return nomes_de, ilegiveis
