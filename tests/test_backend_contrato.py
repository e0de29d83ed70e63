"""The backend contract: every backend (memory, local folder, later S3) passes it.

The `backend` fixture runs each contract test on every factory of
`backends_fabricas.FABRICAS`, bare and wrapped in BackendComRetentativas (the
wrapper must not change the contract). Local-only tests use real mounts: a
tmpfs remounted read-only, a 1 MiB tmpfs that fills up, a process SIGKILLed
midway through a write.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backup_versionamento.armazenamento.backends import (
    Backend,
    BackendComFalhas,
    BackendComRetentativas,
    BackendLocal,
    BackendMemoria,
    InfoObjeto,
    Partes,
    validar_chave,
)
from backup_versionamento.armazenamento.backends.base import BackendEnvolto
from backup_versionamento.armazenamento.backends.reivindicacao import (
    BackendCriacaoSondada,
    BackendSemCondicional,
    sondar_criacao_condicional,
)
from backup_versionamento.erros import (
    ErroChaveAusente,
    ErroEspacoInsuficiente,
    ErroIntegridade,
    ErroNaoSuportado,
    ErroPermissao,
    ErroRepositorio,
    ErroTransitorio,
)

from .backends_fabricas import DEFEITUOSAS, FABRICAS
from .conftest import RAIZ

CHAVES_INVALIDAS = [
    "",
    "/a",
    "a/",
    "a//b",
    ".",
    "..",
    "a/./b",
    "a/../b",
    "../fora",
    ".oculto",
    "a/.b.tmp",
    "a\\b",
    "a\0b",
]


def _sem_espera(_segundos: float) -> None:
    """Retries in the contract tests must not slow the suite down."""


@pytest.fixture(
    params=[(nome, envolver) for envolver in (False, True) for nome in FABRICAS],
    ids=lambda p: p[0] + ("+retentativas" if p[1] else ""),
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    nome, envolver = request.param
    with FABRICAS[nome](tmp_path) as interno:
        if envolver:
            yield BackendComRetentativas(interno, dormir=_sem_espera)
        else:
            yield interno


def _chaves(backend: Backend, prefixo: str) -> list[str]:
    return sorted(i.chave for i in backend.listar(prefixo))


# --- the contract ---------------------------------------------------------------


def test_atributos(backend: Backend) -> None:
    assert backend.somente_leitura is False
    assert isinstance(backend.exclusao_real, bool)
    assert backend.descrever()


def test_criacao_condicional_declarada_ou_sondada(backend: Backend) -> None:
    """A backend that declares conditional create honors it; one that does not
    know is probed, and every backend here passes the probe (the ones that
    ignore If-None-Match are wrapped by the claim protocol)."""
    assert backend.criacao_condicional in (True, None)
    assert sondar_criacao_condicional(backend) is True
    assert _chaves(backend, "") == []


def _mais_interno(backend: Backend) -> Backend:
    while isinstance(backend, BackendEnvolto):
        backend = backend.interno
    return backend


def _capacidades(backend: Backend, *, recusa_exclusivo: bool = False) -> None:
    """The capabilities a store may lack are still in the protocol (no getattr):
    conditional create honored (or refused clearly), `limpar_temporarios` never
    touches a key, `restringir` keeps writes working and drops "others" where
    there are modes, `pasta_local` is the folder that holds the keys or None."""
    backend.gravar("pacotes/ab/x", b"dados")
    assert backend.criacao_condicional in (True, None)
    if recusa_exclusivo:
        with pytest.raises(ErroNaoSuportado):
            backend.gravar("travas/t", b"1", exclusivo=True)
        assert not backend.existe("travas/t")
    else:
        assert backend.gravar("travas/t", b"1", exclusivo=True) is True
        assert backend.gravar("travas/t", b"2", exclusivo=True) is False
        assert backend.ler("travas/t") == b"1"
    n, total = backend.limpar_temporarios(0.0)
    assert isinstance(n, int) and isinstance(total, int) and n >= 0 and total >= 0
    assert backend.ler("pacotes/ab/x") == b"dados"
    backend.restringir()
    backend.gravar("pacotes/ab/y", b"mais")
    assert backend.ler("pacotes/ab/y") == b"mais"
    pasta = backend.pasta_local
    assert (pasta is not None) == isinstance(_mais_interno(backend), BackendLocal)
    if pasta is not None:
        assert (pasta / "pacotes" / "ab" / "x").read_bytes() == b"dados"
        assert (pasta / "pacotes" / "ab" / "y").stat().st_mode & 0o007 == 0


def test_capacidades_do_protocolo(backend: Backend) -> None:
    _capacidades(backend)


@pytest.mark.parametrize("fabrica", sorted(DEFEITUOSAS))
def test_capacidades_em_loja_defeituosa(fabrica: str, tmp_path: Path) -> None:
    """The stores that ignore If-None-Match or list late keep the same protocol;
    both at once refuse exclusive create (the probe cannot trust it)."""
    with DEFEITUOSAS[fabrica](tmp_path) as loja:
        _capacidades(
            loja, recusa_exclusivo=fabrica == "sem_condicional+listagem_atrasada"
        )


def test_limpar_temporarios_remove_restos_e_nada_mais(backend: Backend) -> None:
    """A writer killed mid-write leaves a hidden temp in a folder: the cleanup
    removes it (counted, with its bytes) and no key; without a folder (memory,
    S3 without stale uploads) there is nothing to remove."""
    backend.gravar("pacotes/ab/x", b"dados")
    pasta = backend.pasta_local
    if pasta is None:
        assert backend.limpar_temporarios(0.0) == (0, 0)
    else:
        resto = pasta / "pacotes" / "ab" / ".x.0123456789abcdef.tmp"
        resto.write_bytes(b"12345")
        os.utime(resto, (time.time() - 3600, time.time() - 3600))
        assert backend.limpar_temporarios(60.0) == (1, 5)
        assert not resto.exists()
    assert _chaves(backend, "") == ["pacotes/ab/x"]
    assert backend.ler("pacotes/ab/x") == b"dados"


def test_sonda_acha_servidor_que_ignora_escrita_condicional(tmp_path: Path) -> None:
    cru = BackendComFalhas(BackendSemCondicional(BackendMemoria()))
    assert cru.criacao_condicional is None
    assert sondar_criacao_condicional(cru) is False
    assert _chaves(cru, "") == []
    # Probed once per endpoint and bucket, the answer kept on this machine.
    cache = tmp_path / "estado" / "sondas.json"
    b = BackendCriacaoSondada(cru, cache=cache, chave_cache="http://x balde")
    assert b.capaz() is False and b.criacao_condicional is True
    assert json.loads(cache.read_text()) == {"http://x balde": False}
    antes = cru.gravacoes
    outro = BackendCriacaoSondada(cru, cache=cache, chave_cache="http://x balde")
    assert outro.capaz() is False and cru.gravacoes == antes  # no new probe
    assert outro.gravar("a", b"1", exclusivo=True) is True
    assert outro.gravar("a", b"2", exclusivo=True) is False
    assert outro.ler("a") == b"1"
    # A real conditional store needs no probe at all.
    local = BackendComFalhas(BackendMemoria())
    assert BackendCriacaoSondada(local).capaz() is True and local.gravacoes == 0


def test_ida_e_volta_bytes(backend: Backend) -> None:
    assert backend.gravar("modelos/m/1.0.0.json", b'{"a": 1}') is True
    assert backend.ler("modelos/m/1.0.0.json") == b'{"a": 1}'
    assert backend.gravar("b", bytearray(b"xyz")) is True
    assert backend.ler("b") == b"xyz"
    assert isinstance(backend.ler("b"), bytes)


def test_ida_e_volta_partes(backend: Backend) -> None:
    dados = os.urandom(100_000)
    partes = [memoryview(dados)[i : i + 7_000] for i in range(0, len(dados), 7_000)]
    assert backend.gravar("pacotes/ab/p1", partes) is True
    assert backend.ler("pacotes/ab/p1") == dados
    # More parts than one writev takes (IOV_MAX = 1024 on Linux).
    muitas = [bytes([i % 256]) * 3 for i in range(3_000)]
    assert backend.gravar("pacotes/ab/p2", muitas) is True
    assert backend.ler("pacotes/ab/p2") == b"".join(muitas)
    mistas = [b"cab", bytearray(b"e\x00"), memoryview(b"corpo"), b""]
    backend.gravar("pacotes/ab/p3", mistas)
    assert backend.ler("pacotes/ab/p3") == b"cabe\x00corpo"


def test_bytes_copiados_na_gravacao(backend: Backend) -> None:
    buffer = bytearray(b"original")
    backend.gravar("k", buffer)
    buffer[:] = b"mudado!!"
    assert backend.ler("k") == b"original"


def test_objeto_vazio(backend: Backend) -> None:
    assert backend.gravar("vazio", b"") is True
    assert backend.gravar("vazio2", []) is True
    assert backend.ler("vazio") == b""
    assert backend.ler("vazio2") == b""
    assert backend.ler_intervalo("vazio", 0, 0) == b""
    info = backend.info("vazio")
    assert info is not None and info.tamanho == 0
    assert _chaves(backend, "") == ["vazio", "vazio2"]


def test_objeto_grande(backend: Backend) -> None:
    dados = os.urandom(20 * 1024 * 1024)
    assert backend.gravar("pacotes/ff/grande", dados) is True
    assert backend.ler("pacotes/ff/grande") == dados
    meio = 10 * 1024 * 1024 + 17
    assert (
        backend.ler_intervalo("pacotes/ff/grande", meio, 5_000_000)
        == (dados[meio : meio + 5_000_000])
    )
    info = backend.info("pacotes/ff/grande")
    assert info is not None and info.tamanho == len(dados)


def test_ler_ausente(backend: Backend) -> None:
    backend.gravar("modelos/m/1.0.0.json", b"x")
    for chave in ("modelos/m/2.0.0.json", "nada", "modelos/m/1.0.0.json/sub"):
        with pytest.raises(ErroChaveAusente) as e:
            backend.ler(chave)
        assert e.value.chave == chave
        assert isinstance(e.value, ErroIntegridade)
    # A "folder" of keys is not a key.
    with pytest.raises(ErroChaveAusente):
        backend.ler("modelos/m")
    assert backend.info("modelos/m") is None
    assert backend.existe("modelos/m") is False


def test_ler_intervalo(backend: Backend) -> None:
    dados = bytes(range(256)) * 40
    backend.gravar("p", dados)
    assert backend.ler_intervalo("p", 0, 10) == dados[:10]
    assert backend.ler_intervalo("p", 1000, 333) == dados[1000:1333]
    assert backend.ler_intervalo("p", len(dados) - 7, 7) == dados[-7:]
    assert backend.ler_intervalo("p", 0, len(dados)) == dados
    assert backend.ler_intervalo("p", len(dados), 0) == b""
    for inicio, tamanho in ((len(dados) - 6, 7), (len(dados) + 1, 0), (0, 10**9)):
        with pytest.raises(ErroIntegridade) as e:
            backend.ler_intervalo("p", inicio, tamanho)
        assert not isinstance(e.value, ErroChaveAusente)
    with pytest.raises(ErroChaveAusente) as ausente:
        backend.ler_intervalo("ausente", 0, 1)
    assert ausente.value.chave == "ausente"
    with pytest.raises(ValueError):
        backend.ler_intervalo("p", -1, 1)
    with pytest.raises(ValueError):
        backend.ler_intervalo("p", 0, -1)


def test_criacao_exclusiva(backend: Backend) -> None:
    assert backend.gravar("modelos/m/1.0.0.json", b"primeiro", exclusivo=True)
    assert not backend.gravar("modelos/m/1.0.0.json", b"segundo", exclusivo=True)
    assert backend.ler("modelos/m/1.0.0.json") == b"primeiro"
    assert _chaves(backend, "") == ["modelos/m/1.0.0.json"]


def test_corrida_de_criacao_exclusiva(backend: Backend) -> None:
    n = 8
    conteudos = [bytes([i]) * (50_000 + i) for i in range(n)]
    largada = threading.Barrier(n)
    resultados: list[bool | None] = [None] * n

    def corredor(i: int) -> None:
        largada.wait()
        resultados[i] = backend.gravar("travas/repo", conteudos[i], exclusivo=True)

    threads = [
        threading.Thread(target=corredor, args=(i,), name=f"corrida-{i}")
        for i in range(n)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert resultados.count(True) == 1, resultados
    assert resultados.count(False) == n - 1
    vencedor = resultados.index(True)
    assert backend.ler("travas/repo") == conteudos[vencedor]
    assert _chaves(backend, "") == ["travas/repo"]


@pytest.mark.parametrize("fabrica", sorted(DEFEITUOSAS))
def test_corrida_exclusiva_em_loja_defeituosa(fabrica: str, tmp_path: Path) -> None:
    """A store ignoring If-None-Match, listing lazily, or both: one racer wins
    and its bytes stay, or every racer is refused clearly and nothing is kept."""
    n = 6
    largada = threading.Barrier(n)
    resultados: list[object] = [None] * n
    with DEFEITUOSAS[fabrica](tmp_path) as loja:

        def corredor(i: int) -> None:
            largada.wait()
            try:
                resultados[i] = loja.gravar(
                    "travas/repo", bytes([i]) * 9, exclusivo=True
                )
            except ErroNaoSuportado as e:
                resultados[i] = e

        threads = [threading.Thread(target=corredor, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        if fabrica == "sem_condicional+listagem_atrasada":
            assert all(isinstance(r, ErroNaoSuportado) for r in resultados), resultados
            assert "If-None-Match" in str(resultados[0])
            assert "único escritor" in str(resultados[0])
            assert not loja.existe("travas/repo")
        else:
            assert resultados.count(True) == 1 and resultados.count(False) == n - 1
            assert loja.ler("travas/repo") == bytes([resultados.index(True)]) * 9


def test_sobrescrita(backend: Backend) -> None:
    assert backend.gravar("estado", b"um valor longo")
    assert backend.gravar("estado", b"dois")
    assert backend.ler("estado") == b"dois"
    info = backend.info("estado")
    assert info is not None and info.tamanho == 4
    assert _chaves(backend, "") == ["estado"]


def test_sobrescrita_atomica_para_leitores(backend: Backend) -> None:
    a, b = b"a" * 300_000, b"b" * 200_000
    backend.gravar("k", a)
    vistos: set[bytes] = set()
    fim = threading.Event()

    def leitor() -> None:
        while not fim.is_set():
            vistos.add(backend.ler("k"))

    t = threading.Thread(target=leitor, name="leitor-contrato")
    t.start()
    try:
        for i in range(40):
            backend.gravar("k", b if i % 2 == 0 else a)
    finally:
        fim.set()
        t.join(30)
    assert vistos <= {a, b}


def test_info_e_existe(backend: Backend) -> None:
    assert backend.info("modelos/m/1.0.0.json") is None
    assert backend.existe("modelos/m/1.0.0.json") is False
    antes = time.time()
    backend.gravar("modelos/m/1.0.0.json", b"12345")
    info = backend.info("modelos/m/1.0.0.json")
    assert info == InfoObjeto("modelos/m/1.0.0.json", 5, info.modificado)
    assert antes - 5 <= info.modificado <= time.time() + 5
    assert backend.existe("modelos/m/1.0.0.json") is True


def test_listar_prefixo_de_texto(backend: Backend) -> None:
    chaves = {
        "modelos/a/1.json": b"1",
        "modelos/a/sub/2.json": b"22",
        "modelos/ab/x": b"333",
        "modelos/b/1.json": b"4444",
        "modelosx": b"5",
        "pacotes/00/p": b"66",
    }
    for chave, dados in chaves.items():
        backend.gravar(chave, dados)
    assert _chaves(backend, "modelos/a") == [
        "modelos/a/1.json",
        "modelos/a/sub/2.json",
        "modelos/ab/x",
    ]
    assert _chaves(backend, "modelos/a/") == [
        "modelos/a/1.json",
        "modelos/a/sub/2.json",
    ]
    assert _chaves(backend, "modelos/") == [
        "modelos/a/1.json",
        "modelos/a/sub/2.json",
        "modelos/ab/x",
        "modelos/b/1.json",
    ]
    assert _chaves(backend, "modelos") == [*_chaves(backend, "modelos/"), "modelosx"]
    assert _chaves(backend, "") == sorted(chaves)
    assert _chaves(backend, "pacotes/00/p") == ["pacotes/00/p"]
    assert _chaves(backend, "pacotes/0") == ["pacotes/00/p"]
    for prefixo in ("nada", "modelos/c", "pacotes/00/p/", "/", "../", ".", "a//"):
        assert _chaves(backend, prefixo) == []
    tamanhos = {i.chave: i.tamanho for i in backend.listar("")}
    assert tamanhos == {k: len(v) for k, v in chaves.items()}


def test_listar_muitas_chaves(backend: Backend) -> None:
    chaves = [f"pacotes/{i % 64:02x}/{i:06d}" for i in range(2_500)]
    with ThreadPoolExecutor(8) as executor:
        assert all(executor.map(lambda c: backend.gravar(c, c.encode()), chaves))
    listadas = [i.chave for i in backend.listar("")]
    assert len(listadas) == len(chaves)
    assert sorted(listadas) == sorted(chaves)
    assert _chaves(backend, "pacotes/0a/") == sorted(
        c for c in chaves if c.startswith("pacotes/0a/")
    )


def test_apagar(backend: Backend) -> None:
    backend.gravar("modelos/m/1.0.0.json", b"x")
    backend.gravar("modelos/m/1.0.0.fixada", b"")
    backend.apagar("modelos/m/1.0.0.json")
    assert backend.existe("modelos/m/1.0.0.json") is False
    with pytest.raises(ErroChaveAusente):
        backend.ler("modelos/m/1.0.0.json")
    assert _chaves(backend, "") == ["modelos/m/1.0.0.fixada"]
    backend.apagar("modelos/m/1.0.0.json")  # again: fine
    backend.apagar("nunca/existiu")
    backend.apagar("modelos/m")  # a "folder" is not a key: nothing happens
    assert _chaves(backend, "") == ["modelos/m/1.0.0.fixada"]
    # An exclusive create works again after the delete.
    assert backend.gravar("modelos/m/1.0.0.json", b"y", exclusivo=True)


@pytest.mark.parametrize("chave", CHAVES_INVALIDAS)
def test_chaves_invalidas(backend: Backend, chave: str) -> None:
    operacoes: list[Callable[[], object]] = [
        lambda: backend.ler(chave),
        lambda: backend.ler_intervalo(chave, 0, 1),
        lambda: backend.gravar(chave, b"x"),
        lambda: backend.gravar(chave, b"x", exclusivo=True),
        lambda: backend.info(chave),
        lambda: backend.existe(chave),
        lambda: backend.apagar(chave),
    ]
    for operacao in operacoes:
        with pytest.raises(ValueError):
            operacao()
    assert _chaves(backend, "") == []


def test_nomes_unicode(backend: Backend) -> None:
    chaves = [
        "modelos/modelo_ção í.h5/1.0.0.json",
        "modelos/日本語 модель (v2)/2.0.0.json",
        "modelos/espaço e emoji 🎯/0.1.0.json",
    ]
    for i, chave in enumerate(chaves):
        assert backend.gravar(chave, f"conteúdo {i}".encode(), exclusivo=True)
    for i, chave in enumerate(chaves):
        assert backend.ler(chave) == f"conteúdo {i}".encode()
        assert backend.existe(chave)
    assert _chaves(backend, "") == sorted(chaves)
    assert _chaves(backend, "modelos/modelo_ç") == [chaves[0]]


def test_validar_chave() -> None:
    for chave in ("a", "a/b/c", "modelos/x.h5/1.0.0.json", "a b/ç", "a..b/c."):
        assert validar_chave(chave) == chave
    for chave in CHAVES_INVALIDAS:
        with pytest.raises(ValueError):
            validar_chave(chave)


def test_memoria_envelhecer() -> None:
    b = BackendMemoria()
    b.gravar("k", b"x")
    info = b.info("k")
    assert info is not None
    b.envelhecer("k", 3600)
    depois = b.info("k")
    assert depois is not None and depois.modificado == pytest.approx(
        info.modificado - 3600
    )
    assert [i.modificado for i in b.listar("")] == [depois.modificado]
    with pytest.raises(ErroChaveAusente):
        b.envelhecer("ausente", 1)
    b.somente_leitura = True
    with pytest.raises(ErroPermissao):
        b.gravar("k2", b"x")
    assert b.ler("k") == b"x"


# --- local folder only ----------------------------------------------------------


def _ocultos(raiz: Path) -> list[str]:
    """Temp files or anything hidden left under the folder."""
    return [
        os.path.join(pasta, nome)
        for pasta, dirs, arquivos in os.walk(raiz)
        for nome in dirs + arquivos
        if nome.startswith(".")
    ]


def test_local_sem_temporarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raiz = tmp_path / "repo"
    local = BackendLocal(raiz)
    assert not raiz.exists() and local.somente_leitura is False
    local.gravar("modelos/m/1.0.0.json", b"um", exclusivo=True)
    local.gravar("modelos/m/1.0.0.json", b"outro", exclusivo=True)  # lost: False
    local.gravar("estado", b"a")
    local.gravar("estado", b"b")
    assert _ocultos(raiz) == []

    # Failures injected by the wrapper leave nothing behind.
    falhas = BackendComFalhas(local)
    falhas.falhar_gravacao(1, ErroRepositorio("disco sumiu"))
    with pytest.raises(ErroRepositorio, match="disco sumiu"):
        falhas.gravar("pacotes/aa/p1", b"x" * 1000)
    falhas.truncar_gravacao(1, 10)
    with pytest.raises(ErroRepositorio, match="interrompida"):
        falhas.gravar("pacotes/aa/p2", b"x" * 1000)
    assert not local.existe("pacotes/aa/p1") and not local.existe("pacotes/aa/p2")

    # Failures inside the write itself (fsync at the OS boundary): temp removed,
    # the earlier object intact, and an interrupt still propagates.
    fsync_real = os.fsync

    def fsync_interrompido(fd: int) -> None:
        raise KeyboardInterrupt

    def fsync_eio(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync_interrompido)
    with pytest.raises(KeyboardInterrupt):
        local.gravar("estado", b"novo" * 1000)
    with pytest.raises(KeyboardInterrupt):
        local.gravar("pacotes/bb/p3", b"novo", exclusivo=True)
    monkeypatch.setattr(os, "fsync", fsync_eio)
    with pytest.raises(ErroRepositorio) as e:
        local.gravar("modelos/m/2.0.0.json", b"novo", exclusivo=True)
    assert "modelos/m/2.0.0.json" in str(e.value)
    monkeypatch.setattr(os, "fsync", fsync_real)

    assert _ocultos(raiz) == []
    assert local.ler("estado") == b"b"
    assert _chaves(local, "") == ["estado", "modelos/m/1.0.0.json"]
    assert local.ler("modelos/m/1.0.0.json") == b"um"


_SCRIPT_MORTE = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from backup_versionamento.armazenamento.backends import BackendComFalhas, BackendLocal

raiz, etapa = Path(sys.argv[2]), sys.argv[3]
backend = BackendComFalhas(BackendLocal(raiz))

def morrer(*_):
    os.kill(os.getpid(), signal.SIGKILL)

def gancho(chave):
    if chave != "modelos/m/3.json":
        return
    if etapa == "antes":
        morrer()
    else:  # die after the temp file is written, before it gets its name
        os.fsync = morrer

backend.antes_de_gravar(gancho)
for i in (1, 2, 3):
    backend.gravar(f"modelos/m/{i}.json", b"v%d" % i * 1000, exclusivo=True)
"""


