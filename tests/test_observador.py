"""The watcher and its debouncer: one request per finished save, never a torn file."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backup_versionamento.automacao.estabilizador import Estabilizador
from backup_versionamento.automacao.filtro import FiltroModelos
from backup_versionamento.automacao.observador import Observador, planejar_vigias

from .ajuda_automacao import esperar, sem_threads_novas  # noqa: F401 - autouse fixture

SILENCIO = 0.5


class Liberados:
    """Collects released models with the SHA-256 of their bytes at release time."""

    def __init__(self) -> None:
        self.itens: list[tuple[Path, str]] = []
        self._trava = threading.Lock()

    def __call__(self, modelo: Path) -> None:
        digest = (
            "pasta"
            if modelo.is_dir()
            else hashlib.sha256(modelo.read_bytes()).hexdigest()
        )
        with self._trava:
            self.itens.append((modelo, digest))

    @property
    def caminhos(self) -> list[Path]:
        with self._trava:
            return [c for c, _ in self.itens]


class Montagem:
    def __init__(self, pasta: Path, repo: Path) -> None:
        self.pasta = pasta
        self.liberados = Liberados()
        self.estabilizador = Estabilizador(SILENCIO, self.liberados)
        self.filtro = FiltroModelos([".h5", ".pkl", ".pb"], ["temp_*", "*.tmp"], [repo])
        self.observador = Observador([pasta], self.filtro, self.estabilizador)

    def iniciar(self) -> None:
        self.estabilizador.iniciar()
        self.observador.iniciar()

    def parar(self) -> None:
        self.observador.parar()
        self.estabilizador.parar()

    def calmo(self, segundos: float = 1.5) -> None:
        """Wait long enough for anything pending to have been released."""
        time.sleep(segundos)
        esperar(lambda: not self.estabilizador.pendentes(), mensagem="nada pendente")


@pytest.fixture
def montagem(tmp_path: Path) -> Iterator[Montagem]:
    pasta = tmp_path / "modelos"
    (pasta / "repo" / "objetos" / "ab").mkdir(parents=True)
    (pasta / "outra").mkdir()
    m = Montagem(pasta, pasta / "repo")
    m.iniciar()
    yield m
    m.parar()


def test_escrita_em_tres_etapas_gera_um_pedido_com_o_conteudo_final(
    montagem: Montagem,
) -> None:
    modelo = montagem.pasta / "rede.h5"
    partes = [os.urandom(300_000) for _ in range(3)]
    with open(modelo, "wb") as f:
        for parte in partes:
            f.write(parte)
            f.flush()
            os.fsync(f.fileno())
            time.sleep(SILENCIO * 1.6)  # longer than the quiet period: still open
        assert montagem.liberados.caminhos == []
    esperar(lambda: montagem.liberados.caminhos, mensagem="liberação")
    montagem.calmo()
    assert montagem.liberados.itens == [
        (modelo, hashlib.sha256(b"".join(partes)).hexdigest())
    ]


def test_temporario_renomeado_gera_um_pedido_do_nome_final(montagem: Montagem) -> None:
    final = montagem.pasta / "rede.h5"
    temp = montagem.pasta / "rede.h5.tmp"
    dados = os.urandom(500_000)
    with open(temp, "wb") as f:
        f.write(dados[:200_000])
        time.sleep(0.2)
        f.write(dados[200_000:])
    os.replace(temp, final)
    esperar(lambda: montagem.liberados.caminhos, mensagem="liberação")
    montagem.calmo()
    assert montagem.liberados.itens == [(final, hashlib.sha256(dados).hexdigest())]


def test_padroes_ignorados_e_extensoes_estranhas(montagem: Montagem) -> None:
    (montagem.pasta / "temp_rede.h5").write_bytes(b"x" * 100)
    (montagem.pasta / "rede.h5.tmp").write_bytes(b"x" * 100)
    (montagem.pasta / "notas.md").write_bytes(b"x" * 100)
    (montagem.pasta / "vazio.h5").write_bytes(b"")
    (montagem.pasta / "ok.pkl").write_bytes(b"x" * 100)
    esperar(lambda: montagem.liberados.caminhos, mensagem="liberação")
    montagem.calmo()
    assert montagem.liberados.caminhos == [montagem.pasta / "ok.pkl"]


def test_apagado_antes_do_silencio_nao_gera_pedido(montagem: Montagem) -> None:
    modelo = montagem.pasta / "efemero.h5"
    modelo.write_bytes(b"x" * 1000)
    modelo.unlink()
    montagem.calmo()
    assert montagem.liberados.caminhos == []


def test_savedmodel_e_um_modelo_so(montagem: Montagem) -> None:
    sm = montagem.pasta / "exportado"
    (sm / "variables").mkdir(parents=True)
    (sm / "variables" / "variables.data-00000-of-00001").write_bytes(os.urandom(10_000))
    (sm / "variables" / "variables.index").write_bytes(b"indice")
    (sm / "saved_model.pb").write_bytes(b"grafo")
    (sm / "fingerprint.pb").write_bytes(b"digital")
    esperar(lambda: montagem.liberados.caminhos, mensagem="liberação")
    montagem.calmo()
    assert montagem.liberados.caminhos == [sm]


def test_repositorio_dentro_da_pasta_nao_e_observado(montagem: Montagem) -> None:
    repo = montagem.pasta / "repo"
    vigias = montagem.observador.vigias
    assert (montagem.pasta, False) in vigias
    assert (montagem.pasta / "outra", True) in vigias
    assert not [p for p, _ in vigias if p == repo or repo in p.parents]
    antes = montagem.observador.eventos_recebidos
    (repo / "objetos" / "ab" / "abcdef.h5").write_bytes(b"pedaco" * 1000)
    (repo / "objetos" / "ab" / "outro.h5").write_bytes(b"pedaco" * 1000)
    montagem.calmo()
    assert montagem.observador.eventos_recebidos == antes  # no watch, no event at all
    assert montagem.liberados.caminhos == []


def test_pasta_nova_ao_lado_do_repositorio_passa_a_ser_observada(
    montagem: Montagem, tmp_path: Path
) -> None:
    nova = montagem.pasta / "nova"
    nova.mkdir()
    esperar(
        lambda: (nova, True) in montagem.observador.vigias,
        mensagem="vigia da pasta nova",
    )
    (nova / "modelo.pkl").write_bytes(b"arvores" * 100)
    # A folder moved in already full: its files raised no event of their own.
    fora = tmp_path / "fora" / "pronta"
    fora.mkdir(parents=True)
    (fora / "outro.pkl").write_bytes(b"folhas" * 100)
    os.replace(fora, montagem.pasta / "pronta")
    esperar(lambda: len(montagem.liberados.caminhos) == 2, mensagem="liberações")
    montagem.calmo()
    assert sorted(montagem.liberados.caminhos) == [
        nova / "modelo.pkl",
        montagem.pasta / "pronta" / "outro.pkl",
    ]


def test_planejar_vigias(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "repo").mkdir(parents=True)
    (tmp_path / "a" / "c").mkdir()
    (tmp_path / "a" / "b" / "d").mkdir()
    repo = tmp_path / "a" / "b" / "repo"
    assert planejar_vigias(tmp_path / "a", [repo]) == [
        (tmp_path / "a", False),
        (tmp_path / "a" / "b", False),
        (tmp_path / "a" / "b" / "d", True),
        (tmp_path / "a" / "c", True),
    ]
    assert planejar_vigias(tmp_path / "a" / "c", [repo]) == [
        (tmp_path / "a" / "c", True)
    ]
    assert planejar_vigias(repo / "x", [repo]) == []


# -- the debouncer alone, on a fake clock --------------------------------------------


class Relogio:
    def __init__(self) -> None:
        self.agora = 1000.0

    def __call__(self) -> float:
        return self.agora


def test_escrita_aberta_segura_a_liberacao(tmp_path: Path) -> None:
    modelo = tmp_path / "m.h5"
    modelo.write_bytes(b"parte 1")
    relogio, liberados = Relogio(), Liberados()
    e = Estabilizador(5.0, liberados, relogio)
    e.alterado(modelo, escrita_aberta=True)
    relogio.agora += 60
    assert e.verificar() == []  # an hour of pause is fine while the writer holds it
    e.alterado(modelo, escrita_aberta=False)
    relogio.agora += 4.9
    assert e.verificar() == []
    relogio.agora += 0.1
    assert e.verificar() == [modelo]
    assert e.pendentes() == []


def test_mudanca_sem_evento_reinicia_o_silencio(tmp_path: Path) -> None:
    modelo = tmp_path / "m.h5"
    modelo.write_bytes(b"parte 1")
    relogio, liberados = Relogio(), Liberados()
    e = Estabilizador(5.0, liberados, relogio)
    e.alterado(modelo, escrita_aberta=None)
    with open(modelo, "ab") as f:  # a write the watcher never reported
        f.write(b" parte 2")
    relogio.agora += 5
    assert e.verificar() == []
    relogio.agora += 5
    assert e.verificar() == [modelo]
    assert liberados.itens[0][1] == hashlib.sha256(b"parte 1 parte 2").hexdigest()


def test_callback_com_erro_nao_para_o_estabilizador(tmp_path: Path) -> None:
    modelo = tmp_path / "m.h5"
    modelo.write_bytes(b"x")

    def quebra(_: Path) -> None:
        raise RuntimeError("bug")

    relogio = Relogio()
    e = Estabilizador(1.0, quebra, relogio)
    e.alterado(modelo)
    relogio.agora += 2
    assert e.verificar() == [modelo]
