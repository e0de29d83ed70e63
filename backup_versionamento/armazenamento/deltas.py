"""Deltas between versions of a model: a float tensor stored as the XOR with
the same tensor of the parent version (docs/FORMATO.md, "Deltas").

A fine-tune moves every weight a little: chunk dedup keeps nothing, but the
XOR with the parent keeps the sign, exponent and high mantissa bytes at zero,
which the byte-grouped zstd then nearly erases. A delta chunk keeps its id
(BLAKE3 of its real content), so dedup, the index, restores and verification
see an ordinary chunk; only decoding differs:

- the blob carries FLAG_DELTA and, inside its (encrypted) payload, the ids of
  the parent chunks whose bytes are XORed in (`Refs`) and its chain depth;
- before a pack holding deltas is written, a registry object
  `deltas/<id>` lists them with their bases: the collection keeps a base
  while a live delta needs it (`fechar`), whichever version uses the delta;
- deltas go against the nearest earlier version stored whole (a keyframe),
  so chains are 1 deep; a version INTERVALO_COPIA past its keyframe is stored
  whole, and no chunk is ever a delta deeper than PROFUNDIDADE_MAXIMA, so a
  restore reads a bounded number of chunks per chunk.

A delta only ever refers to chunks stored before it, so there are no cycles;
a decoder still refuses chains deeper than LIMITE_LEITURA (a forged blob).
"""

from __future__ import annotations

import bisect
import json
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import blake3

from ..erros import ErroBackup, ErroIntegridade, ErroObjetoCorrompido
from .tensores import Tensor, tensores_nomeados

if TYPE_CHECKING:
    from .backends import InfoObjeto
    from .blob import Codificador
    from .objetos import ArmazemObjetos

# Longest chain a backup makes (a cap: keyframes keep chains 1 deep, but a
# keyframe may hold a few delta chunks): a chunk whose bases are this deep is
# stored whole. A restore decodes at most this many extra chunks per chunk.
PROFUNDIDADE_MAXIMA = 2
# Deltas go against the nearest version stored whole (a keyframe), so chains
# are 1 deep; a version this many versions past its keyframe is stored whole
# (the XOR grows with the distance: docs/DESEMPENHO.md).
INTERVALO_COPIA = 8
AMOSTRAS_PROFUNDIDADE = 16  # chunks read to tell a keyframe from a delta version
# A decoder refuses deeper chains (no backup makes them: a forged blob).
LIMITE_LEITURA = 32
# A delta must be at most this share of the chunk stored whole: a small gain
# is not worth reading the base on every restore.
GANHO_MINIMO = 0.95
# Decoded base chunks kept in memory (a chunk's bases overlap its neighbours').
CACHE_BASES = 8 << 20
# A base read from a pack brings the blobs after it, up to this much (the next
# bases of the same file, stored in file order): one range read, not one per
# chunk (on S3, one GET per chunk would cap the restore).
LEITURA_ADIANTADA = 4 << 20
# A delta this much smaller than a sample of the chunk stored whole wins
# without compressing the whole chunk both ways (half the CPU of a v2).
FOLGA_AMOSTRA = 0.85
_AMOSTRA = 64 << 10

PREFIXO = "deltas/"
TIPO_REGISTRO = 5  # blob kind of a registry object (bound into the AAD)
_REFS = struct.Struct("<BBIH")  # version, depth, offset, number of bases
_VERSAO_REFS = 1


@dataclass(frozen=True)
class Refs:
    """The bases of a delta chunk: its content is its XOR with the
    concatenation of `bases` (decoded), from byte `deslocamento`."""

    profundidade: int
    deslocamento: int
    bases: tuple[str, ...]

    def codificar(self) -> bytes:
        corpo = _REFS.pack(
            _VERSAO_REFS, self.profundidade, self.deslocamento, len(self.bases)
        ) + b"".join(bytes.fromhex(b) for b in self.bases)
        return struct.pack("<I", len(corpo)) + corpo


def separar(payload: bytes | memoryview, nome: str) -> tuple[Refs, memoryview]:
    """(refs, rest) of a delta blob's decrypted payload; the rest is the XOR,
    encoded as the blob's other flags say."""
    v = memoryview(payload)
    try:
        (n,) = struct.unpack_from("<I", v)
        versao, prof, desl, k = _REFS.unpack_from(v, 4)
        if versao != _VERSAO_REFS or n != _REFS.size + 32 * k or k == 0:
            raise ValueError
        ids = v[4 + _REFS.size : 4 + n]
        if len(ids) != 32 * k:
            raise ValueError
    except (struct.error, ValueError):
        raise ErroObjetoCorrompido(
            f"{nome}: referências de delta inválidas (corrompido)", nome
        ) from None
    bases = tuple(bytes(ids[i : i + 32]).hex() for i in range(0, 32 * k, 32))
    return Refs(prof, desl, bases), v[4 + n :]


