"""The object store: chunks -> blobs -> packs, and back, over any backend.

Writing happens in a session (one backup): worker threads encode chunks and
append them to one of a few reusable pack buffers; a full pack is written as
one object; `concluir()` writes the remaining packs and then one index fragment
that lists every new chunk. Only after that may a sidecar reference them
(docs/FORMATO.md, write order). Dedup asks the per-machine index, never the
backend. Reading fetches byte ranges of packs and verifies every chunk.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext

from ..base.padroes import THREADS_COMPRESSAO
from ..erros import (
    ErroBackup,
    ErroChaveAusente,
    ErroIntegridade,
    ErroObjetoCorrompido,
    ErroRepositorio,
)
from .backends import Backend
from .blob import Codificador
from .deltas import Codificar, ResolvedorBases, gravar_registro
from .fragmento import chave_fragmento, codificar_fragmento
from .indice_blocos import IndiceBlocos
from .pacote import (
    PREFIXO as PREFIXO_PACOTES,
)
from .pacote import (
    RODAPE,
    Local,
    PacoteEmConstrucao,
    chave_pacote,
    id_da_chave,
    ler_trailer,
)
from .trava_remota import concessao_backup

log = logging.getLogger("SistemaBackup")
# How long a reader that must write a recovery fragment waits for a collection.
ESPERA_LIMPEZA_S = 600.0
# A writer that lets go of its pack holding at least this much seals it there,
# written from the caller's buffers (no copy): packs of 4 to 16 MiB.
SELAR_AO_SOLTAR = 4 << 20
# The trailer of a full pack (~50 records of 45 bytes) fits in this easily.
_FIM_PACOTE = 64 * 1024


class ArmazemObjetos:
    """Chunks stored in packs; one instance per open repository."""

    def __init__(
        self,
        backend: Backend,
        codificador: Codificador,
        indice: IndiceBlocos,
        *,
        escritores: int = 2,
        threads_compressao: int = THREADS_COMPRESSAO,
    ) -> None:
        self.backend = backend
        self.codificador = codificador
        self.indice = indice
        self._compressao = threading.BoundedSemaphore(max(1, threads_compressao))
        self._n_escritores = max(1, escritores)
        self._buffers: list[PacoteEmConstrucao] = []
        self._indice_atualizado = False
        self._geracao_indice = indice.geracao
        self._trava_indice = threading.RLock()
        self._indice_reconstruido = False
        # Packs whose trailer could not be read while rebuilding: named in the
        # error of a chunk that only such a pack could hold.
        self.pacotes_ilegiveis: dict[str, str] = {}
        # Delta chunks decode through this (armazenamento/deltas.py).
        self.bases = codificador.bases = ResolvedorBases(self)

    # -- index freshness -----------------------------------------------------------
    def atualizar_indice(self, forcar: bool = False) -> None:
        """Bring the per-machine index up to date with the repository's fragments."""
        with self._trava_indice:
            if (
                forcar
                or not self._indice_atualizado
                or self._geracao_indice != self.indice.geracao
            ):
                self._geracao_indice = self.indice.geracao
                self.indice.atualizar(self.backend, self.codificador)
                self._indice_atualizado = True

    def reconstruir_indice(self, motivo: str) -> bool:
        """The per-machine index contradicts the repository: rebuild it from it.

        Once per open repository: after that a contradiction is real damage in
        the repository, and rebuilding again would only cost time. Returns True
        once the index has been rebuilt, by this call or an earlier one: the
        caller looks its chunk up again. (Reader threads race here: one that
        finds the rebuild already done must still look again, since its
        location was read before the rebuild.)
        """
        with self._trava_indice:
            if not self._indice_reconstruido:
                self._indice_reconstruido = True
                self.indice.reiniciar(motivo)
                self.atualizar_indice(forcar=True)
                self.reconstruir_de_pacotes()
            return True

    def local_confirmado(self, id_bloco: str, loc: Local) -> bool:
        """Does the pack's own trailer (the repository's truth) list `loc`?"""
        try:
            info = self.backend.info(chave_pacote(loc.pacote))
            if info is None:
                return False
            return self.ler_trailer(loc.pacote, info.tamanho).get(id_bloco) == loc
        except (ErroBackup, ValueError):
            return False

    def sessao(self) -> SessaoEscrita:
        self.atualizar_indice()
        while len(self._buffers) < self._n_escritores:
            self._buffers.append(PacoteEmConstrucao())
        return SessaoEscrita(self, self._buffers)

    # -- reading -------------------------------------------------------------------
    def localizar(self, id_bloco: str) -> Local:
        loc = self.indice.local(id_bloco)
        if loc is None:
            # Another process or machine may have added it since we looked.
            self.atualizar_indice(forcar=True)
            loc = self.indice.local(id_bloco)
        if loc is None:
            # A lost fragment: the pack trailers still know.
            self.reconstruir_de_pacotes()
            loc = self.indice.local(id_bloco)
        if loc is None and self.reconstruir_indice(f"bloco {id_bloco} não encontrado"):
            # Intact repository, damaged cache (a flipped id).
            loc = self.indice.local(id_bloco)
        if loc is None:
            # Known damaged and no other copy: read it there, so the error says
            # what is wrong with it (not that it is missing).
            loc = self.indice.local_danificado(id_bloco)
        if loc is None:
            ilegiveis = "; ".join(self.pacotes_ilegiveis.values())
            raise ErroObjetoCorrompido(
                f"bloco {id_bloco} ausente do repositório (nenhum pacote legível o "
                "contém"
                + (f"; pacotes ilegíveis: {ilegiveis}" if ilegiveis else "")
                + ")",
                id_bloco,
            )
        return loc

    def localizar_todos(self, ids: list[str]) -> dict[str, Local]:
        """`localizar` for a whole chunk list: one batch of index queries."""
        locais = self.indice.locais(ids)
        for id_bloco in ids:
            if id_bloco not in locais:
                locais[id_bloco] = self.localizar(id_bloco)
        return locais

    def ler_bruto(self, id_bloco: str, loc: Local | None = None) -> bytes:
        """The stored blob of a chunk, not decoded."""
        loc = loc or self.localizar(id_bloco)
        try:
            return self.backend.ler_intervalo(
                chave_pacote(loc.pacote), loc.deslocamento, loc.tamanho
            )
        except ErroChaveAusente:
            raise ErroObjetoCorrompido(
                f"bloco {id_bloco}: o pacote {loc.pacote} sumiu do repositório",
                id_bloco,
            ) from None
        except ErroIntegridade as e:
            raise ErroObjetoCorrompido(f"bloco {id_bloco}: {e}", id_bloco) from None

    def ler(self, id_bloco: str, tamanho: int | None = None) -> bytes | memoryview:
        """Read, decode and verify one chunk; ErroObjetoCorrompido names it."""
        loc = self.localizar(id_bloco)
        try:
            return self._ler_em(id_bloco, loc, tamanho)
        except ErroObjetoCorrompido as e:
            if self.local_confirmado(id_bloco, loc):
                # The pack says the chunk is there: real damage. A later backup
                # of the same content may have stored another copy (a repair);
                # the next backup of it will, now that this one is marked.
                self.indice.marcar_danificados({id_bloco: loc})
                if not self.reconstruir_indice(f"bloco {id_bloco}: {e}"):
                    raise
                novo = self.indice.local(id_bloco)
                if novo is None or novo == loc:
                    raise
                return self._ler_em(id_bloco, novo, tamanho)
            # A stale index (a collection elsewhere) or a damaged one (an
            # edited offset, a phantom row): the repository decides.
            self.atualizar_indice(forcar=True)
            novo = self.localizar(id_bloco)
            if novo == loc and self.reconstruir_indice(f"bloco {id_bloco}: {e}"):
                novo = self.localizar(id_bloco)
            return self._ler_em(id_bloco, novo, tamanho)

    def _ler_em(
        self, id_bloco: str, loc: Local, tamanho: int | None
    ) -> bytes | memoryview:
        bruto = self.ler_bruto(id_bloco, loc)
        dados = self.codificador.decodificar_bloco(id_bloco, bruto)
        if tamanho is not None and len(dados) != tamanho:
            raise ErroObjetoCorrompido(
                f"bloco {id_bloco}: tamanho não confere com o registrado", id_bloco
            )
        return dados

    def ler_trecho(
        self, blocos: list[tuple[str, int]], locais: list[Local]
    ) -> list[bytes | memoryview]:
        """Read chunks stored back to back in one pack with a single range read.

        Falls back to chunk by chunk (which refreshes a stale index) on a fault.
        """
        inicio = locais[0].deslocamento
        fim = locais[-1].deslocamento + locais[-1].tamanho
        try:
            bruto = memoryview(
                self.backend.ler_intervalo(
                    chave_pacote(locais[0].pacote), inicio, fim - inicio
                )
            )
        except ErroIntegridade:
            return [self.ler(i, n) for i, n in blocos]
        saida: list[bytes | memoryview] = []
        for (id_bloco, n), loc in zip(blocos, locais, strict=True):
            pos = loc.deslocamento - inicio
            try:
                dados = self.codificador.decodificar_bloco(
                    id_bloco, bruto[pos : pos + loc.tamanho]
                )
                if len(dados) != n:
                    raise ErroObjetoCorrompido(
                        f"bloco {id_bloco}: tamanho não confere com o registrado",
                        id_bloco,
                    )
            except ErroObjetoCorrompido:
                # Chunk by chunk: tells a damaged pack from a wrong index.
                dados = self.ler(id_bloco, n)
            saida.append(dados)
        return saida

    # -- recovery ------------------------------------------------------------------
    def ler_trailer(self, id_pacote: str, tamanho: int) -> dict[str, Local]:
        n = min(tamanho, _FIM_PACOTE)
        chave = chave_pacote(id_pacote)
        fim = self.backend.ler_intervalo(chave, tamanho - n, n)
        n_trailer = int.from_bytes(fim[-RODAPE.size : -4], "little")
        if n_trailer + RODAPE.size > n and n_trailer + RODAPE.size <= tamanho:
            fim = self.backend.ler_intervalo(
                chave, tamanho - n_trailer - RODAPE.size, n_trailer + RODAPE.size
            )
        locais = ler_trailer(self.codificador, id_pacote, fim, tamanho)
        return locais

    def reconstruir_de_pacotes(self, exclusiva: bool = False) -> int:
        """Index packs that no fragment lists (a lost or never-written fragment).

        Writes a recovery fragment when the repository is writable; either way
        the per-machine index learns them. Returns how many packs were read.
        Unless the caller holds the repository exclusively (`exclusiva`: a
        collection, a migration) the fragment is written under a
        backup lease, listing only packs that still exist: a collection running
        meanwhile deletes orphan packs, and no fragment may point at a gone pack.
        """
        indexados = self.indice.pacotes_indexados()
        novos: dict[str, Local] = {}
        lidos = 0
        for info in self.backend.listar(PREFIXO_PACOTES):
            id_pacote = id_da_chave(info.chave)
            if id_pacote in indexados:
                continue
            try:
                novos.update(self.ler_trailer(id_pacote, info.tamanho))
                lidos += 1
            except ErroObjetoCorrompido as e:
                log.warning("Pacote %s ignorado na reconstrução: %s", id_pacote, e)
                self.pacotes_ilegiveis[id_pacote] = str(e)
        if not novos:
            return lidos
        id_frag = None
        if self.backend.somente_leitura:
            self.indice.registrar(novos, None)
            return lidos
        with (
            nullcontext()
            if exclusiva
            else concessao_backup(self.backend, ESPERA_LIMPEZA_S)
        ):
            if not exclusiva:
                existentes = set(self.pacotes())
                novos = {i: loc for i, loc in novos.items() if loc.pacote in existentes}
                if not novos:
                    return lidos
            id_frag, partes = codificar_fragmento(self.codificador, novos)
            try:
                self.backend.gravar(chave_fragmento(id_frag), partes)
            except (ErroBackup, OSError) as e:
                # E.g. a folder where the lost fragment was (same content, same
                # key): this run still knows the chunks; the next one retries.
                log.warning(
                    "Fragmento de recuperação %s não gravado (%s); o índice desta "
                    "máquina segue com os blocos lidos dos pacotes",
                    id_frag,
                    e,
                )
                self.indice.fragmentos_ilegiveis[chave_fragmento(id_frag)] = (
                    f"o fragmento de recuperação não pôde ser gravado: {e}"
                )
                id_frag = None
            else:
                log.warning(
                    "Índice reconstruído a partir de %d pacote(s) sem fragmento", lidos
                )
            self.indice.registrar(novos, id_frag)
        return lidos

    def pacotes(self) -> dict[str, int]:
        """Every pack in the repository -> its size in bytes."""
        return {
            id_da_chave(i.chave): i.tamanho
            for i in self.backend.listar(PREFIXO_PACOTES)
        }


