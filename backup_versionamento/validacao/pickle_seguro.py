"""Static pickle scan: every global a pickle would import, found without importing it.

The scan drives the standard library's pure-Python unpickler with `find_class`
replaced by stand-ins (`_Fantasma`), so the opcode semantics (stack, marks, memo,
frames) are exactly the real unpickler's -- a naive opcode walk can be fooled by
stack tricks -- while no callable named by the file is ever resolved or called.
joblib's inline array payloads are skipped the way joblib reads them, and arrays of
objects (a nested pickle) are scanned recursively.

Standard library only: the sandboxed child loads this file by path to enforce the
same allow-list again inside the real unpickler (defense in depth).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import pickle
import re
import struct
import sys
import time
import zipfile
import zlib
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, TypeAlias

# The scan subclasses CPython's pure-Python unpickler, which is private API.
# Fail here, clearly, on a Python whose pickle module lacks a piece of it, rather
# than deep inside a scan (docs/VALIDACAO.md: why we keep it; pyproject.toml
# states the Python versions CI tests).
_PECAS_PRIVADAS = (
    "_Unpickler",
    "_Unpickler.dispatch",
    "_Unpickler.load_build",
    "_Unframer",
    "_Stop",
)


def _checar_pickle_privado() -> None:
    faltam = []
    for peca in _PECAS_PRIVADAS:
        alvo: Any = pickle
        for parte in peca.split("."):
            alvo = getattr(alvo, parte, None)
        if alvo is None:
            faltam.append(f"pickle.{peca}")
    if faltam:
        raise ImportError(
            "a varredura de pickles (validacao/pickle_seguro.py) depende de partes "
            f"internas do módulo pickle que este Python ({sys.version.split()[0]}, "
            f"{sys.implementation.name}) não tem: {', '.join(faltam)}. Use o CPython "
            "que o projeto suporta (requires-python no pyproject.toml) e veja "
            "docs/VALIDACAO.md"
        )


_checar_pickle_privado()

PERMITIDO = "permitido"
PERIGOSO = "perigoso"
DESCONHECIDO = "desconhecido"

CONTEXTO_GERAL = "geral"
CONTEXTO_TORCH = "torch"
CONTEXTO_TORCHSCRIPT = "torchscript"

# Large byte strings are skipped, not kept, so scanning a big model stays cheap.
_LIMITE_INLINE = 1 << 20
_LIMITE_OPERACOES = 20_000_000
_LIMITE_PROFUNDIDADE_ANINHADA = 8
_BLOCO = 1 << 20
# No legitimate read is larger (frames are ~64 KiB, big payloads are read in
# blocks); a bigger one would be a forged frame or line trying to exhaust memory.
_LIMITE_LEITURA = 64 << 20

# --- allow-list -------------------------------------------------------------------

_CLASSE = re.compile(r"_?[A-Z][A-Za-z0-9_]*")

_EXATOS: dict[str, frozenset[str]] = {
    "builtins": frozenset(
        {
            "set",
            "frozenset",
            "slice",
            "complex",
            "bytearray",
            "bytes",
            "list",
            "dict",
            "tuple",
            "object",
            "int",
            "float",
            "str",
            "bool",
            "range",
        }
    ),
    "_codecs": frozenset({"encode"}),
    "copyreg": frozenset({"_reconstructor"}),
    "collections": frozenset({"OrderedDict", "defaultdict", "deque", "Counter"}),
    "datetime": frozenset({"datetime", "date", "time", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "fractions": frozenset({"Fraction"}),
    "numpy": frozenset(
        {
            "ndarray",
            "dtype",
            "bool_",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "float16",
            "float32",
            "float64",
            "complex64",
            "complex128",
            "str_",
            "bytes_",
            "void",
            "datetime64",
            "timedelta64",
        }
    ),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy.core.numeric": frozenset({"_frombuffer"}),
    "numpy._core.numeric": frozenset({"_frombuffer"}),
    "numpy.ma.core": frozenset({"_mareconstruct", "MaskedArray"}),
    "numpy.random._pickle": frozenset(
        {
            "__randomstate_ctor",
            "__bit_generator_ctor",
            "__generator_ctor",
        }
    ),
    "numpy.random.bit_generator": frozenset(
        {
            "SeedSequence",
            "__pyx_unpickle_SeedSequence",
        }
    ),
    "numpy.random.mtrand": frozenset({"RandomState"}),
    "numpy.random._generator": frozenset({"Generator"}),
    "numpy.random._mt19937": frozenset({"MT19937"}),
    "numpy.random._pcg64": frozenset({"PCG64", "PCG64DXSM"}),
    "numpy.random._philox": frozenset({"Philox"}),
    "numpy.random._sfc64": frozenset({"SFC64"}),
    "joblib.numpy_pickle": frozenset({"NumpyArrayWrapper"}),
    "pandas._libs.internals": frozenset({"_unpickle_block"}),
    "pandas.core.indexes.base": frozenset({"_new_Index"}),
    "pandas._libs.tslibs.timestamps": frozenset({"_unpickle_timestamp"}),
}

# Packages whose classes (CamelCase names, no dots) are plain data holders:
# instantiating one and setting its state runs no code chosen by the file.
_PACOTES_DE_CLASSES = (
    "sklearn",
    "xgboost",
    "lightgbm",
    "numpy.dtypes",
    "pandas.core",
    "pandas._libs",
)
# Parts of those packages whose constructors touch the network, files or
# processes (trackers, cluster clients, dataset downloaders, test helpers).
_SUBPACOTES_EXCLUIDOS = (
    "xgboost.tracker",
    "xgboost.collective",
    "xgboost.dask",
    "xgboost.spark",
    "xgboost.federated",
    "xgboost.testing",
    "lightgbm.dask",
    "sklearn.datasets",
    "sklearn.utils._testing",
    "sklearn.externals",
    "sklearn.utils.parallel",
)
_SCIPY_ESPARSAS = re.compile(r"(csr|csc|coo|bsr|dia|dok|lil)_(matrix|array)")

_TORCH_EXATOS: dict[str, frozenset[str]] = {
    "torch._utils": frozenset(
        {
            "_rebuild_tensor",
            "_rebuild_tensor_v2",
            "_rebuild_tensor_v3",
            "_rebuild_parameter",
            "_rebuild_parameter_with_state",
            "_rebuild_qtensor",
            "_rebuild_sparse_tensor",
            "_rebuild_meta_tensor_no_storage",
            "_rebuild_nested_tensor",
            "_rebuild_wrapper_subclass",
        }
    ),
    "torch._tensor": frozenset({"_rebuild_from_type_v2", "Tensor"}),
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage"}),
    "torch.nn.parameter": frozenset({"Parameter", "Buffer"}),
    "torch.serialization": frozenset({"_get_layout"}),
    "torch": frozenset(
        {
            "Size",
            "device",
            "Tensor",
            "dtype",
            "float32",
            "float",
            "float64",
            "double",
            "float16",
            "half",
            "bfloat16",
            "complex64",
            "complex128",
            "uint8",
            "int8",
            "int16",
            "short",
            "int32",
            "int",
            "int64",
            "long",
            "bool",
            "strided",
            "sparse_coo",
            "sparse_csr",
            "contiguous_format",
            "channels_last",
            "preserve_format",
            "per_tensor_affine",
            "per_channel_affine",
            "float8_e4m3fn",
            "float8_e5m2",
            "uint16",
            "uint32",
            "uint64",
        }
    ),
}
_TORCH_STORAGE = re.compile(r"[A-Z][A-Za-z0-9]*Storage")

# Named only to word the report; anything outside the allow-list is refused anyway.
_MODULOS_PERIGOSOS = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "shutil",
        "socket",
        "runpy",
        "importlib",
        "pickle",
        "_pickle",
        "cPickle",
        "marshal",
        "ctypes",
        "pty",
        "code",
        "codeop",
        "commands",
        "webbrowser",
        "http",
        "urllib",
        "urllib2",
        "requests",
        "asyncio",
        "multiprocessing",
        "signal",
        "tempfile",
        "io",
        "_io",
        "operator",
        "functools",
        "types",
        "inspect",
        "ast",
        "platform",
        "glob",
        "zipimport",
        "pkgutil",
        "site",
        "sysconfig",
        "threading",
        "_thread",
        "ftplib",
        "smtplib",
        "telnetlib",
        "xmlrpc",
        "bdb",
        "pdb",
        "timeit",
        "trace",
        "profile",
        "cProfile",
        "pydoc",
        "distutils",
        "setuptools",
        "pip",
        "imp",
        "dill",
        "cloudpickle",
        "shelve",
        "dbm",
        "venv",
        "ensurepip",
        "sqlite3",
    }
)
_GLOBAIS_PERIGOSOS = frozenset(
    {
        "builtins.eval",
        "builtins.exec",
        "builtins.compile",
        "builtins.open",
        "builtins.getattr",
        "builtins.setattr",
        "builtins.delattr",
        "builtins.__import__",
        "builtins.globals",
        "builtins.locals",
        "builtins.vars",
        "builtins.input",
        "builtins.breakpoint",
        "builtins.exit",
        "builtins.quit",
        "builtins.help",
        "builtins.execfile",
        "builtins.apply",
        "builtins.file",
        "builtins.reload",
        "builtins.type",
        "numpy.testing._private.utils.runstring",
        "numpy.load",
        "numpy.core._ufunc_reconstruct",
        "numpy._core._ufunc_reconstruct",
        "torch.load",
        "torch.storage._load_from_bytes",
        "joblib.load",
    }
)
_PREFIXOS_PERIGOSOS = (
    "numpy.testing",
    "numpy.f2py",
    "numpy.distutils",
    "torch.hub",
    "torch.jit",
    "torch.package",
    "keras.src.saving",
)


def normalizar_global(modulo: str, nome: str) -> tuple[str, str]:
    """Apply the Python 2 name mapping the unpickler applies (e.g. __builtin__)."""
    if (modulo, nome) in NAME_MAPPING:
        return NAME_MAPPING[(modulo, nome)]
    return IMPORT_MAPPING.get(modulo, modulo), nome


def _perigoso(completo: str, modulo: str) -> bool:
    if completo in _GLOBAIS_PERIGOSOS:
        return True
    raiz = modulo.split(".")[0]
    if raiz in _MODULOS_PERIGOSOS or modulo in _MODULOS_PERIGOSOS:
        return True
    return any(
        completo == p or completo.startswith(p + ".") for p in _PREFIXOS_PERIGOSOS
    )


def _no_pacote(modulo: str, pacotes: Iterable[str]) -> bool:
    return any(modulo == p or modulo.startswith(p + ".") for p in pacotes)


def _extra_permite(completo: str, extras: Iterable[str]) -> bool:
    for e in extras:
        if e.endswith(".*"):
            if completo.startswith(e[:-1]):
                return True
        elif completo == e:
            return True
    return False


_EXTRA = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(\.\*)?")


def motivo_global_recusado(extra: str) -> str | None:
    """Why a user allow-list entry must be refused, or None when it is acceptable.

    An entry is "pkg.mod.Name" or "pkg.mod.*". It is refused when it names, or its
    wildcard covers, a global or module of the deny lists above: the scan would
    never honour it, and accepting it in silence would mislead the user.
    """
    if not _EXTRA.fullmatch(extra) or "." not in extra:
        return "use 'modulo.Nome' ou 'modulo.*'"
    curinga = extra.endswith(".*")
    partes = (extra[:-2] if curinga else extra).split(".")
    if curinga:
        modulo = IMPORT_MAPPING.get(".".join(partes), ".".join(partes))
        prefixo = modulo + "."
        if modulo.split(".")[0] in _MODULOS_PERIGOSOS or modulo in _MODULOS_PERIGOSOS:
            return f"o módulo {modulo} executa código ou acessa o sistema"
        cobertos = sorted(
            g
            for g in (*_GLOBAIS_PERIGOSOS, *_PREFIXOS_PERIGOSOS)
            if g.startswith(prefixo)
        )
        if cobertos:
            return f"cobre {', '.join(cobertos[:3])} (executam código)"
        if any(modulo == p or modulo.startswith(p + ".") for p in _PREFIXOS_PERIGOSOS):
            return f"{modulo} executa código ao carregar"
        return None
    # "a.b.c" may be module "a.b" + name "c" or module "a" + qualified name "b.c".
    for i in range(1, len(partes)):
        modulo, nome = normalizar_global(".".join(partes[:i]), ".".join(partes[i:]))
        completo = f"{modulo}.{nome}"
        if _perigoso(completo, modulo):
            return f"{completo} executa código ou acessa o sistema"
    return None


def classificar_global(
    modulo: str, nome: str, contexto: str = CONTEXTO_GERAL, extras: Iterable[str] = ()
) -> str:
    """PERMITIDO, PERIGOSO or DESCONHECIDO for the global `modulo.nome`.

    `extras` holds user additions ("pkg.mod.Classe" or "pkg.mod.*"); they can never
    allow a global this module knows to be dangerous.
    """
    modulo, nome = normalizar_global(modulo, nome)
    completo = f"{modulo}.{nome}"
    if _perigoso(completo, modulo):
        return PERIGOSO
    if nome in _EXATOS.get(modulo, ()):
        return PERMITIDO
    simples = "." not in nome
    if (
        simples
        and _CLASSE.fullmatch(nome)
        and _no_pacote(modulo, _PACOTES_DE_CLASSES)
        and not _no_pacote(modulo, _SUBPACOTES_EXCLUIDOS)
    ):
        return PERMITIDO
    if (
        simples
        and modulo.startswith("scipy.sparse")
        and _SCIPY_ESPARSAS.fullmatch(nome)
    ):
        return PERMITIDO
    if contexto in (CONTEXTO_TORCH, CONTEXTO_TORCHSCRIPT):
        if nome in _TORCH_EXATOS.get(modulo, ()):
            return PERMITIDO
        if modulo == "torch" and _TORCH_STORAGE.fullmatch(nome):
            return PERMITIDO
        if simples and _CLASSE.fullmatch(nome) and _no_pacote(modulo, ("torch.nn",)):
            return PERMITIDO
    if contexto == CONTEXTO_TORCHSCRIPT and modulo.startswith("__torch__") and simples:
        # TorchScript classes: resolved by the TorchScript loader, never imported.
        return PERMITIDO
    if _extra_permite(completo, extras):
        return PERMITIDO
    return DESCONHECIDO


# --- result -----------------------------------------------------------------------


@dataclass
class ResultadoVarredura:
    """What a scan found. `ok` is False whenever the file must not be loaded."""

    ok: bool = True
    serializacao: str = "pickle"
    compressao: str | None = None
    protocolo: int | None = None
    globais: dict[str, str] = field(default_factory=dict)
    problemas: list[str] = field(default_factory=list)
    avisos: list[str] = field(default_factory=list)
    arrays_joblib: int = 0
    ids_persistentes: list[list[Any]] = field(default_factory=list)
    operacoes: int = 0

    @property
    def perigosos(self) -> list[str]:
        return [g for g, c in self.globais.items() if c == PERIGOSO]

    @property
    def nao_permitidos(self) -> list[str]:
        return [g for g, c in self.globais.items() if c == DESCONHECIDO]

    def falhar(self, problema: str) -> None:
        self.ok = False
        if problema not in self.problemas:
            self.problemas.append(problema)

    def como_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "serializacao": self.serializacao,
            "compressao": self.compressao,
            "protocolo": self.protocolo,
            "globais": dict(self.globais),
            "perigosos": self.perigosos,
            "nao_permitidos": self.nao_permitidos,
            "problemas": list(self.problemas),
            "avisos": list(self.avisos),
            "arrays_joblib": self.arrays_joblib,
            "operacoes": self.operacoes,
        }


# Any readable binary stream: files, zip members, decompressors.
Fluxo: TypeAlias = "io.BufferedIOBase | IO[bytes]"


class ErroVarredura(Exception):
    """The stream cannot be scanned (truncated, malformed, too big, too slow)."""


# --- stand-ins --------------------------------------------------------------------


class _Fantasma:
    """Stand-in for any object a pickle builds: records, never executes."""

    _global = "?"
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    estado: Any

    def __new__(cls, *args: Any, **kwargs: Any) -> _Fantasma:
        obj = object.__new__(cls)
        obj.args = args
        obj.kwargs = kwargs
        obj.estado = None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, estado: Any) -> None:
        self.estado = estado

    # Containers built by REDUCE then filled by APPENDS/SETITEMS/ADDITEMS.
    def append(self, item: Any) -> None:
        pass

    def extend(self, itens: Any) -> None:
        pass

    def add(self, item: Any) -> None:
        pass

    def __setitem__(self, chave: Any, valor: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<{self._global}>"


class _Blob:
    """A large byte string that was skipped, not kept."""

    __slots__ = ("tamanho",)

    def __init__(self, tamanho: int) -> None:
        self.tamanho = tamanho


class _Leitor(io.RawIOBase):
    """File wrapper that enforces a deadline and counts bytes."""

    def __init__(self, base: Fluxo, prazo: float) -> None:
        super().__init__()
        self._base = base
        self._prazo = prazo
        self.lidos = 0

    def readable(self) -> bool:
        return True

    def _checar(self) -> None:
        if time.monotonic() > self._prazo:
            raise ErroVarredura("tempo esgotado durante a varredura do pickle")

    def read(self, n: int | None = -1) -> bytes:
        self._checar()
        if n is None or n < 0 or n > _LIMITE_LEITURA:
            raise ErroVarredura("bloco grande demais no pickle (quadro forjado?)")
        dados = self._base.read(n)
        self.lidos += len(dados)
        return dados

    def readline(self, limite: int | None = -1) -> bytes:
        self._checar()
        dados = self._base.readline(_LIMITE_LEITURA)
        if len(dados) >= _LIMITE_LEITURA:
            raise ErroVarredura("linha grande demais no pickle")
        self.lidos += len(dados)
        return dados

    def readinto(self, buf: Any) -> int:
        dados = self.read(len(buf))
        buf[: len(dados)] = dados
        return len(dados)


def _pular(ler: Any, n: int, oque: str) -> None:
    while n > 0:
        parte = ler(min(n, _BLOCO))
        if not parte:
            raise ErroVarredura(f"arquivo truncado: faltam {n} bytes de {oque}")
        n -= len(parte)


class _Varredor(pickle._Unpickler):
    """Pure-Python unpickler whose globals are stand-ins."""

    dispatch: ClassVar[dict[int, Any]] = dict(pickle._Unpickler.dispatch)

    def __init__(
        self,
        leitor: _Leitor,
        resultado: ResultadoVarredura,
        contexto: str,
        extras: tuple[str, ...],
        joblib: bool,
        profundidade: int = 0,
        secundario: bool = False,
    ) -> None:
        super().__init__(leitor, encoding="latin1")
        self._secundario = secundario
        self._leitor = leitor
        self._res = resultado
        self._contexto = contexto
        self._extras = extras
        self._joblib = joblib
        self._profundidade = profundidade
        self._classes: dict[str, type] = {}

    # Globals -------------------------------------------------------------------
    def find_class(self, module: str, name: str) -> Any:
        if not isinstance(module, str) or not isinstance(name, str):
            raise ErroVarredura("nome de global inválido")
        categoria = classificar_global(module, name, self._contexto, self._extras)
        modulo, nome = normalizar_global(module, name)
        completo = f"{modulo}.{nome}"
        if self._secundario:
            # Plain-pickle reading of a joblib file: array bytes parsed as opcodes,
            # so only a dangerous name (never found by accident) is meaningful.
            if categoria == PERIGOSO:
                self._res.globais[completo] = categoria
            return self._classe(completo)
        anterior = self._res.globais.get(completo)
        if anterior is None or anterior == PERMITIDO:
            self._res.globais[completo] = categoria
        if categoria == PERIGOSO:
            self._res.falhar(f"global perigoso {completo}")
        elif categoria == DESCONHECIDO:
            self._res.falhar(f"global fora da lista permitida {completo}")
        return self._classe(completo)

    def _classe(self, completo: str) -> type:
        classe = self._classes.get(completo)
        if classe is None:
            classe = type("Fantasma", (_Fantasma,), {"_global": completo})
            self._classes[completo] = classe
        return classe

    def persistent_load(self, pid: Any) -> Any:
        if self._contexto == CONTEXTO_GERAL:
            self._res.falhar(
                "pickle usa persistent_id, que só é aceito em arquivos PyTorch"
            )
        if isinstance(pid, tuple):
            self._res.ids_persistentes.append([_resumir(x) for x in pid])
        classe = type("Fantasma", (_Fantasma,), {"_global": "persistent_id"})
        return classe(pid)

    # Opcodes that would consult process state or hold big payloads -------------
    def _extensao(self) -> None:
        raise ErroVarredura(
            "pickle usa extensões copyreg (EXT1/EXT2/EXT4), não aceitas"
        )

    dispatch[pickle.EXT1[0]] = _extensao
    dispatch[pickle.EXT2[0]] = _extensao
    dispatch[pickle.EXT4[0]] = _extensao

    def _bytes_tamanho(self, formato: str, largura: int, texto: bool) -> None:
        bruto = self.read(largura)
        if len(bruto) != largura:
            raise ErroVarredura("arquivo truncado dentro do pickle")
        (n,) = struct.unpack(formato, bruto)
        if n > _LIMITE_INLINE:
            _pular(self.read, n, "um bloco de dados do pickle")
            self.append(_Blob(n))
            return
        dados = self.read(n)
        if len(dados) != n:
            raise ErroVarredura("arquivo truncado dentro do pickle")
        self.append(str(dados, "utf-8", "surrogatepass") if texto else dados)

    def _binbytes(self) -> None:
        self._bytes_tamanho("<I", 4, False)

    def _binbytes8(self) -> None:
        self._bytes_tamanho("<Q", 8, False)

    def _bytearray8(self) -> None:
        self._bytes_tamanho("<Q", 8, False)

    def _binunicode(self) -> None:
        self._bytes_tamanho("<I", 4, True)

    def _binunicode8(self) -> None:
        self._bytes_tamanho("<Q", 8, True)

    dispatch[pickle.BINBYTES[0]] = _binbytes
    dispatch[pickle.BINBYTES8[0]] = _binbytes8
    dispatch[pickle.BYTEARRAY8[0]] = _bytearray8
    dispatch[pickle.BINUNICODE[0]] = _binunicode
    dispatch[pickle.BINUNICODE8[0]] = _binunicode8

    # joblib: arrays are written raw right after the wrapper's BUILD -------------
    def _build(self) -> None:
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]
        topo = self.stack[-1] if self.stack else None
        if (
            self._joblib
            and isinstance(topo, _Fantasma)
            and topo._global == "joblib.numpy_pickle.NumpyArrayWrapper"
        ):
            self._payload_joblib(topo)

    dispatch[pickle.BUILD[0]] = _build

    def _payload_joblib(self, wrapper: _Fantasma) -> None:
        estado = wrapper.estado
        if not isinstance(estado, dict):
            raise ErroVarredura("array joblib sem estado legível")
        forma = estado.get("shape")
        if not isinstance(forma, tuple) or not all(
            isinstance(d, int) and d >= 0 for d in forma
        ):
            raise ErroVarredura("array joblib com forma inválida")
        itemsize, com_objetos = _tamanho_dtype(estado.get("dtype"))
        self._res.arrays_joblib += 1
        if com_objetos:
            if self._profundidade >= _LIMITE_PROFUNDIDADE_ANINHADA:
                raise ErroVarredura("arrays de objetos aninhados demais")
            interno = _Varredor(
                self._leitor,
                self._res,
                self._contexto,
                self._extras,
                self._joblib,
                self._profundidade + 1,
            )
            interno.load()
            return
        if estado.get("numpy_array_alignment_bytes") is not None:
            pad = self._leitor.read(1)
            if len(pad) != 1:
                raise ErroVarredura(
                    "arquivo truncado no alinhamento de um array joblib"
                )
            _pular(self._leitor.read, pad[0], "alinhamento de array")
        total = itemsize
        for d in forma:
            total *= d
        _pular(self._leitor.read, total, "um array numpy")

    # Main loop: the stdlib loop plus an operation budget ------------------------
    def load(self) -> Any:
        self._unframer = pickle._Unframer(  # type: ignore[attr-defined]
            self._leitor.read, self._leitor.readline
        )
        self.read = self._unframer.read
        self.readinto = self._unframer.readinto
        self.readline = self._unframer.readline
        self.metastack: list[Any] = []
        self.stack: list[Any] = []
        self.append = self.stack.append
        self.proto = 0
        read = self.read
        dispatch = self.dispatch
        try:
            while True:
                chave = read(1)
                if not chave:
                    raise ErroVarredura(
                        "arquivo truncado: o pickle termina antes de STOP"
                    )
                self._res.operacoes += 1
                if self._res.operacoes > _LIMITE_OPERACOES:
                    raise ErroVarredura(
                        "pickle grande demais para a varredura "
                        f"(mais de {_LIMITE_OPERACOES} operações)"
                    )
                funcao = dispatch.get(chave[0])
                if funcao is None:
                    raise ErroVarredura(
                        f"opcode desconhecido {chave!r}: pickle corrompido"
                    )
                funcao(self)
                if self._res.protocolo is None and self.proto:
                    self._res.protocolo = self.proto
        except pickle._Stop as parada:  # type: ignore[attr-defined]
            return parada.value


def _resumir(x: Any) -> Any:
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    if isinstance(x, _Fantasma):
        return x._global
    return type(x).__name__


def _tamanho_dtype(dtype: Any) -> tuple[int, bool]:
    """(itemsize, has objects) of a stand-in numpy.dtype, read from its reduce data."""
    if not isinstance(dtype, _Fantasma) or dtype._global not in (
        "numpy.dtype",
        "numpy.core.multiarray.dtype",
    ):
        raise ErroVarredura("array joblib com dtype não reconhecido")
    tipo = dtype.args[0] if dtype.args else None
    casamento = (
        re.fullmatch(r"[<>|=]?([A-Za-z])(\d*)", tipo) if isinstance(tipo, str) else None
    )
    if casamento is None:
        raise ErroVarredura(f"array joblib com dtype inválido {tipo!r}")
    estado = dtype.estado if isinstance(dtype.estado, tuple) else ()
    elsize = estado[5] if len(estado) > 5 and isinstance(estado[5], int) else -1
    flags = estado[7] if len(estado) > 7 and isinstance(estado[7], int) else 0
    com_objetos = casamento.group(1) == "O" or bool(flags & 1)
    if elsize > 0:
        return elsize, com_objetos
    if casamento.group(2):
        return int(casamento.group(2)), com_objetos
    raise ErroVarredura(f"array joblib com dtype sem tamanho {tipo!r}")


# --- entry points ------------------------------------------------------------------


def _executar(
    fluxo: Fluxo,
    res: ResultadoVarredura,
    contexto: str,
    extras: tuple[str, ...],
    joblib: bool,
    prazo: float,
) -> _Leitor:
    leitor = _Leitor(fluxo, prazo)
    try:
        _Varredor(leitor, res, contexto, extras, joblib).load()
    except ErroVarredura as e:
        res.falhar(str(e))
    except RecursionError:
        res.falhar("pickle aninhado demais para a varredura")
    except MemoryError:
        res.falhar("memória insuficiente para a varredura do pickle")
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        struct.error,
        UnicodeDecodeError,
        OSError,
        zlib.error,
        lzma.LZMAError,
    ) as e:
        res.falhar(f"pickle malformado ou truncado ({type(e).__name__}: {e})")
    return leitor


def varrer_fluxo(
    fluxo: Fluxo,
    *,
    contexto: str = CONTEXTO_GERAL,
    extras: Iterable[str] = (),
    joblib: bool = True,
    tempo_limite: float = 120.0,
) -> ResultadoVarredura:
    """Scan one pickle from `fluxo` (positioned at its first byte)."""
    res = ResultadoVarredura()
    _executar(
        fluxo, res, contexto, tuple(extras), joblib, time.monotonic() + tempo_limite
    )
    return res


_PREFIXOS_COMPRESSAO = (
    (b"ZF", "zfile"),
    (b"\x78", "zlib"),
    (b"\x1f\x8b", "gzip"),
    (b"BZ", "bz2"),
    (b"\xfd\x37\x7a\x58\x5a", "xz"),
    (b"\x5d\x00", "lzma"),
    (b"\x04\x22\x4d\x18", "lz4"),
)


def detectar_compressao(cabecalho: bytes) -> str | None:
    """joblib's own rule: the compressor is told by the file's first bytes."""
    for prefixo, nome in _PREFIXOS_COMPRESSAO:
        if cabecalho.startswith(prefixo):
            return nome
    return None


class _ZlibLeitor(io.RawIOBase):
    def __init__(self, base: Fluxo) -> None:
        super().__init__()
        self._base = base
        self._d = zlib.decompressobj(15)
        self._pendente = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        while not self._pendente:
            if self._d.eof:
                return 0
            entrada = self._d.unconsumed_tail or self._base.read(_BLOCO)
            if not entrada:
                raise ErroVarredura(
                    "arquivo truncado: o fluxo zlib termina antes do fim"
                )
            self._pendente = self._d.decompress(entrada, max(len(buf), 1))
        n = min(len(buf), len(self._pendente))
        buf[:n] = self._pendente[:n]
        self._pendente = self._pendente[n:]
        return n


def abrir_descomprimido(bruto: IO[bytes], compressao: str | None) -> Fluxo:
    """Decompressing reader for joblib's compressors (the raw stream otherwise)."""
    if compressao is None:
        return bruto
    if compressao == "zlib":
        return io.BufferedReader(_ZlibLeitor(bruto))
    if compressao == "gzip":
        return gzip.GzipFile(fileobj=bruto, mode="rb")
    if compressao == "bz2":
        return bz2.BZ2File(bruto, "rb")
    if compressao == "xz":
        return lzma.LZMAFile(bruto, "rb", format=lzma.FORMAT_XZ)
    if compressao == "lzma":
        return lzma.LZMAFile(bruto, "rb", format=lzma.FORMAT_ALONE)
    if compressao == "lz4":
        try:
            import lz4.frame
        except ImportError:
            raise ErroVarredura(
                "compressão lz4 exige o pacote lz4, que não está "
                "instalado: o conteúdo não pôde ser verificado"
            ) from None
        return lz4.frame.LZ4FrameFile(bruto, "rb")
    raise ErroVarredura(
        f"formato de compressão {compressao} não suportado (joblib anterior a 0.10)"
    )