_np: Any = None  # numpy, imported on the first delta (startup: test_partida)


def xor(a: bytes | memoryview, b: bytes | memoryview) -> bytes:
    """a XOR b (same length)."""
    global _np
    if _np is None:
        try:
            import numpy
        except ImportError:  # optional: Python integers XOR at ~400 MB/s
            _np = False
        else:
            _np = numpy
    if _np:
        return _np.bitwise_xor(
            _np.frombuffer(a, _np.uint8), _np.frombuffer(b, _np.uint8)
        ).tobytes()
    n = len(a)
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(
        n, "little"
    )


class ResolvedorBases:
    """Reads the bases of delta chunks for the codec (one per repository):
    a small cache of decoded chunks, and the depth of each delta seen."""

    def __init__(self, armazem: ArmazemObjetos) -> None:
        self.armazem = armazem
        self._cache: OrderedDict[str, bytes | memoryview] = OrderedDict()
        self._bytes = 0
        self._trava = threading.Lock()
        self._profundidades: dict[str, int] = {}
        self._local = threading.local()
        # Read-ahead: stored blobs of chunks after a base in its pack, and
        # each pack's chunks in order (from its trailer).
        self._brutos: OrderedDict[str, bytes] = OrderedDict()
        self._bytes_brutos = 0
        self._trailers: dict[str, list[tuple[int, int, str]]] = {}

    def profundidade(self, id_bloco: str) -> int:
        """Chain depth of a chunk read through this resolver (0: whole)."""
        return self._profundidades.get(id_bloco, 0)

    def bloco(self, id_bloco: str) -> bytes | memoryview:
        with self._trava:
            dados = self._cache.get(id_bloco)
            if dados is not None:
                self._cache.move_to_end(id_bloco)
                return dados
        dados = self._ler(id_bloco)
        with self._trava:
            if id_bloco not in self._cache:
                self._cache[id_bloco] = dados
                self._bytes += len(dados)
                while self._bytes > CACHE_BASES and len(self._cache) > 1:
                    _, velho = self._cache.popitem(last=False)
                    self._bytes -= len(velho)
        return dados

    def _ler(self, id_bloco: str) -> bytes | memoryview:
        """A base chunk, decoded and checked: from a read-ahead when one has
        it (bases are read in order, one range read serves many), else by
        the store's own path (which also recovers from a stale index)."""
        with self._trava:
            bruto = self._brutos.pop(id_bloco, None)
            if bruto is not None:
                self._bytes_brutos -= len(bruto)
        if bruto is None:
            try:
                bruto = self._ler_adiantado(id_bloco)
            except (ErroBackup, ValueError):
                bruto = None
        if bruto is not None:
            try:
                return self.armazem.codificador.decodificar_bloco(id_bloco, bruto)
            except ErroObjetoCorrompido:
                pass
        return self.armazem.ler(id_bloco)

    def _ler_adiantado(self, id_bloco: str) -> bytes | None:
        """The blob of `id_bloco` and, kept for later, the blobs after it in
        its pack (up to LEITURA_ADIANTADA bytes): one range read."""
        from .pacote import chave_pacote  # pacote imports blob, which imports us

        arm = self.armazem
        loc = arm.indice.local(id_bloco)
        if loc is None:
            return None
        with self._trava:
            ordem = self._trailers.get(loc.pacote)
        if ordem is None:
            info = arm.backend.info(chave_pacote(loc.pacote))
            if info is None:
                return None
            trailer = arm.ler_trailer(loc.pacote, info.tamanho)
            ordem = sorted((x.deslocamento, x.tamanho, i) for i, x in trailer.items())
            with self._trava:
                if len(self._trailers) >= 64:
                    self._trailers.clear()
                self._trailers[loc.pacote] = ordem
        i = bisect.bisect_left(ordem, (loc.deslocamento,))
        if i >= len(ordem) or ordem[i] != (loc.deslocamento, loc.tamanho, id_bloco):
            return None
        j = i + 1
        while (
            j < len(ordem)
            and ordem[j][0] == ordem[j - 1][0] + ordem[j - 1][1]
            and ordem[j][0] + ordem[j][1] - loc.deslocamento <= LEITURA_ADIANTADA
        ):
            j += 1
        fim = ordem[j - 1][0] + ordem[j - 1][1]
        bruto = arm.backend.ler_intervalo(
            chave_pacote(loc.pacote), loc.deslocamento, fim - loc.deslocamento
        )
        if len(bruto) != fim - loc.deslocamento:
            return None
        with self._trava:
            for desl, n, outro in ordem[i + 1 : j]:
                if outro not in self._cache and outro not in self._brutos:
                    a = desl - loc.deslocamento
                    self._brutos[outro] = bruto[a : a + n]
                    self._bytes_brutos += n
            while self._bytes_brutos > CACHE_BASES and self._brutos:
                _, velho = self._brutos.popitem(last=False)
                self._bytes_brutos -= len(velho)
        return bruto[: loc.tamanho]

    def base(self, id_bloco: str, refs: Refs, n: int) -> bytes | memoryview:
        """The `n` base bytes of delta chunk `id_bloco`."""
        profundidade = getattr(self._local, "profundidade", 0)
        if (
            refs.profundidade > LIMITE_LEITURA
            or profundidade > LIMITE_LEITURA
            or id_bloco in refs.bases
        ):
            raise ErroObjetoCorrompido(
                f"bloco {id_bloco}: cadeia de deltas longa demais ou circular "
                "(corrompido)",
                id_bloco,
            )
        if len(self._profundidades) > 1 << 20:
            self._profundidades.clear()
        self._profundidades[id_bloco] = refs.profundidade
        self._local.profundidade = profundidade + 1
        try:
            partes = [self.bloco(b) for b in refs.bases]
        finally:
            self._local.profundidade = profundidade
        junto = partes[0] if len(partes) == 1 else b"".join(partes)
        base = memoryview(junto)[refs.deslocamento : refs.deslocamento + n]
        if len(base) != n:
            raise ErroObjetoCorrompido(
                f"bloco {id_bloco}: a base do delta é menor que o bloco (corrompido)",
                id_bloco,
            )
        return base


