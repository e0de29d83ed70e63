"""The daemon for real: a child process, real files, the real manager and repository."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.automacao import Daemon, ler_estado_daemon
from backup_versionamento.automacao.daemon import NOME_PID
from backup_versionamento.erros import ErroDaemon

from .ajuda_automacao import (  # noqa: F401 - sem_threads_novas is an autouse fixture
    DaemonPrimeiroPlano,
    cli,
    escrever_config,
    esperar,
    estado_de,
    sem_threads_novas,
    sha256,
    versoes,
)

SILENCIO = 0.5


def antigo(caminho: Path, segundos: float = 60) -> None:
    """Age a file past the quiet period, as if saved before the daemon started."""
    t = time.time() - segundos
    os.utime(caminho, (t, t))


def ler_log(base: Path) -> str:
    arquivo = base / "logs" / "backup_system.log"
    return arquivo.read_text(encoding="utf-8") if arquivo.exists() else ""


def pid_morto() -> int:
    """A PID that surely belongs to no process any more."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def esperar_versoes(
    config: Path, modelo: str, n: int = 1, tempo_limite: float = 30
) -> list[dict[str, Any]]:
    resultado: list[dict[str, Any]] = esperar(
        lambda: (v := versoes(config, modelo)) and len(v) >= n and v,
        tempo_limite,
        passo=0.1,
        mensagem=f"{n} versão(ões) de {modelo}",
    )
    return resultado


@pytest.fixture
def pasta(tmp_path: Path) -> Path:
    p = tmp_path / "modelos"
    p.mkdir()
    return p


# -- watcher through the daemon ------------------------------------------------


def test_modelo_salvo_em_tres_etapas_vira_uma_versao_com_o_conteudo_final(
    tmp_path: Path, pasta: Path
) -> None:
    config = escrever_config(tmp_path, [pasta])
    daemon = DaemonPrimeiroPlano(config)
    try:
        modelo = pasta / "rede_lotofacil.h5"
        partes = [np.random.default_rng(i).bytes(400_000) for i in range(3)]
        with open(modelo, "wb") as f:
            for parte in partes:  # e.g. Keras writing groups of layers
                f.write(parte)
                f.flush()
                time.sleep(SILENCIO * 1.6)  # longer than the quiet period
        final = b"".join(partes)
        lista = esperar_versoes(config, "rede_lotofacil.h5")
        time.sleep(SILENCIO * 3)  # room for a wrong second version to appear
        esperar(daemon.ocioso, mensagem="daemon ocioso")
        lista = versoes(config, "rede_lotofacil.h5")
        assert [v["versao"] for v in lista] == ["1.0.0"]
        assert lista[0]["sha256"] == sha256(final)
        assert lista[0]["descricao"] == "backup automático (monitoramento)"
        assert lista[0]["tipo_mudanca"] == "retreino"
        with GerenciadorBackupVersionamento(config=config) as g:
            restaurado = g.restaurar_backup(
                "rede_lotofacil.h5", "1.0.0", str(tmp_path / "restaurado") + os.sep
            )
        assert Path(restaurado).read_bytes() == final
        estado = ler_estado_daemon(estado_de(daemon.base))
        assert estado["rodando"] and estado["pid"] == daemon.pid
        assert estado["ultimo_backup"]["modelo"] == "rede_lotofacil.h5"
        assert estado["ultimo_backup"]["versao"] == "1.0.0"
        assert estado["diretorios_monitorados"] == [str(pasta)]
        assert estado["falhas"] == 0
    finally:
        assert daemon.parar() == 0


def test_temporario_renomeado_e_padroes_ignorados(tmp_path: Path, pasta: Path) -> None:
    config = escrever_config(tmp_path, [pasta])
    daemon = DaemonPrimeiroPlano(config)
    try:
        (pasta / "temp_rascunho.h5").write_bytes(b"rascunho" * 1000)
        (pasta / "notas.md").write_bytes(b"nao e modelo")
        dados = np.random.default_rng(7).bytes(1_000_000)
        temp = pasta / "floresta.pkl.tmp"
        with open(temp, "wb") as f:  # joblib-style: temp name, then rename
            f.write(dados[:500_000])
            time.sleep(SILENCIO * 1.6)
            f.write(dados[500_000:])
        os.replace(temp, pasta / "floresta.pkl")
        esperar_versoes(config, "floresta.pkl")
        time.sleep(SILENCIO * 3)
        esperar(daemon.ocioso, mensagem="daemon ocioso")
        with GerenciadorBackupVersionamento(config=config) as g:
            assert g.listar_modelos() == ["floresta.pkl"]
            lista = g.listar_versoes("floresta.pkl")
        assert len(lista) == 1 and lista[0]["sha256"] == sha256(dados)
    finally:
        assert daemon.parar() == 0