def _leitura_comum(
    fluxo: Fluxo, res: ResultadoVarredura, contexto: str, prazo: float
) -> None:
    """Scan a joblib file again as plain `pickle.load` would read it.

    joblib reads array bytes raw after a NumpyArrayWrapper; pickle.load would parse
    them as opcodes. A file can therefore look harmless to joblib and run code
    under pickle.load: every dangerous global on that second path is reported.
    """
    aux = ResultadoVarredura()
    # Array bytes read as opcodes end in some error sooner or later: expected.
    with contextlib.suppress(Exception):
        _Varredor(
            _Leitor(fluxo, prazo), aux, contexto, (), False, secundario=True
        ).load()
    for completo in aux.perigosos:
        res.globais[completo] = PERIGOSO
        res.falhar(
            f"um array joblib esconde o global perigoso {completo}, que seria "
            "executado por pickle.load"
        )


def varrer_arquivo_pickle(
    caminho: Path,
    *,
    extras: Iterable[str] = (),
    tempo_limite: float = 120.0,
    contexto: str = CONTEXTO_GERAL,
) -> ResultadoVarredura:
    """Scan a pickle or joblib file (plain or compressed) without loading it."""
    res = ResultadoVarredura()
    prazo = time.monotonic() + tempo_limite
    with open(caminho, "rb") as bruto:
        cabecalho = bruto.read(8)
        bruto.seek(0)
        if not cabecalho:
            res.falhar("arquivo vazio")
            return res
        res.compressao = detectar_compressao(cabecalho)
        try:
            fluxo = abrir_descomprimido(bruto, res.compressao)
        except ErroVarredura as e:
            res.falhar(str(e))
            return res
        leitor = _executar(fluxo, res, contexto, tuple(extras), True, prazo)
        if res.arrays_joblib or res.compressao:
            res.serializacao = "joblib"
        if res.ok:
            try:
                sobra = leitor.read(1)
            except (OSError, EOFError, zlib.error, lzma.LZMAError, ErroVarredura) as e:
                res.falhar(f"dados corrompidos após o fim do pickle ({e})")
            else:
                if sobra:
                    res.avisos.append(
                        "há dados depois do fim do pickle (ignorados ao carregar)"
                    )
        if res.arrays_joblib:
            bruto.seek(0)
            _leitura_comum(
                abrir_descomprimido(bruto, res.compressao), res, contexto, prazo
            )
    return res


