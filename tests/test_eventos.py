"""The event bus and the activity journal, with the real manager and daemon."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.automacao import Daemon
from backup_versionamento.base.tempo import ler_momento
from backup_versionamento.config import de_dicionario
from backup_versionamento.erros import (
    ErroArquivoNaoEncontrado,
    ErroConfiguracao,
    ErroVersaoNaoEncontrada,
)
from backup_versionamento.eventos import (
    EVENTOS,
    BarramentoEventos,
    Evento,
)
from backup_versionamento.integracoes import ler_atividade

from .ajuda_automacao import escrever_config, esperar
from .conftest import RAIZ, escrever

CHAVES = {"id", "evento", "momento", "dados"}


def config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "diretorios": {"base": str(tmp_path / "repo")},
        "validacao": {"modo": "desligado"},
        "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
        **extra,
    }


def test_evento_e_nomes() -> None:
    ev = Evento("backup_criado", {"modelo": "m"})
    d = ev.como_dict()
    assert set(d) == CHAVES and d["evento"] == "backup_criado"
    assert len(ev.id) == 32 and int(ev.id, 16) >= 0
    assert ev.momento.endswith("Z")
    assert abs(ler_momento(ev.momento) - datetime.now(timezone.utc)) < timedelta(
        seconds=5
    )
    b = BarramentoEventos()
    try:
        with pytest.raises(ValueError, match="evento desconhecido"):
            b.emitir("backup_feito")
        with pytest.raises(ValueError, match="eventos desconhecidos"):
            b.inscrever(lambda e: None, {"nada"})
        # the payload is a JSON copy: paths become text, nobody shares the dict
        original = {"lista": [1]}
        enviado = b.emitir("backup_criado", caminho=Path("/x"), extra=original)
        original["lista"].append(2)
        assert enviado.dados == {"caminho": "/x", "extra": {"lista": [1]}}
    finally:
        b.fechar()


def test_ouvinte_que_falha_ou_trava_nao_quebra_nem_atrasa_o_backup(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    solta = threading.Event()
    vistos: list[str] = []

    def quebrado(ev: Evento) -> None:
        raise RuntimeError("ouvinte com defeito")

    def travado(ev: Evento) -> None:
        solta.wait(60)

    with GerenciadorBackupVersionamento(config=config(tmp_path)) as g:
        g.eventos.inscrever(quebrado)
        g.eventos.inscrever(travado)
        g.eventos.inscrever(lambda ev: vistos.append(ev.nome), nome="gravador")
        with caplog.at_level(logging.ERROR, logger="SistemaBackup"):
            duracoes = []
            for i in range(5):
                m = escrever(tmp_path / "m.pkl", f"v{i}".encode())
                inicio = time.monotonic()
                assert g.criar_backup(m, "patch") == f"1.0.{i}"
                duracoes.append(time.monotonic() - inicio)
            esperar(lambda: len(vistos) == 10, mensagem="eventos ao gravador")
        assert max(duracoes) < 1.0, duracoes  # the hung subscriber costs nothing
        assert vistos == ["backup_iniciado", "backup_criado"] * 5
        falhas = [r for r in caplog.records if "Ouvinte quebrado" in r.getMessage()]
        assert len(falhas) == 10 and falhas[0].exc_info is not None
        solta.set()


def test_fechar_nao_espera_para_sempre_um_ouvinte_travado() -> None:
    solta = threading.Event()
    b = BarramentoEventos()
    b.inscrever(lambda ev: solta.wait(60), nome="travado")
    b.emitir("daemon_iniciado")
    inicio = time.monotonic()
    b.fechar(tempo_limite=0.3)
    assert time.monotonic() - inicio < 1.0
    solta.set()  # the abandoned worker ends; the leak check sees it gone


def test_diario_de_atividade_registra_cada_acao(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        retencao={
            "por_quantidade": {"maximo_versoes_por_modelo": 1},
            "carencia_coleta_minutos": 0,
        },
    )
    inicio = datetime.now(timezone.utc)
    m = escrever(tmp_path / "m.pkl", b"um")
    with GerenciadorBackupVersionamento(config=cfg) as g:
        g.criar_backup(m, "patch", "primeira")
        g.criar_backup(m, "patch")  # same content
        with pytest.raises(ErroArquivoNaoEncontrado):
            g.criar_backup(tmp_path / "sumiu.pkl", "patch")
        escrever(m, b"dois")
        g.criar_backup(m, "retreino")
        g.restaurar_backup("m.pkl", "1.0.0", tmp_path / "restaurado.pkl")
        with pytest.raises(ErroVersaoNaoEncontrada):
            g.restaurar_backup("m.pkl", "9.9.9", tmp_path / "nada.pkl")
        g.fixar_versao("m.pkl", "1.1.0")
        g.fixar_versao("m.pkl", "1.1.0", False)
        g.verificar_integridade()
        g.limpeza()
        # a damaged sidecar: the check fails
        (g.base / "modelos" / "m.pkl" / "1.1.0.json").write_text("{")
        assert not g.verificar_integridade()["ok"]
        pasta_logs = g.pasta_logs
    eventos = ler_atividade(pasta_logs)
    assert [e["evento"] for e in eventos] == [
        "backup_iniciado",
        "backup_criado",
        "backup_iniciado",
        "backup_ignorado",
        "backup_iniciado",
        "backup_falhou",
        "backup_iniciado",
        "backup_criado",
        "restauracao_concluida",
        "restauracao_falhou",
        "versao_fixada",
        "versao_desafixada",
        "verificacao_concluida",
        "versao_removida",
        "limpeza_concluida",
        "verificacao_falhou",
    ]
    assert all(set(e) == CHAVES for e in eventos)
    assert len({e["id"] for e in eventos}) == len(eventos)
    d = {e["evento"]: e["dados"] for e in eventos}
    assert d["backup_criado"] | {"caminho": None} == {
        "modelo": "m.pkl",
        "versao": "1.1.0",
        "versao_anterior": "1.0.0",
        "tipo_mudanca": "retreino",
        "incremento": "minor",
        "descricao": "",
        "caminho": None,
        "origem": "api",
        "tamanho": 4,
        "tamanho_armazenado": d["backup_criado"]["tamanho_armazenado"],
        "sha256": d["backup_criado"]["sha256"],
        "duracao_s": d["backup_criado"]["duracao_s"],
    }
    assert 0 < d["backup_criado"]["duracao_s"] < 60
    assert d["backup_criado"]["caminho"] == str(m)
    assert d["backup_ignorado"]["versao"] == "1.0.0"
    assert d["backup_falhou"]["tipo_erro"] == "ErroArquivoNaoEncontrado"
    assert d["restauracao_concluida"]["destino"] == str(tmp_path / "restaurado.pkl")
    assert d["restauracao_falhou"]["tipo_erro"] == "ErroVersaoNaoEncontrada"
    assert d["versao_fixada"] == {"modelo": "m.pkl", "versao": "1.1.0"}
    assert d["versao_removida"]["versao"] == "1.0.0" and d["versao_removida"]["motivos"]
    assert d["limpeza_concluida"]["versoes_removidas"] == 1
    assert d["verificacao_concluida"]["versoes_verificadas"] == 2
    assert d["verificacao_falhou"]["versoes_com_problema"] == ["m.pkl 1.1.0"]
    assert d["verificacao_falhou"]["total_problemas"] == 1

    # `desde` filters; a naive datetime is local time
    assert len(ler_atividade(pasta_logs, desde=inicio)) == len(eventos)
    assert ler_atividade(pasta_logs, desde=datetime.now() + timedelta(minutes=1)) == []
    meio = ler_momento(eventos[8]["momento"])
    assert next(e["evento"] for e in ler_atividade(pasta_logs, desde=meio)) == (
        "restauracao_concluida"
    )


def test_linha_rasgada_no_fim_e_ignorada(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with GerenciadorBackupVersionamento(config=config(tmp_path)) as g:
        g.criar_backup(escrever(tmp_path / "m.pkl", b"um"), "patch")
        arquivo = g.pasta_logs / "atividade.jsonl"
    linhas = arquivo.read_bytes()
    arquivo.write_bytes(linhas + b'{"id": "abc", "evento": "backup_cri')
    assert [e["evento"] for e in ler_atividade(arquivo.parent)] == [
        "backup_iniciado",
        "backup_criado",
    ]
    # a bad line in the middle is skipped with a warning, the rest still read
    arquivo.write_bytes(b"lixo\n" + linhas)
    with caplog.at_level(logging.WARNING, logger="SistemaBackup"):
        assert len(ler_atividade(arquivo.parent)) == 2
    assert "atividade.jsonl:1: linha ignorada" in caplog.text
    assert ler_atividade(tmp_path / "nao_existe") == []


def test_eventos_chegam_ao_diario_mesmo_sem_fechar(tmp_path: Path) -> None:
    """A training script that never calls fechar(): events are still written."""
    script = (
        f"import sys; sys.path.insert(0, {str(RAIZ)!r})\n"
        "from backup_versionamento import GerenciadorBackupVersionamento\n"
        f"g = GerenciadorBackupVersionamento(config={config(tmp_path)!r})\n"
        f"g.criar_backup({str(escrever(tmp_path / 'm.pkl', b'um'))!r}, 'patch')\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    eventos = ler_atividade(tmp_path / "repo" / "logs")
    assert [e["evento"] for e in eventos] == ["backup_iniciado", "backup_criado"]
    # in this process too: idle workers end, no thread is left behind
    g = GerenciadorBackupVersionamento(config=config(tmp_path))
    g.criar_backup(escrever(tmp_path / "m.pkl", b"dois"), "patch")
    esperar(
        lambda: not [t for t in threading.enumerate() if t.name.startswith("evento-")],
        mensagem="threads ociosas encerradas",
    )
    assert len(ler_atividade(tmp_path / "repo" / "logs")) == 4
    g.fechar()


def test_daemon_segue_o_barramento_e_emite_inicio_e_parada(tmp_path: Path) -> None:
    pasta = tmp_path / "modelos"
    escrever(pasta / "a.pkl", b"a" * 100)
    t = time.time() - 60
    os.utime(pasta / "a.pkl", (t, t))
    arquivo = escrever_config(
        tmp_path,
        [pasta],
        extra={"validacao": {"modo": "desligado"}},
        monitorar_tempo_real=False,
    )
    with GerenciadorBackupVersionamento(config=arquivo) as g:
        d = Daemon(g, g.config, falhas_ja_registradas=True)
        d.iniciar()
        try:
            esperar(lambda: d.fila.concluidos == 1, mensagem="backup agendado")
        finally:
            d.parar()
        # the state was updated from the bus before parar() returned
        estado = json.loads((g.pasta_estado / "daemon_estado.json").read_text())
        pasta_logs = g.pasta_logs
    assert estado["ultimo_backup"]["modelo"] == "a.pkl"
    assert estado["backups_criados"] == 1 and estado["backup_em_andamento"] is None
    eventos = ler_atividade(pasta_logs)
    assert [e["evento"] for e in eventos] == [
        "daemon_iniciado",
        "backup_iniciado",
        "backup_criado",
        "daemon_parado",
    ]
    assert eventos[0]["dados"]["diretorios_monitorados"] == [str(pasta)]
    assert eventos[2]["dados"]["origem"] == "agendado"
    assert eventos[3]["dados"] == {
        "pid": os.getpid(),
        "backups_criados": 1,
        "falhas": 0,
    }


def test_configuracao_usa_a_lista_unica_de_eventos(tmp_path: Path) -> None:
    base = {"diretorios": {"base": str(tmp_path / "repo")}}
    cfg = de_dicionario(
        {**base, "integracao": {"webhook": {"eventos": sorted(EVENTOS)}}}
    )
    assert set(cfg["integracao"]["webhook"]["eventos"]) == EVENTOS
    with pytest.raises(ErroConfiguracao) as e:
        de_dicionario({**base, "integracao": {"git": {"branch_backups": "a b"}}})
    assert "integracao.git.branch_backups: 'a b' não é um nome de branch" in str(
        e.value
    )
    with pytest.raises(ErroConfiguracao) as e:
        de_dicionario({**base, "integracao": {"git": {"tag_por_versao": "sim"}}})
    assert "integracao.git.tag_por_versao: esperado booleano" in str(e.value)
    cfg = de_dicionario(
        {**base, "integracao": {"git": {"habilitada": True, "repositorio": "."}}}
    )
    assert cfg["integracao"]["git"]["repositorio"] == str(Path.cwd())