class ArquivoBlocos:
    """A stored file as a read-only, seekable file (just what the header
    readers of tensores.py use), fetching chunks on demand."""

    def __init__(
        self, resolvedor: ResolvedorBases, blocos: Iterable[tuple[str, int]]
    ) -> None:
        self.resolvedor = resolvedor
        self.blocos = list(blocos)
        self.inicios: list[int] = []
        total = 0
        for _, n in self.blocos:
            self.inicios.append(total)
            total += n
        self.tamanho = total
        self._pos = 0

    def trecho(self, inicio: int, n: int) -> tuple[Refs, bytes | memoryview]:
        """(refs of depth 0, bytes) of [inicio, inicio + n): the chunks covering it."""
        i = bisect.bisect_right(self.inicios, inicio) - 1
        j = i
        while self.inicios[j] + self.blocos[j][1] < inicio + n:
            j += 1
        ids = tuple(b for b, _ in self.blocos[i : j + 1])
        partes = [self.resolvedor.bloco(b) for b in ids]
        junto = partes[0] if len(partes) == 1 else b"".join(partes)
        desl = inicio - self.inicios[i]
        return Refs(0, desl, ids), memoryview(junto)[desl : desl + n]

    def read(self, n: int = -1) -> bytes:
        if n < 0 or self._pos + n > self.tamanho:
            n = self.tamanho - self._pos
        if n <= 0:
            return b""
        dados = bytes(self.trecho(self._pos, n)[1])
        self._pos += n
        return dados

    def seek(self, pos: int, de: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self.tamanho}[de]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True


Codificar = Callable[[memoryview], tuple[int, "bytes | memoryview"]]