def test_sigterm_durante_backup_grande_sai_limpo_e_reinicio_termina(
    tmp_path: Path, pasta: Path
) -> None:
    grande = pasta / "a_grande.pth"
    with open(grande, "wb") as f:
        rng = np.random.default_rng(1)
        for _ in range(25):
            f.write(rng.bytes(8 * 1024 * 1024))  # 200 MiB that do not compress
    pequeno = pasta / "b_pequeno.pkl"
    pequeno.write_bytes(b"arvores" * 10_000)
    antigo(grande)
    antigo(pequeno)
    config = escrever_config(tmp_path, [pasta])

    daemon = DaemonPrimeiroPlano(config)
    try:
        esperar(
            lambda: (
                (daemon.estado().get("backup_em_andamento") or {}).get("caminho")
                == str(grande)
            ),
            tempo_limite=30,
            passo=0.01,
            mensagem="backup grande em andamento",
        )
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(120) == 0
    finally:
        daemon.fechar()
    log = ler_log(daemon.base)
    assert "Sinal SIGTERM recebido" in log and "Daemon parado" in log
    # The backup in progress was finished, the queued one dropped.
    lista = versoes(config, "a_grande.pth")
    assert len(lista) == 1
    with open(grande, "rb") as f:
        assert lista[0]["sha256"] == hashlib.file_digest(f, "sha256").hexdigest()
    assert versoes(config, "b_pequeno.pkl") == []
    assert not (_pid(daemon.base)).exists()
    assert not ler_estado_daemon(estado_de(daemon.base))["rodando"]
    with GerenciadorBackupVersionamento(config=config) as g:
        relatorio = g.verificar_integridade()
    assert relatorio["ok"] and relatorio["problemas"] == []

    # Restart: the sweep at start finds what was dropped; the big one is not re-read.
    daemon = DaemonPrimeiroPlano(config)
    try:
        esperar_versoes(config, "b_pequeno.pkl")
        esperar(daemon.ocioso, mensagem="daemon ocioso")
        assert daemon.estado()["ultima_varredura"]["alterados"] == 1
    finally:
        assert daemon.parar() == 0
    assert len(versoes(config, "a_grande.pth")) == 1
    assert len(versoes(config, "b_pequeno.pkl")) == 1


def test_falha_de_backup_e_registrada_e_o_daemon_segue(
    tmp_path: Path, pasta: Path
) -> None:
    modelo = pasta / "sem_espaco.h5"
    modelo.write_bytes(b"pesos" * 1000)
    antigo(modelo)
    # A reserve larger than any disk: every backup fails with ErroEspacoInsuficiente.
    config = escrever_config(
        tmp_path, [pasta], extra={"espaco_disco": {"aviso_mb": 0, "reserva_mb": 10**9}}
    )
    daemon = DaemonPrimeiroPlano(config)
    try:
        esperar(
            lambda: daemon.estado().get("falhas", 0) >= 1, mensagem="falha registrada"
        )
        (pasta / "outro.pkl").write_bytes(b"x" * 1000)  # the watcher keeps working
        esperar(lambda: daemon.estado().get("falhas", 0) >= 2, mensagem="segunda falha")
        assert daemon.proc.poll() is None
        estado = ler_estado_daemon(estado_de(daemon.base))
        assert estado["rodando"]
        assert estado["ultima_falha"]["caminho"] == str(pasta / "outro.pkl")
        assert "espaço em disco insuficiente" in estado["ultima_falha"]["erro"]
    finally:
        assert daemon.parar() == 0
    linhas = [
        linha
        for linha in ler_log(daemon.base).splitlines()
        if "SistemaBackup - ERROR - Backup falhou:" in linha
    ]
    # One line per failure: the manager's, not repeated by the queue.
    assert len([linha for linha in linhas if "sem_espaco.h5" in linha]) == 1
    assert len([linha for linha in linhas if "outro.pkl" in linha]) == 1


