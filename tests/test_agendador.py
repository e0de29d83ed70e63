"""The scheduler, with a frozen clock (time-machine): hours pass without sleeping."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schedule
import time_machine

from backup_versionamento.automacao.agendador import Agendador
from backup_versionamento.config import PADRAO

from .ajuda_automacao import esperar, sem_threads_novas  # noqa: F401 - autouse fixture


def local(ano: int, mes: int, dia: int, hora: int, minuto: int = 0) -> dt.datetime:
    """An aware local time: `schedule` reads naive local time from datetime.now()."""
    return dt.datetime(ano, mes, dia, hora, minuto).astimezone()


def config_auto(**mudancas: Any) -> dict[str, Any]:
    return {**PADRAO["backup_automatico"], **mudancas}


class Contador:
    def __init__(self, erro: Exception | None = None) -> None:
        self.vezes = 0
        self.erro = erro
        self.chamou = threading.Event()

    def __call__(self) -> None:
        self.vezes += 1
        self.chamou.set()
        if self.erro is not None:
            raise self.erro


@pytest.fixture
def relogio() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(local(2024, 1, 15, 10, 0), tick=False) as t:
        yield t


def test_intervalo_em_horas(relogio: time_machine.Traveller) -> None:
    varrer = Contador()
    ag = Agendador(config_auto(intervalo_horas=6), varrer)
    assert ag.proxima_execucao() == dt.datetime(2024, 1, 15, 16, 0)
    ag.executar_pendentes()
    relogio.shift(dt.timedelta(hours=5, minutes=59))
    ag.executar_pendentes()
    assert varrer.vezes == 0
    relogio.shift(dt.timedelta(minutes=1))
    ag.executar_pendentes()
    assert varrer.vezes == 1
    assert ag.proxima_execucao() == dt.datetime(2024, 1, 15, 22, 0)
    relogio.shift(dt.timedelta(hours=6))
    ag.executar_pendentes()
    assert varrer.vezes == 2


def test_horarios_fixos_substituem_o_intervalo(relogio: time_machine.Traveller) -> None:
    varrer = Contador()
    ag = Agendador(
        config_auto(intervalo_horas=1, horarios_execucao=["14:00", "02:00"]), varrer
    )
    assert ag.proxima_execucao() == dt.datetime(2024, 1, 15, 14, 0)
    relogio.move_to(local(2024, 1, 15, 13, 59))
    ag.executar_pendentes()
    assert varrer.vezes == 0  # an hourly interval would have run three times by now
    relogio.move_to(local(2024, 1, 15, 14, 0))
    ag.executar_pendentes()
    assert varrer.vezes == 1
    assert ag.proxima_execucao() == dt.datetime(2024, 1, 16, 2, 0)
    relogio.move_to(
        local(
            2024,
            1,
            16,
            2,
            0,
        )
    )
    ag.executar_pendentes()
    assert varrer.vezes == 2
    assert ag.proxima_execucao() == dt.datetime(2024, 1, 16, 14, 0)


def test_tarefa_com_erro_nao_escapa_e_continua_agendada(
    relogio: time_machine.Traveller, caplog: pytest.LogCaptureFixture
) -> None:
    varrer = Contador(erro=OSError(28, "No space left on device"))
    ag = Agendador(config_auto(intervalo_horas=2), varrer)
    relogio.shift(dt.timedelta(hours=2))
    with caplog.at_level(logging.ERROR, logger="SistemaBackup"):
        ag.executar_pendentes()  # must not raise
    assert varrer.vezes == 1 and ag.falhas == 1
    assert any(
        "Tarefa agendada 'varredura' falhou" in r.getMessage() for r in caplog.records
    )
    relogio.shift(dt.timedelta(hours=2))
    ag.executar_pendentes()
    assert varrer.vezes == 2


def test_limpeza_diaria_no_horario(relogio: time_machine.Traveller) -> None:
    varrer, limpar = Contador(), Contador()
    ag = Agendador(
        config_auto(limpeza_automatica=True, horario_limpeza="03:30"), varrer, limpar
    )
    assert ag.proxima_execucao("limpeza") == dt.datetime(2024, 1, 16, 3, 30)
    relogio.move_to(local(2024, 1, 16, 3, 29))
    ag.executar_pendentes()
    assert limpar.vezes == 0
    relogio.move_to(local(2024, 1, 16, 3, 30))
    ag.executar_pendentes()
    assert limpar.vezes == 1
    relogio.move_to(local(2024, 1, 17, 3, 30))
    ag.executar_pendentes()
    assert limpar.vezes == 2


def test_limpeza_desligada_ou_sem_funcao(relogio: time_machine.Traveller) -> None:
    ag = Agendador(config_auto(limpeza_automatica=False), Contador(), Contador())
    assert ag.proxima_execucao("limpeza") is None
    ag = Agendador(config_auto(limpeza_automatica=True), Contador(), None)
    assert ag.proxima_execucao("limpeza") is None


def test_sem_varredura_quando_desabilitado(relogio: time_machine.Traveller) -> None:
    limpar = Contador()
    ag = Agendador(config_auto(limpeza_automatica=True), None, limpar)
    assert ag.proxima_execucao() is None
    assert ag.proxima_execucao("limpeza") is not None


def test_usa_agenda_propria_nunca_a_global(relogio: time_machine.Traveller) -> None:
    antes = list(schedule.get_jobs())
    ag = Agendador(
        config_auto(horarios_execucao=["01:00", "13:00"], limpeza_automatica=True),
        Contador(),
        Contador(),
    )
    assert schedule.get_jobs() == antes
    assert len(ag.agenda.get_jobs()) == 3


def test_thread_varre_ao_iniciar_e_para_pelo_evento() -> None:
    varrer = Contador()
    ag = Agendador(config_auto(intervalo_horas=6), varrer)
    ag.iniciar(varrer_agora=True)
    try:
        assert varrer.chamou.wait(5)
        assert any(t.name == "agendador" for t in threading.enumerate())
    finally:
        ag.parar(5)
    assert varrer.vezes == 1
    assert not any(t.name == "agendador" for t in threading.enumerate())


def test_thread_sobrevive_a_tarefa_com_erro() -> None:
    varrer = Contador(erro=RuntimeError("bug na varredura"))
    ag = Agendador(config_auto(intervalo_horas=6), varrer)
    ag.iniciar(varrer_agora=True)
    try:
        esperar(lambda: ag.falhas == 1)
        assert ag._thread is not None and ag._thread.is_alive()
    finally:
        ag.parar(5)