def _zip_seguro(nomes: Iterable[str]) -> list[str]:
    return [n for n in nomes if n.startswith(("/", "\\")) or ".." in Path(n).parts]


def varrer_zip_torch(
    caminho: Path, *, extras: Iterable[str] = (), tempo_limite: float = 120.0
) -> ResultadoVarredura:
    """Scan every pickle inside a PyTorch zip archive (data.pkl, constants.pkl...)."""
    res = ResultadoVarredura(serializacao="torch")
    prazo = time.monotonic() + tempo_limite
    try:
        with zipfile.ZipFile(caminho) as z:
            nomes = z.namelist()
            ruins = _zip_seguro(nomes)
            if ruins:
                res.falhar(f"nomes de arquivo inseguros no zip: {ruins[:3]}")
            pkls = [n for n in nomes if n.endswith("data.pkl")]
            if not pkls:
                res.falhar("arquivo zip sem data.pkl: não é um checkpoint PyTorch")
                return res
            torchscript = any("/code/" in n for n in nomes) or any(
                n.endswith("/constants.pkl") for n in nomes
            )
            if torchscript:
                res.serializacao = "torchscript"
            contexto = CONTEXTO_TORCHSCRIPT if torchscript else CONTEXTO_TORCH
            for nome in nomes:
                if not nome.endswith(".pkl") or nome.endswith(".debug_pkl"):
                    continue
                with z.open(nome) as membro:
                    antes = len(res.problemas)
                    _executar(membro, res, contexto, tuple(extras), False, prazo)
                    for i in range(antes, len(res.problemas)):
                        res.problemas[i] = f"{nome}: {res.problemas[i]}"
    except zipfile.BadZipFile as e:
        res.falhar(f"zip corrompido ({e})")
    except (OSError, EOFError, zlib.error) as e:
        res.falhar(f"zip ilegível ({type(e).__name__}: {e})")
    return res


def varrer_torch_legado(
    caminho: Path, *, extras: Iterable[str] = (), tempo_limite: float = 120.0
) -> ResultadoVarredura:
    """Legacy torch.save format: five pickles in a row, then raw storages."""
    res = ResultadoVarredura(serializacao="torch_legado")
    prazo = time.monotonic() + tempo_limite
    with open(caminho, "rb") as f:
        for _ in range(5):
            _executar(f, res, CONTEXTO_TORCH, tuple(extras), False, prazo)
            if not res.ok:
                break
    return res