# -- process management --------------------------------------------------------


def test_iniciar_em_segundo_plano_recusa_segundo_e_para(
    tmp_path: Path, pasta: Path
) -> None:
    (pasta / "inicial.pkl").write_bytes(b"x" * 500)
    antigo(pasta / "inicial.pkl")
    config = escrever_config(tmp_path, [pasta])
    base = tmp_path / "repo"
    r = cli("iniciar", "--config", str(config), "--daemon", "--json")
    assert r.returncode == 0, r.stderr
    pid = json.loads(r.stdout)["pid"]
    try:
        assert (_pid(base)).read_text().strip() == str(pid)
        estado = ler_estado_daemon(estado_de(base))
        assert estado["rodando"] and estado["pid"] == pid
        assert pid != os.getpid()

        segundo = cli("iniciar", "--config", str(config), "--daemon")
        assert segundo.returncode == ErroDaemon.codigo_saida == 14
        assert f"já está em execução (pid {pid})" in segundo.stderr
        primeiro_plano = cli("iniciar", "--config", str(config))
        assert primeiro_plano.returncode == 14

        esperar_versoes(config, "inicial.pkl")  # the detached daemon does its job
        esperar(lambda: "Daemon iniciado" in ler_log(base), mensagem="log do daemon")
    finally:
        parada = cli("parar", "--config", str(config))
    assert parada.returncode == 0, parada.stderr
    assert f"pid {pid}" in parada.stdout
    assert not (_pid(base)).exists()
    estado = ler_estado_daemon(estado_de(base))
    assert not estado["rodando"] and estado["ultimo_backup"]["modelo"] == "inicial.pkl"
    esperar(lambda: not _vivo(pid), mensagem="processo do daemon encerrado")
    assert "Daemon parado" in ler_log(base)
    de_novo = cli("parar", "--config", str(config))
    assert de_novo.returncode == 14 and "nenhum daemon em execução" in de_novo.stderr


def _pid(base: Path) -> Path:
    pasta = estado_de(base)
    assert pasta is not None, f"sem repositório em {base}"
    return pasta / NOME_PID


def _vivo(pid: int) -> bool:
    from backup_versionamento.automacao.arquivo_pid import processo_vivo

    return processo_vivo(pid)


def test_arquivo_pid_obsoleto_e_substituido(tmp_path: Path, pasta: Path) -> None:
    config = escrever_config(tmp_path, [pasta])
    base = tmp_path / "repo"
    # A daemon killed with SIGKILL leaves its PID file behind.
    daemon = DaemonPrimeiroPlano(config)
    daemon.proc.kill()
    daemon.proc.wait(10)
    daemon.fechar()
    assert (_pid(base)).read_text().strip() == str(daemon.pid)
    assert not ler_estado_daemon(estado_de(base))["rodando"]

    r = cli("iniciar", "--config", str(config), "--daemon", "--json")
    assert r.returncode == 0, r.stderr
    novo = json.loads(r.stdout)["pid"]
    try:
        assert novo != daemon.pid
        assert (_pid(base)).read_text().strip() == str(novo)
        esperar(lambda: "Arquivo de PID obsoleto" in ler_log(base), mensagem="aviso")
    finally:
        assert cli("parar", "--config", str(config)).returncode == 0


def test_pid_reutilizado_ou_morto_nao_conta_como_daemon(
    tmp_path: Path, pasta: Path
) -> None:
    config = escrever_config(tmp_path, [pasta])
    base = tmp_path / "repo"
    with GerenciadorBackupVersionamento(config=config):
        pass  # the repository exists, as after any earlier run
    # A live process that is not our daemon (the PID was reused): no lock held.
    (_pid(base)).write_text(f"{os.getpid()}\n")
    assert not ler_estado_daemon(estado_de(base))["rodando"]
    (_pid(base)).write_text(f"{pid_morto()}\n")
    r = cli("parar", "--config", str(config))
    assert r.returncode == 14 and "obsoleto" in r.stderr
    assert not (_pid(base)).exists()


def test_nada_a_fazer_e_erro_do_daemon(tmp_path: Path, pasta: Path) -> None:
    config = escrever_config(tmp_path, [pasta], habilitado=False)
    r = cli("iniciar", "--config", str(config))
    assert r.returncode == 14 and "nada" in r.stderr