@pytest.mark.parametrize("etapa", ["antes", "durante"])
def test_local_morte_no_meio_da_gravacao(tmp_path: Path, etapa: str) -> None:
    raiz = tmp_path / "repo"
    r = subprocess.run(
        [sys.executable, "-c", _SCRIPT_MORTE, str(RAIZ), str(raiz), etapa],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == -signal.SIGKILL, r.stderr
    restos = _ocultos(raiz)
    if etapa == "durante":
        assert len(restos) == 1 and restos[0].endswith(".tmp"), restos
    else:
        assert restos == []
    local = BackendLocal(raiz)
    assert _chaves(local, "") == ["modelos/m/1.json", "modelos/m/2.json"]
    assert local.ler("modelos/m/2.json") == b"v2" * 1000
    with pytest.raises(ErroChaveAusente):
        local.ler("modelos/m/3.json")
    assert local.gravar("modelos/m/3.json", b"v3", exclusivo=True)
    assert local.ler("modelos/m/3.json") == b"v3"


def test_local_listar_rapido_e_sem_ocultos(tmp_path: Path) -> None:
    raiz = tmp_path / "repo"
    esperadas = []
    for i in range(10_500):
        chave = f"pacotes/{i % 256:02x}/{i:06d}"
        if i < 256:
            os.makedirs(raiz / os.path.dirname(chave))
        os.close(os.open(raiz / chave, os.O_WRONLY | os.O_CREAT, 0o644))
        esperadas.append(chave)
    # Hidden names and temp files are never keys.
    (raiz / ".oculta").mkdir()
    (raiz / ".oculta" / "x").write_bytes(b"x")
    (raiz / "pacotes" / "00" / ".000000.abc.tmp").write_bytes(b"meio")
    local = BackendLocal(raiz)
    inicio = time.perf_counter()
    listadas = [i.chave for i in local.listar("")]
    duracao = time.perf_counter() - inicio
    assert sorted(listadas) == sorted(esperadas)
    assert duracao < 1.0, f"listar de 10.500 chaves levou {duracao:.2f} s"


def test_local_nomes_longos_e_conflitos(tmp_path: Path) -> None:
    local = BackendLocal(tmp_path / "repo")
    longo = "modelos/" + "ç" * 127 + "/1.0.0.json"  # a 254-byte folder name
    assert local.gravar(longo, b"x", exclusivo=True)
    nome_255 = "modelos/m/" + "a" * 255  # the longest file name: temp name shortened
    assert local.gravar(nome_255, b"y")
    assert _chaves(local, "modelos/") == sorted([longo, nome_255])
    # A key where a "folder" of keys is, and vice versa: a clear error, no traceback.
    with pytest.raises(ErroRepositorio) as e:
        local.gravar("modelos/m", b"z")
    assert "modelos/m" in str(e.value)
    with pytest.raises(ErroRepositorio) as e:
        local.gravar("modelos/m/" + "a" * 255 + "/sub", b"z")
    assert _ocultos(tmp_path / "repo") == []


def test_local_somente_leitura_declarado(tmp_path: Path) -> None:
    BackendLocal(tmp_path / "repo").gravar("a/b", b"x")
    local = BackendLocal(tmp_path / "repo", somente_leitura=True)
    assert local.somente_leitura is True
    with pytest.raises(ErroPermissao):
        local.gravar("a/c", b"y")
    with pytest.raises(ErroPermissao):
        local.apagar("a/b")
    assert local.ler("a/b") == b"x"
    assert _chaves(local, "") == ["a/b"]


@contextlib.contextmanager
def _tmpfs(pasta: Path, tamanho: str) -> Iterator[Path]:
    """A real tmpfs mounted on `pasta` (root with mount rights), unmounted after."""
    pasta.mkdir(parents=True)
    try:
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={tamanho},mode=0755", "tmpfs", pasta],
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        pytest.skip("comando mount ausente")
    if r.returncode != 0:
        pytest.skip(f"mount tmpfs não permitido aqui: {r.stderr.strip()}")
    try:
        yield pasta
    finally:
        if subprocess.run(["umount", pasta], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", pasta], capture_output=True)


_DADOS_RO = {"modelos/m/1.0.0.json": b"sidecar", "pacotes/ab/p": os.urandom(5000)}


def _preencher(raiz: Path) -> None:
    local = BackendLocal(raiz)
    for chave, dados in _DADOS_RO.items():
        assert local.gravar(chave, dados, exclusivo=True)


def _conferir_somente_leitura(raiz: Path) -> None:
    """What a read-only repository must still do, and what it must refuse."""
    local = BackendLocal(raiz)
    assert local.somente_leitura is True
    assert _chaves(local, "") == sorted(_DADOS_RO)
    for chave, dados in _DADOS_RO.items():
        assert local.ler(chave) == dados
        assert local.existe(chave)
    assert (
        local.ler_intervalo("pacotes/ab/p", 100, 50)
        == _DADOS_RO["pacotes/ab/p"][100:150]
    )
    for backend in (local, BackendLocal(raiz, somente_leitura=False)):
        for chave in ("modelos/m/2.0.0.json", "novo/pasta/k"):
            with pytest.raises(ErroPermissao) as e:
                backend.gravar(chave, b"x", exclusivo=True)
            assert chave in str(e.value)
        with pytest.raises(ErroPermissao):
            backend.apagar("modelos/m/1.0.0.json")
    assert _chaves(local, "") == sorted(_DADOS_RO)


def test_local_montagem_somente_leitura(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "ro", "4m") as raiz:
        _preencher(raiz)
        subprocess.run(["mount", "-o", "remount,ro", raiz], check=True)
        _conferir_somente_leitura(raiz)


def test_local_pasta_sem_permissao_de_escrita() -> None:
    """Without a mount: a 0555 folder seen by a non-root process (forked + setuid)."""
    with tempfile.TemporaryDirectory() as temp:
        raiz = Path(temp) / "repo"
        _preencher(raiz)
        os.chmod(temp, 0o755)
        for pasta, _dirs, arquivos in os.walk(raiz):
            os.chmod(pasta, 0o555)
            for nome in arquivos:
                os.chmod(os.path.join(pasta, nome), 0o444)
        try:
            if os.geteuid() == 0:
                _em_processo_sem_root(lambda: _conferir_somente_leitura(raiz))
            else:
                _conferir_somente_leitura(raiz)
        finally:
            for pasta, _dirs, _arquivos in os.walk(raiz):
                os.chmod(pasta, 0o755)


def _em_processo_sem_root(funcao: Callable[[], None]) -> None:
    """Run `funcao` in a forked child as user nobody; re-raise its failure here."""
    leitura, escrita = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        codigo = 0
        try:
            os.close(leitura)
            os.setgid(65534)
            os.setuid(65534)
            funcao()
        except BaseException as e:
            os.write(escrita, repr(e).encode()[:4000])
            codigo = 1
        finally:
            os._exit(codigo)
    os.close(escrita)
    with os.fdopen(leitura, "rb") as f:
        mensagem = f.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, mensagem


def test_local_disco_cheio(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "cheio", "1m") as raiz:
        local = BackendLocal(raiz)
        guardados: dict[str, bytes] = {}
        with pytest.raises(ErroEspacoInsuficiente) as e:
            for i in range(100):
                chave = f"pacotes/{i:02d}/p"
                dados = os.urandom(64 * 1024)
                local.gravar(chave, dados, exclusivo=True)
                guardados[chave] = dados
        falhou = f"pacotes/{len(guardados):02d}/p"
        assert falhou in str(e.value)
        assert 5 <= len(guardados) <= 16
        assert not local.existe(falhou)
        assert _ocultos(raiz) == []
        assert _chaves(local, "") == sorted(guardados)
        for chave, dados in guardados.items():
            assert local.ler(chave) == dados
        # An overwrite that does not fit keeps the old object whole.
        primeira = next(iter(guardados))
        with pytest.raises(ErroEspacoInsuficiente):
            local.gravar(primeira, os.urandom(2 * 1024 * 1024))
        assert local.ler(primeira) == guardados[primeira]
        # Freeing space makes the next write work.
        local.apagar(primeira)
        local.apagar(next(iter(list(guardados)[1:])))
        assert local.gravar(falhou, b"cabe agora", exclusivo=True)
        assert _ocultos(raiz) == []


# --- the retry wrapper ----------------------------------------------------------


class _Instavel:
    """A double of the INNER backend: a memory backend whose calls fail on demand.

    `falhas[op]` transient failures before each successful call of `op`;
    `resposta_perdida` makes the next gravar write, then lose the answer.
    """

    def __init__(self) -> None:
        self.real = BackendMemoria()
        self.somente_leitura = False
        self.exclusao_real = False
        self.falhas: dict[str, int] = {}
        self.chamadas: dict[str, int] = {}
        self.erros: list[ErroTransitorio] = []
        self.resposta_perdida = False

    def _talvez_falhar(self, op: str) -> None:
        self.chamadas[op] = self.chamadas.get(op, 0) + 1
        if self.falhas.get(op, 0) > 0:
            self.falhas[op] -= 1
            erro = ErroTransitorio(f"{op}: 503 SlowDown #{len(self.erros)}")
            self.erros.append(erro)
            raise erro

    def descrever(self) -> str:
        return "instável"

    def ler(self, chave: str) -> bytes:
        self._talvez_falhar("ler")
        return self.real.ler(chave)

    def ler_intervalo(self, chave: str, inicio: int, tamanho: int) -> bytes:
        self._talvez_falhar("ler_intervalo")
        return self.real.ler_intervalo(chave, inicio, tamanho)

    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        self._talvez_falhar("gravar")
        gravou = self.real.gravar(chave, partes, exclusivo=exclusivo)
        if self.resposta_perdida:
            self.resposta_perdida = False
            raise ErroTransitorio("gravar: conexão reiniciada antes da resposta")
        return gravou

    def info(self, chave: str) -> InfoObjeto | None:
        self._talvez_falhar("info")
        return self.real.info(chave)

    def existe(self, chave: str) -> bool:
        self._talvez_falhar("existe")
        return self.real.existe(chave)

    def listar(self, prefixo: str) -> Iterator[InfoObjeto]:
        self._talvez_falhar("listar")
        for n, info in enumerate(self.real.listar(prefixo)):
            if n == 2 and self.falhas.get("listar_meio", 0) > 0:
                self.falhas["listar_meio"] -= 1
                raise ErroTransitorio("listar: conexão caiu na página 2")
            yield info

    def apagar(self, chave: str) -> None:
        self._talvez_falhar("apagar")
        self.real.apagar(chave)


def _com_retentativas(
    interno: Backend,
    *,
    tentativas: int = 5,
    espera_inicial: float = 0.05,
    espera_maxima: float = 2.0,
) -> tuple[BackendComRetentativas, list[float]]:
    """The wrapper with its sleeps recorded instead of slept."""
    esperas: list[float] = []
    backend = BackendComRetentativas(
        interno,
        tentativas=tentativas,
        espera_inicial=espera_inicial,
        espera_maxima=espera_maxima,
        dormir=esperas.append,
    )
    return backend, esperas


def test_retentativas_repetem_cada_operacao() -> None:
    interno = _Instavel()
    interno.real.gravar("a/1", b"um")
    interno.real.gravar("a/2", b"dois")
    backend, esperas = _com_retentativas(
        interno, espera_inicial=0.1, espera_maxima=0.15
    )
    for op in ("ler", "ler_intervalo", "gravar", "info", "existe", "listar", "apagar"):
        interno.falhas[op] = 2
    assert backend.ler("a/1") == b"um"
    assert backend.ler_intervalo("a/2", 1, 3) == b"ois"
    assert backend.gravar("a/3", [b"tr", b"es"]) is True
    assert backend.info("a/3") == interno.real.info("a/3")
    assert backend.existe("a/3") is True
    assert sorted(i.chave for i in backend.listar("a/")) == ["a/1", "a/2", "a/3"]
    backend.apagar("a/1")
    assert not interno.real.existe("a/1")
    assert all(interno.chamadas[op] == 3 for op in interno.falhas)
    # Full jitter: each wait in [0, min(max, initial * 2**try)].
    assert len(esperas) == 14
    for i, espera in enumerate(esperas):
        assert 0 <= espera <= min(0.15, 0.1 * 2 ** (i % 2))


def test_retentativas_esgotadas_levantam_o_ultimo_erro() -> None:
    interno = _Instavel()
    interno.falhas["ler"] = 10
    backend, esperas = _com_retentativas(interno, tentativas=4)
    with pytest.raises(ErroTransitorio) as e:
        backend.ler("k")
    assert e.value is interno.erros[-1]
    assert interno.chamadas["ler"] == 4
    assert len(esperas) == 3


def test_retentativas_nao_repetem_outros_erros() -> None:
    interno = _Instavel()
    backend, esperas = _com_retentativas(interno)
    with pytest.raises(ErroChaveAusente):
        backend.ler("ausente")
    interno.real.somente_leitura = True
    with pytest.raises(ErroPermissao):
        backend.gravar("k", b"x")
    with pytest.raises(ValueError):
        backend.gravar("../k", b"x")
    assert interno.chamadas == {"ler": 1, "gravar": 1}
    assert esperas == []


def test_retentativas_listar_sem_duplicatas() -> None:
    interno = _Instavel()
    for i in range(6):
        interno.real.gravar(f"k/{i}", b"x")
    interno.falhas["listar_meio"] = 1
    backend, esperas = _com_retentativas(interno)
    chaves = [i.chave for i in backend.listar("k/")]
    assert sorted(chaves) == [f"k/{i}" for i in range(6)]
    assert len(esperas) == 1


def test_retentativas_exclusiva_com_resposta_perdida() -> None:
    interno = _Instavel()
    backend, _ = _com_retentativas(interno)
    # Our first attempt landed but its answer was lost: the retry finds our bytes.
    interno.resposta_perdida = True
    partes = [memoryview(b"sidecar "), b"1.0.0"]
    assert backend.gravar("modelos/m/1.0.0.json", partes, exclusivo=True) is True
    assert interno.chamadas["gravar"] == 2
    assert interno.real.ler("modelos/m/1.0.0.json") == b"sidecar 1.0.0"
    # Someone else's object after a transient failure: still False, untouched.
    interno.real.gravar("modelos/m/1.1.0.json", b"do outro")
    interno.falhas["gravar"] = 1
    assert backend.gravar("modelos/m/1.1.0.json", b"meu", exclusivo=True) is False
    assert interno.real.ler("modelos/m/1.1.0.json") == b"do outro"
    # Same length, different bytes: not ours either.
    interno.real.gravar("modelos/m/1.2.0.json", b"abc")
    interno.falhas["gravar"] = 1
    assert backend.gravar("modelos/m/1.2.0.json", b"abd", exclusivo=True) is False
    # No failure at all: an existing object is simply False, not read back.
    leituras = interno.chamadas.get("ler", 0)
    assert backend.gravar("modelos/m/1.0.0.json", partes, exclusivo=True) is False
    assert interno.chamadas.get("ler", 0) == leituras


# --- the fault-injection wrapper -------------------------------------------------


def test_falhas_gravacao_n_esima_e_contadores() -> None:
    falhas = BackendComFalhas(BackendMemoria())
    falhas.falhar_gravacao(2, ErroTransitorio("injetado"))
    falhas.falhar_gravacao(4, OSError(errno.EIO, "E/S"))
    assert falhas.gravar("k/1", b"12345")
    with pytest.raises(ErroTransitorio, match="injetado"):
        falhas.gravar("k/2", b"12345")
    assert falhas.gravar("k/3", b"123")
    with pytest.raises(OSError):
        falhas.gravar("k/4", b"1")
    assert not falhas.gravar("k/1", b"xx", exclusivo=True)
    assert _chaves(falhas, "") == ["k/1", "k/3"]
    assert falhas.gravacoes == 5
    assert falhas.bytes_gravados == 8  # failed and lost writes do not count
    falhas.ler("k/1")
    falhas.ler_intervalo("k/3", 0, 1)
    assert falhas.leituras == 2
    # "From now": counted from the current write.
    falhas.falhar_gravacao(1, ErroRepositorio("próxima"))
    with pytest.raises(ErroRepositorio, match="próxima"):
        falhas.gravar("k/5", b"x")
    with pytest.raises(ValueError):
        falhas.falhar_gravacao(0, ErroRepositorio("x"))


@pytest.mark.parametrize("fabrica", sorted(FABRICAS))
def test_falhas_truncar(fabrica: str, tmp_path: Path) -> None:
    with FABRICAS[fabrica](tmp_path) as interno:
        falhas = BackendComFalhas(interno)
        falhas.truncar_gravacao(1, 4)
        with pytest.raises(ErroRepositorio, match="interrompida"):
            falhas.gravar("pacotes/aa/p", [b"0123", b"456789"])
        assert not interno.existe("pacotes/aa/p")  # an atomic store shows nothing
        falhas.truncar_gravacao(1, 4, visivel=True)
        with pytest.raises(ErroRepositorio):
            falhas.gravar("pacotes/aa/p", [b"01", b"23456789"])
        assert interno.ler("pacotes/aa/p") == b"0123"  # a non-atomic store's crash
        assert falhas.gravar("pacotes/aa/q", b"inteiro")
        assert interno.ler("pacotes/aa/q") == b"inteiro"
        if isinstance(interno, BackendLocal):
            assert _ocultos(interno.raiz) == []


def test_falhas_sem_espaco() -> None:
    memoria = BackendMemoria()
    falhas = BackendComFalhas(memoria)
    falhas.sem_espaco_apos(100)
    assert falhas.gravar("a", b"x" * 60)
    with pytest.raises(ErroEspacoInsuficiente) as e:
        falhas.gravar("modelos/m/1.0.0.json", b"x" * 60)
    assert "modelos/m/1.0.0.json" in str(e.value)
    assert not memoria.existe("modelos/m/1.0.0.json")
    assert falhas.gravar("b", b"x" * 40)  # exactly the budget
    with pytest.raises(ErroEspacoInsuficiente):
        falhas.gravar("c", b"x")
    assert falhas.bytes_gravados == 100
    falhas.sem_espaco_apos(None)
    assert falhas.gravar("c", b"x")


def test_falhas_leitura() -> None:
    memoria = BackendMemoria()
    memoria.gravar("pacotes/aa/p", b"dados")
    memoria.gravar("indices/i", b"indice")
    falhas = BackendComFalhas(memoria)
    falhas.falhar_leitura("pacotes/", ErroIntegridade("pacote ilegível"))
    for ler in (
        lambda: falhas.ler("pacotes/aa/p"),
        lambda: falhas.ler_intervalo("pacotes/aa/p", 0, 2),
    ):
        with pytest.raises(ErroIntegridade, match="ilegível"):
            ler()
    assert falhas.ler("indices/i") == b"indice"
    falhas.falhar_leitura("pacotes/", None)
    assert falhas.ler("pacotes/aa/p") == b"dados"
    # A limited number of times: the retry wrapper gets through.
    falhas.falhar_leitura("pacotes/", ErroTransitorio("lento"), vezes=2)
    backend, esperas = _com_retentativas(falhas)
    assert backend.ler_intervalo("pacotes/aa/p", 1, 3) == b"ado"
    assert len(esperas) == 2
    assert falhas.leituras == 7


def test_falhas_gancho_antes_de_gravar() -> None:
    memoria = BackendMemoria()
    falhas = BackendComFalhas(memoria)
    vistas: list[str] = []

    def gancho(chave: str) -> None:
        vistas.append(chave)
        if chave.endswith(".json"):
            raise KeyboardInterrupt  # a stage where the test stops the process

    falhas.antes_de_gravar(gancho)
    falhas.gravar("pacotes/aa/p", b"x")
    falhas.gravar("indices/i", b"y")
    with pytest.raises(KeyboardInterrupt):
        falhas.gravar("modelos/m/1.0.0.json", b"z")
    assert vistas == ["pacotes/aa/p", "indices/i", "modelos/m/1.0.0.json"]
    assert not memoria.existe("modelos/m/1.0.0.json")
    falhas.antes_de_gravar(None)
    assert falhas.gravar("modelos/m/1.0.0.json", b"z")
    assert vistas == ["pacotes/aa/p", "indices/i", "modelos/m/1.0.0.json"]


def test_falhas_entre_threads() -> None:
    falhas = BackendComFalhas(BackendMemoria())
    falhas.falhar_gravacao(123, ErroTransitorio("uma só"))
    erros: list[BaseException] = []

    def escritor(t: int) -> None:
        for i in range(50):
            try:
                falhas.gravar(f"t{t}/{i}", b"abc")
            except ErroTransitorio as e:
                erros.append(e)

    with ThreadPoolExecutor(8) as executor:
        list(executor.map(escritor, range(8)))
    assert falhas.gravacoes == 400
    assert len(erros) == 1
    assert falhas.bytes_gravados == 399 * 3
    assert len(list(falhas.listar(""))) == 399