class FonteDelta:
    """One file being backed up against the same file of an earlier version
    (its keyframe; `pai` below): which of its chunks have bytes there to be
    XORed with."""

    def __init__(
        self,
        codificador: Codificador,
        pai: ArquivoBlocos,
        mapa: list[tuple[int, int, int]],
        registrar: Callable[[str, tuple[str, ...]], None],
    ) -> None:
        self.codificador = codificador
        self.pai = pai
        self.mapa = mapa  # (start, end, parent start - start) of matched tensors
        self._inicios = [m[0] for m in mapa]
        self.registrar = registrar

    @classmethod
    def preparar(
        cls,
        codificador: Codificador,
        resolvedor: ResolvedorBases,
        arquivo: BinaryIO,
        cabeca: bytes | memoryview,
        tamanho: int,
        ancestrais: list[list[tuple[str, int]]],
        registrar: Callable[[str, tuple[str, ...]], None],
    ) -> FonteDelta | None:
        """Deltas against the nearest ancestor (parent first) stored whole,
        at most INTERVALO_COPIA - 1 versions back: a keyframe, so a restore
        reads one base per chunk. None (store whole: a new keyframe) when
        there is none that near, or no float tensor has the same key (name,
        dtype, shape) and size in both versions."""
        novos = tensores_nomeados(arquivo, cabeca, tamanho)
        if not novos:
            return None
        for blocos in ancestrais[: INTERVALO_COPIA - 1]:
            fonte = cls._contra(codificador, resolvedor, novos, blocos, registrar)
            if fonte is None:
                return None
            if fonte.profundidade_amostra() == 0:
                return fonte
        return None

    @classmethod
    def _contra(
        cls,
        codificador: Codificador,
        resolvedor: ResolvedorBases,
        novos: list[Tensor],
        blocos_pai: list[tuple[str, int]],
        registrar: Callable[[str, tuple[str, ...]], None],
    ) -> FonteDelta | None:
        if not blocos_pai:
            return None
        pai = ArquivoBlocos(resolvedor, blocos_pai)
        cab_pai = pai.read(64 << 10)
        if len(cab_pai) >= 8 and not cab_pai.startswith((b"PK", b"\x93NUMPY")):
            n = int.from_bytes(cab_pai[:8], "little")
            if len(cab_pai) < 8 + n <= min(pai.tamanho, 100 << 20):
                cab_pai += pai.read(8 + n - len(cab_pai))
        pai.seek(0)
        antigos: dict[str, Tensor] = {
            t.chave: t
            for t in tensores_nomeados(cast(BinaryIO, pai), cab_pai, pai.tamanho)
        }
        mapa = []
        for t in novos:
            a = antigos.get(t.chave)
            if a and a.fim - a.inicio == t.fim - t.inicio and a.elemento == t.elemento:
                mapa.append((t.inicio, t.fim, a.inicio - t.inicio))
        if not mapa:
            return None
        return cls(codificador, pai, mapa, registrar)

    def profundidade_amostra(self) -> int:
        """Largest chain depth of the ancestor's chunks in the middle of its
        largest matched tensors (a few reads, not the whole file)."""
        maiores = sorted(self.mapa, key=lambda m: m[0] - m[1])[:AMOSTRAS_PROFUNDIDADE]
        prof = 0
        for ini, fim, desl in maiores:
            refs, _ = self.pai.trecho((ini + fim) // 2 + desl, 1)
            prof = max(prof, *(self.pai.resolvedor.profundidade(b) for b in refs.bases))
        return prof

    def codificador_para(
        self, id_bloco: str, inicio: int, n: int, grupo: tuple[int, int]
    ) -> Codificar | None:
        """How to encode chunk [inicio, inicio + n) (called only when it is
        new): as a delta when most of it lies in a matched tensor."""
        i = bisect.bisect_right(self._inicios, inicio + n // 2) - 1
        if i < 0:
            return None
        ini, fim, desl = self.mapa[i]
        if 2 * (min(fim, inicio + n) - max(ini, inicio)) < n:
            return None
        origem = inicio + desl
        if origem < 0 or origem + n > self.pai.tamanho:
            return None

        def codificar(dados: memoryview) -> tuple[int, bytes | memoryview]:
            return self._codificar(id_bloco, dados, origem, grupo)

        return codificar

    def _codificar(
        self, id_bloco: str, dados: memoryview, origem: int, grupo: tuple[int, int]
    ) -> tuple[int, bytes | memoryview]:
        from .blob import FLAG_DELTA

        cod = self.codificador
        try:
            refs, base = self.pai.trecho(origem, len(dados))
        except ErroObjetoCorrompido:  # a damaged parent chunk: store it whole
            return cod.comprimir_agrupado(dados, *grupo)
        resolvedor = self.pai.resolvedor
        prof = 1 + max(resolvedor.profundidade(b) for b in refs.bases)
        if prof > PROFUNDIDADE_MAXIMA or id_bloco in refs.bases:
            return cod.comprimir_agrupado(dados, *grupo)
        flags, payload = cod.comprimir_agrupado(xor(dados, base), *grupo)
        refs = Refs(prof, refs.deslocamento, refs.bases)
        prefixo = refs.codificar()
        tamanho = len(prefixo) + len(payload)
        n = len(dados)
        if n > 2 * _AMOSTRA:
            # The whole chunk's ratio, from a sample (weights are uniform).
            amostra = cod.comprimir_agrupado(dados[:_AMOSTRA], *grupo)[1]
            estimado = len(amostra) / _AMOSTRA * n
            if tamanho <= FOLGA_AMOSTRA * GANHO_MINIMO * estimado:
                self.registrar(id_bloco, refs.bases)
                return flags | FLAG_DELTA, prefixo + bytes(payload)
        inteiro = cod.comprimir_agrupado(dados, *grupo)
        if tamanho > GANHO_MINIMO * len(inteiro[1]):
            return inteiro
        self.registrar(id_bloco, refs.bases)
        return flags | FLAG_DELTA, prefixo + bytes(payload)


# -- the registry: which chunks are deltas of which ------------------------------


def gravar_registro(armazem: ArmazemObjetos, deltas: dict[str, tuple[str, ...]]) -> str:
    """Write one registry object (before the pack holding those deltas)."""
    corpo = json.dumps(
        {"formato": 1, "deltas": {i: list(b) for i, b in sorted(deltas.items())}},
        separators=(",", ":"),
    ).encode()
    cod = armazem.codificador
    id_reg = blake3.blake3(corpo).hexdigest()
    partes = cod.codificar(
        corpo, TIPO_REGISTRO, bytes.fromhex(id_reg), sempre_tentar=True
    )
    armazem.backend.gravar(PREFIXO + id_reg, partes)
    return id_reg


def ler_registro(
    armazem: ArmazemObjetos,
) -> tuple[dict[str, tuple[str, ...]], list[InfoObjeto]]:
    """(delta chunk -> its bases, registry objects read). An unreadable one
    raises: the collection must not guess which bases are needed."""
    grafo: dict[str, tuple[str, ...]] = {}
    infos = list(armazem.backend.listar(PREFIXO))
    cod = armazem.codificador
    for info in infos:
        id_reg = info.chave[len(PREFIXO) :].rsplit("/", 1)[-1]
        try:
            dados = cod.decodificar(
                armazem.backend.ler(info.chave),
                TIPO_REGISTRO,
                bytes.fromhex(id_reg),
                info.chave,
            )
            if blake3.blake3(dados).hexdigest() != id_reg:
                raise ValueError("conteúdo não confere com o nome")
            doc: Any = json.loads(bytes(dados))
            for i, bases in doc["deltas"].items():
                grafo[str(i)] = tuple(str(b) for b in bases)
        except (ErroObjetoCorrompido, ValueError, KeyError, TypeError) as e:
            raise ErroIntegridade(
                f"registro de deltas {info.chave} ilegível ({e}); a limpeza não "
                "sabe quais blocos base são necessários. Nada foi apagado."
            ) from None
    return grafo, infos


def fechar(vivos: Iterable[str], grafo: dict[str, tuple[str, ...]]) -> set[str]:
    """`vivos` plus every base their deltas need, transitively."""
    fechado = set(vivos)
    pendentes = [i for i in fechado if i in grafo]
    while pendentes:
        for b in grafo[pendentes.pop()]:
            if b not in fechado:
                fechado.add(b)
                if b in grafo:
                    pendentes.append(b)
    return fechado


RECURSO = "deltas"  # the repository header's `recursos` entry


def pais_para_deltas(
    repo: Any, modelo: str, versao: str
) -> dict[str, list[list[tuple[str, int]]]]:
    """File name -> its chunks in `versao` of `modelo` and in the versions
    before it (parent first, up to INTERVALO_COPIA - 1), for a backup's
    deltas; {} when the repository does not have the feature on. The walk
    stops at a version that cannot be read (removed by retention)."""
    if RECURSO not in (repo.cabecalho.get("recursos") or []):
        return {}
    from ..erros import ErroBackup

    pais: dict[str, list[list[tuple[str, int]]]] = {}
    atual: str | None = versao
    for _ in range(INTERVALO_COPIA - 1):
        if atual is None:
            break
        try:
            sc = repo.ler_versao(modelo, atual)
        except ErroBackup:
            break
        for e in sc.entradas:
            if e.tipo == "arquivo":
                pais.setdefault(e.caminho, []).append(list(e.blocos))
        atual = sc.versao_anterior
    return pais