def test_repositorio_invalido_aparece_no_terminal_com_daemon(
    tmp_path: Path, pasta: Path
) -> None:
    config = escrever_config(tmp_path, [pasta])
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "alheio.txt").write_text("não é um repositório")
    r = cli("iniciar", "--config", str(config), "--daemon")
    assert r.returncode == 8, r.stderr
    assert "não é um repositório" in r.stderr
    assert not (tmp_path / "repo" / NOME_PID).exists()


# -- the wiring in-process (no signals, no fork) -------------------------------


def test_daemon_em_processo_sem_tempo_real_varre_e_limpa(
    tmp_path: Path, pasta: Path
) -> None:
    for nome in ("a.pkl", "b.onnx", "temp_c.pkl"):
        (pasta / nome).write_bytes(nome.encode() * 100)
        antigo(pasta / nome)
    config = escrever_config(
        tmp_path,
        [pasta],
        extra={"retencao": {"por_quantidade": {"maximo_versoes_por_modelo": 1}}},
        monitorar_tempo_real=False,
        limpeza_automatica=True,
        horario_limpeza="03:30",
    )
    antes = set(threading.enumerate())
    with GerenciadorBackupVersionamento(config=config) as g:
        g.criar_backup(pasta / "a.pkl", descricao="manual, antes do daemon")
        g.criar_backup(pasta / "a.pkl", forcar=True)  # two versions, the limit is 1
        d = Daemon(g, g.config, falhas_ja_registradas=True)
        assert d.observador is None
        d.iniciar()
        try:
            esperar(lambda: d.fila.concluidos == 2, mensagem="dois backups")
            novas = {t.name for t in set(threading.enumerate()) - antes}
            assert {"fila-backup", "estabilizador", "agendador"} <= novas
            assert not [n for n in novas if "Observer" in n or "Emitter" in n]
            assert sorted(g.listar_modelos()) == ["a.pkl", "b.onnx"]
            assert len(g.listar_versoes("a.pkl")) == 2  # identical content: no third
            estado = json.loads((g.pasta_estado / "daemon_estado.json").read_text())
            assert estado["proxima_limpeza"] is not None
            assert estado["monitoramento_tempo_real"] is False
            # The daily cleanup job, run now instead of at 03:30.
            d.agendador.agenda.get_jobs("limpeza")[0].run()
            assert [v["versao"] for v in g.listar_versoes("a.pkl")] == ["1.0.1"]
        finally:
            d.parar()
    pasta_estado = estado_de(tmp_path / "repo")
    assert pasta_estado is not None
    cache = json.loads((pasta_estado / "cache_varredura.json").read_text())
    assert sorted(Path(c).name for c in cache["entradas"]) == ["a.pkl", "b.onnx"]


def test_varredura_nao_guarda_arquivo_ainda_aberto_para_escrita(
    tmp_path: Path, pasta: Path
) -> None:
    """A sweep sees only stat; a long pause mid-save must not yield a torn version."""
    config = escrever_config(tmp_path, [pasta])
    modelo = pasta / "checkpoint.pth"
    partes = [np.random.default_rng(i).bytes(200_000) for i in range(2)]
    with GerenciadorBackupVersionamento(config=config) as g:
        d = Daemon(g, g.config, falhas_ja_registradas=True)
        try:
            d.iniciar()
            esperar(lambda: d.estado["ultima_varredura"], mensagem="varredura inicial")
            with open(modelo, "wb") as f:
                f.write(partes[0])
                f.flush()
                esperar(lambda: d.estabilizador.pendente(modelo), mensagem="evento")
                antigo(modelo)  # as if the pause had lasted a minute
                d._varrer()  # the scheduled sweep fires mid-save
                esperar(lambda: d.fila.adiados == 1, mensagem="pedido adiado")
                assert versoes(config, "checkpoint.pth") == []
                f.write(partes[1])
            esperar_versoes(config, "checkpoint.pth")
            esperar(
                lambda: d.fila.aguardar_ociosa(0) and not d.estabilizador.pendentes()
            )
        finally:
            d.parar()
        lista = g.listar_versoes("checkpoint.pth")
    assert len(lista) == 1 and lista[0]["sha256"] == sha256(b"".join(partes))
