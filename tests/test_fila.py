"""The backup queue: merging, one worker, failures as data, graceful stop."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento.automacao.cache import CacheVarredura
from backup_versionamento.automacao.fila import FilaBackup

from .ajuda_automacao import (  # noqa: F401 - sem_threads_novas is an autouse fixture
    ErroDeTeste,
    GerenciadorFalso,
    esperar,
    sem_threads_novas,
)


@pytest.fixture
def fila_e_falso() -> Any:
    falso = GerenciadorFalso()
    fila = FilaBackup(falso, tipo_mudanca="retreino")
    fila.iniciar()
    yield fila, falso
    falso.liberar()
    fila.parar(10)


def test_pedidos_repetidos_se_fundem_enquanto_esperam(fila_e_falso: Any) -> None:
    fila, falso = fila_e_falso
    falso.bloquear()
    a, b, c = Path("/m/a.h5"), Path("/m/b.h5"), Path("/m/c.h5")
    assert fila.enfileirar(a, "agendado")
    assert falso.iniciou.wait(5)  # a is running, so the next ones wait
    assert fila.enfileirar(b, "monitoramento")
    assert not fila.enfileirar(b, "agendado")
    assert not fila.enfileirar(b, "manual")
    assert fila.enfileirar(c, "manual")
    assert fila.pendentes() == [b, c]
    falso.liberar()
    assert fila.aguardar_ociosa(10)
    assert falso.caminhos == [str(a), str(b), str(c)]
    assert fila.concluidos == 3 and fila.falhas == 0


def test_caminho_em_andamento_pode_ser_pedido_de_novo(fila_e_falso: Any) -> None:
    """The file may change while its backup runs: that request must not be lost."""
    fila, falso = fila_e_falso
    falso.bloquear()
    a = Path("/m/a.h5")
    assert fila.enfileirar(a, "monitoramento")
    assert falso.iniciou.wait(5)
    assert fila.enfileirar(a, "monitoramento")
    falso.liberar()
    assert fila.aguardar_ociosa(10)
    assert falso.caminhos == [str(a), str(a)]


def test_parametros_do_backup_automatico(fila_e_falso: Any) -> None:
    fila, falso = fila_e_falso
    fila.enfileirar(Path("/m/a.h5"), "agendado")
    fila.enfileirar(Path("/m/b.h5"), "monitoramento")
    assert fila.aguardar_ociosa(10)
    # The origin goes to the manager, which puts it in its events.
    assert [
        (c["tipo_mudanca"], c["descricao"], c["origem"]) for c in falso.chamadas
    ] == [
        ("retreino", "backup automático (agendado)", "agendado"),
        ("retreino", "backup automático (monitoramento)", "monitoramento"),
    ]
    with pytest.raises(ValueError):
        fila.enfileirar(Path("/m/c.h5"), "desconhecida")
    # Content already stored: still a completed request.
    falso.inalterados.add("/m/a.h5")
    fila.enfileirar(Path("/m/a.h5"), "agendado")
    assert fila.aguardar_ociosa(10)
    assert fila.concluidos == 3 and fila.falhas == 0


def test_falha_e_registrada_contada_notificada_e_a_fila_segue(
    fila_e_falso: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fila, falso = fila_e_falso
    falso.falhas["/m/ruim.h5"] = ErroDeTeste("repositório indisponível")
    falso.falhas["/m/io.h5"] = OSError(5, "Input/output error")
    falso.falhas["/m/bug.h5"] = RuntimeError("bug")
    with caplog.at_level(logging.INFO, logger="SistemaBackup"):
        for nome in ("ruim.h5", "io.h5", "bug.h5", "bom.h5"):
            fila.enfileirar(Path("/m") / nome, "agendado")
        assert fila.aguardar_ociosa(10)
    assert fila.falhas == 3 and fila.concluidos == 1
    assert falso.caminhos == ["/m/ruim.h5", "/m/io.h5", "/m/bug.h5", "/m/bom.h5"]
    erros = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        sum(r.getMessage().startswith("Backup falhou: /m/ruim.h5") for r in erros) == 1
    )
    assert any(r.getMessage().startswith("Backup falhou: /m/io.h5") for r in erros)
    # The worker survived all three.
    assert fila._thread is not None and fila._thread.is_alive()


def test_falha_ja_registrada_pelo_gerenciador_nao_duplica_o_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    falso = GerenciadorFalso()
    falso.falhas["/m/ruim.h5"] = ErroDeTeste("x")
    falso.falhas["/m/io.h5"] = OSError(5, "Input/output error")
    fila = FilaBackup(falso, falhas_ja_registradas=True)
    fila.iniciar()
    try:
        with caplog.at_level(logging.INFO, logger="SistemaBackup"):
            fila.enfileirar(Path("/m/ruim.h5"))
            fila.enfileirar(Path("/m/io.h5"))
            assert fila.aguardar_ociosa(10)
    finally:
        fila.parar(10)
    erros = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    # The manager logged the ErroBackup itself; an OSError it never saw is ours to log.
    assert erros == ["Backup falhou: /m/io.h5: [Errno 5] Input/output error"]
    assert fila.falhas == 2


def test_parada_conclui_o_backup_em_andamento_e_descarta_o_resto(
    fila_e_falso: Any,
) -> None:
    fila, falso = fila_e_falso
    falso.bloquear()
    fila.enfileirar(Path("/m/grande.h5"), "agendado")
    assert falso.iniciou.wait(5)
    for nome in ("b.h5", "c.h5", "d.h5"):
        fila.enfileirar(Path("/m") / nome, "agendado")
    resultado: list[int] = []
    parada = threading.Thread(target=lambda: resultado.append(fila.parar(10)))
    parada.start()
    esperar(
        lambda: not fila.enfileirar(Path("/m/e.h5")), mensagem="fila recusar pedidos"
    )
    assert parada.is_alive()  # still waiting for the backup in progress
    falso.liberar()
    parada.join(10)
    assert resultado == [3]
    assert falso.caminhos == ["/m/grande.h5"]
    assert fila.concluidos == 1
    assert fila.descartados == 3


def test_cache_registra_so_o_que_nao_mudou_durante_o_backup(tmp_path: Path) -> None:
    estavel = tmp_path / "estavel.h5"
    mexido = tmp_path / "mexido.h5"
    estavel.write_bytes(b"a" * 100)
    mexido.write_bytes(b"b" * 100)
    cache = CacheVarredura(tmp_path / "cache.json")
    falso = GerenciadorFalso()

    def durante(caminho: str) -> None:
        if caminho == str(mexido):
            with open(mexido, "ab") as f:  # the training script saves again meanwhile
                f.write(b"mais")

    falso.durante = durante
    fila = FilaBackup(falso, cache=cache)
    fila.iniciar()
    try:
        fila.enfileirar(estavel)
        fila.enfileirar(mexido)
        assert fila.aguardar_ociosa(10)
    finally:
        fila.parar(10)
    assert not cache.mudou(estavel)
    assert cache.mudou(mexido)
    # Persisted: a new process sees the same.
    relido = CacheVarredura(tmp_path / "cache.json")
    assert not relido.mudou(estavel) and relido.mudou(mexido)


def test_backup_falho_nao_entra_no_cache(tmp_path: Path) -> None:
    modelo = tmp_path / "m.h5"
    modelo.write_bytes(b"x" * 10)
    cache = CacheVarredura(tmp_path / "cache.json")
    falso = GerenciadorFalso()
    falso.falhas[str(modelo)] = ErroDeTeste("falhou")
    fila = FilaBackup(falso, cache=cache)
    fila.iniciar()
    try:
        fila.enfileirar(modelo)
        assert fila.aguardar_ociosa(10)
    finally:
        fila.parar(10)
    assert cache.mudou(modelo)  # the next sweep tries again
    assert not os.path.exists(tmp_path / "cache.json")


def test_pedido_adiado_quando_o_arquivo_ainda_esta_em_escrita() -> None:
    falso = GerenciadorFalso()
    em_escrita = {Path("/m/salvando.h5")}
    fila = FilaBackup(falso, adiar=lambda p: p in em_escrita)
    fila.iniciar()
    try:
        fila.enfileirar(Path("/m/salvando.h5"), "agendado")
        fila.enfileirar(Path("/m/pronto.h5"), "agendado")
        assert fila.aguardar_ociosa(10)
    finally:
        fila.parar(10)
    assert falso.caminhos == ["/m/pronto.h5"]
    assert fila.adiados == 1 and fila.falhas == 0
