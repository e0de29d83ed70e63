"""The daemon: scheduler + watcher + queue around one manager, in one process.

Foreground (`iniciar`) or detached (`iniciar --daemon`, python-daemon). Either way
the PID file `daemon.pid` in this machine's state folder for the repository is
flock'ed for the daemon's whole life, state for `status` is written atomically to
`daemon_estado.json` beside it, and SIGTERM/SIGINT
stop it after the backup in progress (what was still queued is found again by the
sweep at the next start).

Detaching: the manager (its SQLite index, its log file) is built *after* the
fork, so python-daemon's closing of every descriptor cannot cut it off; the
launching process waits on a pipe until the daemon reports "ready" or the error
that stopped it, so `iniciar --daemon` fails loudly, with the right exit code.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from .. import erros
from ..armazenamento.backends.endereco import backend_para
from ..armazenamento.repositorio import localizar_estado
from ..base.escrita import escrever_json_atomico
from ..base.tempo import agora_iso, iso_utc
from ..config import carregar
from ..erros import ErroBackup, ErroDaemon
from ..eventos import BarramentoEventos, Evento, Inscricao
from ..gerenciador import GerenciadorBackupVersionamento
from ..registro import NOME_LOGGER
from . import cache as modulo_cache
from .agendador import ETIQUETA_LIMPEZA, ETIQUETA_RELATORIO, Agendador
from .arquivo_pid import ArquivoPid, ler_pid, processo_vivo, trava_ocupada
from .estabilizador import Estabilizador
from .fila import ORIGENS, FilaBackup, Gerenciador
from .filtro import FiltroModelos
from .observador import Observador
from .varredura import Varredura

log = logging.getLogger(NOME_LOGGER)

NOME_ESTADO = "daemon_estado.json"
NOME_PID = "daemon.pid"
ESPERA_INICIO_S = 120.0
# The backup events the daemon's state follows (from its own queue's requests).
EVENTOS_BACKUP = {
    "backup_iniciado",
    "backup_criado",
    "backup_ignorado",
    "backup_falhou",
}


class GerenciadorDaemon(Gerenciador, Protocol):
    eventos: BarramentoEventos


class Servico(Protocol):
    """Something that runs beside the daemon (the dashboard's HTTP server)."""

    def iniciar(self) -> None: ...

    def parar(self) -> None: ...


@dataclass
class Extras:
    """What the presentation layer adds to a running daemon: the daily report
    job and services such as the dashboard. The CLI builds them from the manager,
    because the daemon may not import `relatorios` (imports point down)."""

    relatorio: Callable[[], Any] | None = None
    servicos: list[Servico] = field(default_factory=list)


FabricaExtras = Callable[[GerenciadorBackupVersionamento], Extras]


def _iso_local(momento: datetime | None) -> str | None:
    """`schedule` keeps naive local times; the state file speaks UTC."""
    if momento is None:
        return None
    return iso_utc(momento)


class Daemon:
    """Wires sweep, watcher, scheduler and queue to one manager; no process concerns."""

    def __init__(
        self,
        gerenciador: GerenciadorDaemon,
        config: dict[str, Any],
        *,
        falhas_ja_registradas: bool = False,
        relatorio: Callable[[], Any] | None = None,
    ) -> None:
        self.config = config
        self.base = config["diretorios"]["base"]  # a folder or s3://...
        self.pasta_estado = Path(gerenciador.pasta_estado)
        auto = config["backup_automatico"]
        # The daemon follows the manager's bus; it is no channel of its own.
        self.eventos = gerenciador.eventos
        self._inscricao: Inscricao | None = None
        self.diretorios = [Path(d) for d in auto["diretorios_monitorados"]]
        self.filtro = FiltroModelos.da_config(config)
        self.cache = modulo_cache.CacheVarredura(
            self.pasta_estado / modulo_cache.NOME_ARQUIVO
        )
        silencio = float(auto["periodo_silencio_segundos"])
        self.estabilizador = Estabilizador(silencio, self._estabilizou)
        self.fila = FilaBackup(
            gerenciador,
            tipo_mudanca=auto["tipo_mudanca"],
            cache=self.cache,
            falhas_ja_registradas=falhas_ja_registradas,
            # A sweep cannot see that a file is open for writing; the watcher can.
            adiar=self.estabilizador.pendente,
        )
        self.varredura = Varredura(self.diretorios, self.filtro, self.cache, silencio)
        self.observador = (
            Observador(self.diretorios, self.filtro, self.estabilizador)
            if auto["habilitado"] and auto["monitorar_tempo_real"]
            else None
        )
        limpeza = getattr(gerenciador, "limpeza", None)
        if auto["limpeza_automatica"] and limpeza is None:
            log.warning(
                "limpeza_automatica está ligada, mas esta versão do gerenciador "
                "não oferece limpeza(); nada será removido"
            )
        self.agendador = Agendador(
            auto,
            self._varrer if auto["habilitado"] else None,
            limpar=limpeza if callable(limpeza) else None,
            relatorio=relatorio,
            horario_relatorio=config["relatorios"]["horario"],
        )
        self.automatico = bool(auto["habilitado"])
        self._adiados: set[Path] = set()
        self._trava_estado = threading.Lock()
        self.estado: dict[str, Any] = {
            "pid": os.getpid(),
            "iniciado_em": None,
            "proxima_execucao": None,
            "ultimo_backup": None,
            "ultima_falha": None,
            "falhas": 0,
            "backups_criados": 0,
            "backup_em_andamento": None,
            "diretorios_monitorados": [str(d) for d in self.diretorios],
            "monitoramento_tempo_real": self.observador is not None,
            "ultima_varredura": None,
        }

    # -- lifecycle ----------------------------------------------------------------
    def iniciar(self) -> None:
        self.estado["iniciado_em"] = agora_iso()
        self._inscricao = self.eventos.inscrever(
            self._ao_evento, EVENTOS_BACKUP, nome="daemon"
        )
        self.eventos.emitir(  # before any producer can start a backup
            "daemon_iniciado",
            pid=os.getpid(),
            diretorios_monitorados=self.estado["diretorios_monitorados"],
            monitoramento_tempo_real=self.observador is not None,
            backup_automatico=self.automatico,
        )
        self.fila.iniciar()
        self.estabilizador.iniciar()
        if self.observador is not None:
            self.observador.iniciar()
        self.agendador.iniciar(varrer_agora=self.automatico)
        if self.observador is None:
            for pasta in self.diretorios_ausentes():
                log.warning(
                    "Pasta monitorada não existe: %s; será vista na próxima "
                    "varredura depois de criada",
                    pasta,
                )
        self._salvar_estado()
        log.info(
            "Daemon iniciado (pid %d): monitorando %s",
            os.getpid(),
            ", ".join(str(d) for d in self.diretorios),
        )

    def parar(self) -> None:
        """Stop producers first, then let the queue finish the backup in progress."""
        log.info("Daemon parando: concluindo o backup em andamento")
        if self.observador is not None:
            self.observador.parar()
        self.estabilizador.parar()
        self.agendador.parar()
        self.fila.parar()
        if self._inscricao is not None:  # the state sees every backup that ran
            self.eventos.cancelar(self._inscricao)
            self._inscricao = None
        try:
            self.cache.salvar()
        except OSError as e:
            log.warning("Não foi possível gravar o cache de varredura: %s", e)
        with self._trava_estado:
            self.estado["backup_em_andamento"] = None
            self.estado["proxima_execucao"] = None
            self.estado["parado_em"] = agora_iso()
        self._salvar_estado()
        self.eventos.emitir(
            "daemon_parado",
            pid=os.getpid(),
            backups_criados=self.estado["backups_criados"],
            falhas=self.estado["falhas"],
        )
        log.info("Daemon parado")

    def diretorios_ausentes(self) -> list[Path]:
        """Monitored folders that do not exist (they are watched once created)."""
        return [d for d in self.diretorios if not d.is_dir()]

    # -- producers ----------------------------------------------------------------
    def _varrer(self) -> None:
        resultado = self.varredura.executar(self.agendador.sinal_parada)
        for caminho in resultado.alterados:
            self.fila.enfileirar(caminho, "agendado")
        for caminho in resultado.adiados:
            # Still being written: the debouncer releases it once it settles.
            with self._trava_estado:
                self._adiados.add(caminho)
            self.estabilizador.alterado(caminho, escrita_aberta=None)
        self.cache.podar()
        with self._trava_estado:
            self.estado["ultima_varredura"] = {
                "em": agora_iso(),
                "examinados": resultado.examinados,
                "alterados": len(resultado.alterados),
                "adiados": len(resultado.adiados),
            }
        self._salvar_estado()

    def _estabilizou(self, modelo: Path) -> None:
        with self._trava_estado:
            origem = "agendado" if modelo in self._adiados else "monitoramento"
            self._adiados.discard(modelo)
        if self.cache.mudou(modelo):
            self.fila.enfileirar(modelo, origem)

    def enfileirar_manual(self, caminho: Path) -> bool:
        return self.fila.enfileirar(caminho, "manual")

    # -- state ----------------------------------------------------------------------
    def _ao_evento(self, ev: Evento) -> None:
        """Bus subscriber: the state follows the backups of this daemon's queue."""
        evento, dados, em = ev.nome, ev.dados, ev.momento
        if dados.get("origem") not in ORIGENS:
            return  # an API call in this process, not one of our requests
        with self._trava_estado:
            if evento == "backup_iniciado":
                self.estado["backup_em_andamento"] = {
                    "caminho": dados["caminho"],
                    "origem": dados["origem"],
                    "desde": em,
                }
            elif evento == "backup_ignorado":
                self.estado["backup_em_andamento"] = None
            elif evento == "backup_criado":
                self.estado["backup_em_andamento"] = None
                self.estado["backups_criados"] += 1
                self.estado["ultimo_backup"] = {
                    "modelo": dados["modelo"],
                    "versao": dados["versao"],
                    "em": em,
                }
            elif evento == "backup_falhou":
                self.estado["backup_em_andamento"] = None
                self.estado["falhas"] += 1
                self.estado["ultima_falha"] = {
                    "caminho": dados["caminho"],
                    "erro": dados["erro"],
                    "em": em,
                }
        self._salvar_estado()

    def _salvar_estado(self) -> None:
        with self._trava_estado:
            self.estado["proxima_execucao"] = (
                _iso_local(self.agendador.proxima_execucao())
                if self.automatico
                else None
            )
            self.estado["proxima_limpeza"] = _iso_local(
                self.agendador.proxima_execucao(ETIQUETA_LIMPEZA)
            )
            self.estado["proximo_relatorio"] = _iso_local(
                self.agendador.proxima_execucao(ETIQUETA_RELATORIO)
            )
            self.estado["pendentes"] = len(self.fila.pendentes())
            self.estado["diretorios_ausentes"] = [
                str(d) for d in self.diretorios_ausentes()
            ]
            self.estado["atualizado_em"] = agora_iso()
            try:
                escrever_json_atomico(self.pasta_estado / NOME_ESTADO, self.estado)
            except OSError as e:
                log.warning("Não foi possível gravar o estado do daemon: %s", e)


# -- process level --------------------------------------------------------------------


def ler_estado_daemon(pasta: Path | None) -> dict[str, Any]:
    """State for `status`: the last state file plus whether the daemon really runs.

    "rodando" needs the PID file's lock held *and* its PID alive, so neither a stale
    file nor a reused PID is mistaken for a running daemon.
    """
    if pasta is None:
        return {"rodando": False, "backup_em_andamento": None, "proxima_execucao": None}
    try:
        estado: dict[str, Any] = json.loads(
            (pasta / NOME_ESTADO).read_text(encoding="utf-8")
        )
        if not isinstance(estado, dict):
            estado = {}
    except (OSError, ValueError):
        estado = {}
    arquivo_pid = pasta / NOME_PID
    pid = ler_pid(arquivo_pid)
    rodando = pid is not None and trava_ocupada(arquivo_pid) and processo_vivo(pid)
    estado["rodando"] = rodando
    if rodando:
        estado["pid"] = pid
    else:
        estado["backup_em_andamento"] = None
        estado["proxima_execucao"] = None
    return estado


def _base_da_config(cfg: dict[str, Any]) -> str:
    return str(cfg["diretorios"]["base"])  # a folder or s3://... (kept verbatim)


def pasta_do_daemon(cfg: dict[str, Any]) -> Path | None:
    """The per-machine folder that holds the daemon's PID and state (None: no repo)."""
    return localizar_estado(
        backend_para(_base_da_config(cfg), cfg), cfg["diretorios"]["estado"]
    )


def parar_daemon(cfg: dict[str, Any], tempo_limite: float = 300.0) -> int:
    """Send SIGTERM to the running daemon and wait for it to exit; returns its PID."""
    base = _base_da_config(cfg)
    pasta = pasta_do_daemon(cfg)
    if pasta is None:
        raise ErroDaemon(f"nenhum daemon em execução em {base} (não há repositório)")
    arquivo = pasta / NOME_PID
    if not trava_ocupada(arquivo):
        pid = ler_pid(arquivo)
        if arquivo.exists():
            # Stale: take it over atomically (the lock) before removing it.
            trava = ArquivoPid(arquivo)
            try:
                trava.adquirir(tempo_limite=0)
                trava.liberar(remover=True)
            except ErroDaemon:
                pass
            quem = f" do pid {pid}" if pid else ""
            raise ErroDaemon(
                f"nenhum daemon em execução (arquivo de PID obsoleto{quem} removido)"
            )
        raise ErroDaemon(f"nenhum daemon em execução em {base}")
    pid = ler_pid(arquivo)
    prazo = time.monotonic() + 2.0
    while pid is None and time.monotonic() < prazo:  # daemon still writing its PID
        time.sleep(0.05)
        pid = ler_pid(arquivo)
    if pid is None:
        raise ErroDaemon(f"{arquivo}: o arquivo de PID não contém um número válido")
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError as e:
        raise ErroDaemon(f"sem permissão para parar o daemon (pid {pid}): {e}") from e
    prazo = time.monotonic() + tempo_limite
    while trava_ocupada(arquivo):
        if time.monotonic() >= prazo:
            raise ErroDaemon(
                f"o daemon (pid {pid}) ainda está concluindo o backup em andamento "
                f"após {tempo_limite:.0f} s; aguarde ou rode 'parar' de novo"
            )
        time.sleep(0.1)
    return pid


@contextmanager
def _sinais(parada: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT/SIGHUP ask for a graceful stop (handlers restored afterwards)."""

    def pedir_parada(numero: int, _quadro: FrameType | None) -> None:
        log.info(
            "Sinal %s recebido: parando após o backup em andamento",
            signal.Signals(numero).name,
        )
        parada.set()

    anteriores = {
        s: signal.signal(s, pedir_parada)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for s, h in anteriores.items():
            signal.signal(s, h)


def _checar_config(cfg: dict[str, Any]) -> None:
    auto = cfg["backup_automatico"]
    if not auto["habilitado"] and not auto["limpeza_automatica"]:
        raise ErroDaemon(
            "backup_automatico.habilitado e backup_automatico."
            "limpeza_automatica estão desligados: o daemon não teria nada "
            "a fazer"
        )


def _abrir_gerenciador(cfg: dict[str, Any]) -> GerenciadorBackupVersionamento:
    return GerenciadorBackupVersionamento(config=cfg)


# What the foreground daemon prints: each backup, each failure, low disk.
_PARA_O_TERMINAL = {"backup_criado", "backup_ignorado", "backup_falhou", "espaco_baixo"}
Notificar = Callable[[str, dict[str, Any]], None]


def _rodar(
    gerenciador: GerenciadorBackupVersionamento,
    pronto: Callable[[], None],
    parada: threading.Event,
    notificar: Notificar | None = None,
    fabrica: FabricaExtras | None = None,
) -> int:
    """Run until asked to stop, then stop gracefully. Exit code 0.

    `notificar` (the foreground terminal) hears backups, failures and low disk.
    """
    if notificar is not None:
        externo = notificar
        gerenciador.inscrever(
            lambda evento, dados: (
                externo(evento, dados) if evento in _PARA_O_TERMINAL else None
            )
        )
    with _sinais(parada):
        extras = fabrica(gerenciador) if fabrica else Extras()
        d = Daemon(
            gerenciador,
            gerenciador.config,
            falhas_ja_registradas=True,
            relatorio=extras.relatorio,
        )
        iniciados: list[Servico] = []
        try:
            d.iniciar()
            for servico in extras.servicos:
                servico.iniciar()
                iniciados.append(servico)
            pronto()
            while not parada.wait(1.0):
                pass
        finally:
            for servico in reversed(iniciados):
                servico.parar()
            d.parar()
    return 0


def executar_primeiro_plano(
    cfg: dict[str, Any],
    *,
    pronto: Callable[[], None] | None = None,
    parada: threading.Event | None = None,
    notificar: Notificar | None = None,
    extras: FabricaExtras | None = None,
) -> int:
    """`iniciar` without --daemon: same daemon, attached to the terminal.

    `notificar(evento, dados)` hears backup_criado, backup_ignorado, backup_falhou
    and espaco_baixo (the CLI prints them).
    """
    _checar_config(cfg)
    # The manager first: it creates (or refuses) the repository folder that the
    # PID file then goes into.
    with _abrir_gerenciador(cfg) as gerenciador:
        trava = ArquivoPid(Path(gerenciador.pasta_estado) / NOME_PID)
        trava.adquirir()
        _avisar_obsoleto(trava)
        try:
            trava.escrever()
            return _rodar(
                gerenciador,
                pronto or (lambda: None),
                parada or threading.Event(),
                notificar,
                fabrica=extras,
            )
        finally:
            trava.liberar(remover=True)


def _avisar_obsoleto(trava: ArquivoPid) -> None:
    anterior = trava.pid_anterior()
    if anterior is not None and anterior != os.getpid():
        log.warning(
            "Arquivo de PID obsoleto (pid %d, processo encerrado) substituído", anterior
        )


def _descritores_de_log() -> list[int]:
    """Our open log files, kept across python-daemon's closing of descriptors."""
    fds = []
    for h in logging.getLogger(NOME_LOGGER).handlers:
        fluxo = getattr(h, "stream", None)
        if isinstance(h, logging.FileHandler) and fluxo is not None:
            with suppress(OSError, ValueError):
                fds.append(fluxo.fileno())
    return fds


def iniciar_segundo_plano(
    cfg: dict[str, Any],
    *,
    tempo_limite: float = ESPERA_INICIO_S,
    extras: FabricaExtras | None = None,
) -> int:
    """`iniciar --daemon`: detach, wait until the daemon says it runs; returns its PID.

    Errors that stop it from starting (already running, bad repository, ...) are
    raised here, in the launching process, with their own exit codes.
    """
    import daemon as python_daemon

    _checar_config(cfg)
    # Create or check the repository here, where its errors reach the user; the
    # daemon opens its own manager after the fork (descriptors do not survive it).
    with _abrir_gerenciador(cfg) as g:
        pasta = Path(g.pasta_estado)
        arquivo_log = g.arquivo_log
    trava = ArquivoPid(pasta / NOME_PID)
    trava.adquirir()  # ErroDaemon (14) here when a daemon already runs
    anterior = trava.pid_anterior()
    leitura, escrita = os.pipe()
    filho = os.fork()
    if filho == 0:  # pragma: no cover - runs in the detached process
        os.close(leitura)
        codigo = 1
        try:
            contexto = python_daemon.DaemonContext(
                working_directory="/",
                umask=0o022,
                detach_process=True,
                files_preserve=[trava.fd, escrita, *_descritores_de_log()],
                signal_map={},
            )
            contexto.open()
            trava.escrever()

            def pronto() -> None:
                _responder(escrita, {"ok": True, "pid": os.getpid()})

            with _abrir_gerenciador(cfg) as gerenciador:  # logging starts here
                if anterior is not None:
                    log.warning(
                        "Arquivo de PID obsoleto (pid %d, processo encerrado) "
                        "substituído",
                        anterior,
                    )
                try:
                    codigo = _rodar(
                        gerenciador, pronto, threading.Event(), fabrica=extras
                    )
                except BaseException as e:
                    log.error(
                        "Daemon encerrado por erro: %s",
                        e,
                        exc_info=not isinstance(e, ErroBackup),
                    )
                    raise
        except BaseException as e:  # report to the launcher, then leave
            _responder(escrita, _erro_para_dict(e))
            codigo = getattr(e, "codigo_saida", 1)
        finally:
            trava.liberar(remover=True)
            logging.shutdown()
            os._exit(codigo)
    os.close(escrita)
    trava.fechar_sem_liberar()
    os.waitpid(filho, 0)
    resposta = _aguardar_resposta(leitura, tempo_limite)
    if resposta is None:
        raise ErroDaemon(
            f"o daemon não confirmou o início em {tempo_limite:.0f} s; veja "
            f"{arquivo_log}"
        )
    if resposta.get("ok"):
        return int(resposta["pid"])
    raise _dict_para_erro(resposta)


def _responder(fd: int, dados: dict[str, Any]) -> None:
    try:
        os.write(fd, (json.dumps(dados, ensure_ascii=False) + "\n").encode("utf-8"))
        os.close(fd)
    except OSError:
        pass  # already answered (fd closed) or the launcher is gone


def _aguardar_resposta(fd: int, tempo_limite: float) -> dict[str, Any] | None:
    prazo = time.monotonic() + tempo_limite
    dados = b""
    try:
        while b"\n" not in dados:
            restante = prazo - time.monotonic()
            if restante <= 0:
                return None
            prontos, _, _ = select.select([fd], [], [], restante)
            if not prontos:
                continue
            parte = os.read(fd, 65536)
            if not parte:
                break
            dados += parte
    finally:
        os.close(fd)
    if not dados.strip():
        return {
            "ok": False,
            "erro": "ErroDaemon",
            "mensagem": "o daemon terminou durante a inicialização; veja o log",
        }
    resposta: dict[str, Any] = json.loads(dados.split(b"\n", 1)[0])
    return resposta


def _erro_para_dict(e: BaseException) -> dict[str, Any]:
    nome = type(e).__name__ if isinstance(e, ErroBackup) else "ErroDaemon"
    mensagem = (
        str(e)
        if isinstance(e, ErroBackup)
        else f"o daemon falhou ao iniciar: {type(e).__name__}: {e}"
    )
    return {
        "ok": False,
        "erro": nome,
        "mensagem": mensagem,
        "codigo": getattr(e, "codigo_saida", 1),
    }


def _dict_para_erro(resposta: dict[str, Any]) -> ErroBackup:
    classe = getattr(erros, str(resposta.get("erro")), ErroDaemon)
    if not (isinstance(classe, type) and issubclass(classe, ErroBackup)):
        classe = ErroDaemon
    mensagem = str(resposta.get("mensagem", "erro desconhecido"))
    try:
        return classe(mensagem)
    except TypeError:  # classes with extra required arguments
        e = ErroDaemon(mensagem)
        e.codigo_saida = int(resposta.get("codigo", ErroDaemon.codigo_saida))
        return e


def carregar_config(
    config_arquivo: str | Path | None, base: str | Path | None = None
) -> dict[str, Any]:
    """The effective configuration with every path absolute (the daemon runs in '/')."""
    return carregar(config_arquivo, base=base)