class SessaoEscrita:
    """One backup's writes: thread-safe `gravar`, then `concluir` or `abortar`."""

    def __init__(
        self, armazem: ArmazemObjetos, buffers: Iterable[PacoteEmConstrucao]
    ) -> None:
        self.armazem = armazem
        self._livres: queue.SimpleQueue[PacoteEmConstrucao] = queue.SimpleQueue()
        self._todos = list(buffers)
        for b in self._todos:
            b.reiniciar()
            self._livres.put(b)
        self._trava = threading.Lock()
        self._vistos: set[str] = set()  # chunks stored or in flight this session
        self.novos: dict[str, Local] = {}
        self.pacotes_gravados: list[str] = []
        self.bytes_gravados = 0
        # Dedup trusts a chunk the index knows only after the repository
        # confirms it: its pack exists (one listing per backup) and the pack's
        # trailer lists it there (one small read per pack relied on).
        self._pacotes: dict[str, int] | None = None
        self._trailers: dict[str, dict[str, Local]] = {}
        self._travas_pacote: dict[str, threading.Lock] = {}
        self.blocos_regravados = 0
        # Delta chunks of this session -> their bases: a pack holding some is
        # written only after a registry object lists them (deltas.py).
        self.deltas: dict[str, tuple[str, ...]] = {}

    @contextmanager
    def escritor(self) -> Iterator[Callable[..., int]]:
        """Hold one pack for a run of chunks: what is read together is stored
        together, so a restore fetches it with few range reads.

        The chunks may be views into a buffer the caller reuses afterwards: on
        the way out the pack is sealed when it holds enough to be worth a pack
        (written straight from those views), else what it holds is copied.
        """
        pacote = self._livres.get()
        try:
            yield (
                lambda id_bloco, dados, agrupamento=None, codificar=None: (
                    self._gravar_em(pacote, id_bloco, dados, agrupamento, codificar)
                )
            )
            if pacote.tamanho >= SELAR_AO_SOLTAR:
                self._selar(pacote)
        finally:
            pacote.materializar()
            self._livres.put(pacote)

    def gravar(self, id_bloco: str, dados: memoryview) -> int:
        """Store a chunk unless known; return the bytes it adds (0 = dedup hit)."""
        with self.escritor() as gravar:
            return gravar(id_bloco, dados)

    def _gravar_em(
        self,
        pacote: PacoteEmConstrucao,
        id_bloco: str,
        dados: memoryview,
        agrupamento: tuple[int, int] | None = None,
        codificar: Codificar | None = None,
    ) -> int:
        with self._trava:
            if id_bloco in self._vistos:
                return 0
            self._vistos.add(id_bloco)
        arm = self.armazem
        arm.atualizar_indice()  # after a damaged cache was discarded
        loc = arm.indice.local(id_bloco)
        if loc is not None:
            if self._confirmado(id_bloco, loc):
                return 0
            # The cache claims a chunk the repository does not hold there (its
            # pack lost, truncated or replaced; a phantom row): store it again.
            arm.indice.esquecer_blocos([id_bloco])
            with self._trava:
                self.blocos_regravados += 1
                primeiro = self.blocos_regravados == 1
            if primeiro:
                log.warning(
                    "Bloco %s consta no cache desta máquina mas não no pacote %s "
                    "do repositório; gravado de novo (os demais casos deste "
                    "backup também)",
                    id_bloco,
                    loc.pacote,
                )
        cod = arm.codificador
        with arm._compressao:
            # agrupamento = (element size, phase): a chunk of float tensor bytes
            if codificar is not None:  # maybe a delta (deltas.FonteDelta)
                flags, payload = codificar(dados)
            elif agrupamento is None:
                flags, payload = cod.comprimir_se_compensa(dados)
            else:
                flags, payload = cod.comprimir_agrupado(dados, *agrupamento)
        n = cod.tamanho_montado(len(payload))
        if not pacote.cabe(n):
            self._selar(pacote)
        if cod.cifra is None:
            # Raw chunks stay views into the caller's segment (no copy).
            pacote.adicionar(
                id_bloco, cod.montar(flags, payload, len(dados)), len(dados)
            )
        else:
            # Encrypted straight into the pack's buffer: no ciphertext allocated.
            cod.cifrar_em(
                pacote.reservar(n),
                flags,
                payload,
                len(dados),
                id_objeto=bytes.fromhex(id_bloco),
            )
            pacote.confirmar(id_bloco, n, len(dados))
        if pacote.cheio():
            self._selar(pacote)
        return n

    def _confirmado(self, id_bloco: str, loc: Local) -> bool:
        arm = self.armazem
        with self._trava:
            if self._pacotes is None:
                self._pacotes = arm.pacotes()
            tamanho = self._pacotes.get(loc.pacote)
            trava = self._travas_pacote.setdefault(loc.pacote, threading.Lock())
        if tamanho is None:
            return False
        with trava:
            if loc.pacote not in self._trailers:
                try:
                    self._trailers[loc.pacote] = arm.ler_trailer(loc.pacote, tamanho)
                except (ErroBackup, ValueError) as e:
                    log.warning(
                        "Pacote %s ilegível (%s): seus blocos serão gravados de novo",
                        loc.pacote,
                        e,
                    )
                    self._trailers[loc.pacote] = {}
        return self._trailers[loc.pacote].get(id_bloco) == loc

    def gravar_codificado(
        self, id_bloco: str, bruto: bytes | memoryview, claro: int
    ) -> None:
        """Append an already encoded blob (repacking): no re-encoding, no dedup."""
        with self._trava:
            self._vistos.add(id_bloco)
        pacote = self._livres.get()
        try:
            if not pacote.cabe(len(bruto)):
                self._selar(pacote)
            pacote.adicionar(id_bloco, [bruto], claro)
            if pacote.cheio():
                self._selar(pacote)
        finally:
            pacote.materializar()
            self._livres.put(pacote)

    def _selar(self, pacote: PacoteEmConstrucao) -> None:
        if pacote.vazio():
            return
        id_pacote, partes, locais = pacote.selar(self.armazem.codificador)
        if self.deltas and (
            meus := {i: self.deltas[i] for i in locais if i in self.deltas}
        ):
            gravar_registro(self.armazem, meus)
        try:
            self.armazem.backend.gravar(chave_pacote(id_pacote), partes)
        except ErroRepositorio as e:
            # Only the plain I/O refusal (a folder in the way), not a full disk,
            # a read-only store or a transient fault: those have their own codes.
            if (
                type(e) is not ErroRepositorio
                or self.armazem.backend.info(chave_pacote(id_pacote)) is not None
            ):
                raise
            # The same chunks make the same pack: rewriting a damaged one
            # needs its key free (a folder there is damage too).
            raise ErroRepositorio(
                f"{e}; o pacote {id_pacote} está danificado no repositório: remova "
                f"o que ocupa {chave_pacote(id_pacote)} e rode o backup de novo"
            ) from e
        pacote.reiniciar()
        with self._trava:
            self.novos.update(locais)
            self.pacotes_gravados.append(id_pacote)
            self.bytes_gravados += sum(len(p) for p in partes)

    def concluir(self, escrever_fragmento: bool = True) -> str | None:
        """Write what is left, then the fragment; return its id (None: nothing new)."""
        # Partial packs of the writer threads are merged into as few as fit: a
        # small backup leaves one pack, not one per thread.
        parciais = sorted(
            (p for p in self._todos if not p.vazio()), key=lambda p: -p.tamanho
        )
        for destino in parciais:
            for origem in parciais:
                if origem is destino or origem.vazio():
                    continue
                if not destino.cabe(origem.tamanho):
                    continue
                for id_bruto, inicio, n, _flags, claro in origem.registros:
                    destino.adicionar(
                        id_bruto.hex(),
                        [memoryview(origem.buf)[inicio : inicio + n]],
                        claro,
                    )
                destino.materializar()
                origem.reiniciar()
        for pacote in self._todos:
            self._selar(pacote)
        if not self.novos or not escrever_fragmento:
            return None
        arm = self.armazem
        id_frag, partes = codificar_fragmento(arm.codificador, self.novos)
        arm.backend.gravar(chave_fragmento(id_frag), partes)
        arm.indice.registrar(self.novos, id_frag)
        return id_frag

    def abortar(self) -> None:
        """Drop unsealed data; written packs stay as orphans for the collection."""
        for pacote in self._todos:
            pacote.reiniciar()
