"""The live page and its read-only HTTP server: `/`, `/dados.json`, `/metrics`.

`Painel` keeps the activity journal's running totals (it reads only the lines
appended since the last request) and builds, on each request, the page data from
the facade. `ServidorPainel` serves it on loopback by default; any other address
needs a token (`Authorization: Bearer <token>` or `?token=<token>`). Every method
other than GET and HEAD gets 405: nothing here changes the repository.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
import threading
import time
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ..armazenamento.escrita_atomica import escrever_atomico
from ..automacao import ler_estado_daemon
from ..base.tempo import iso_utc
from ..erros import ErroConfiguracao, ErroDaemon
from ..integracoes.atividade import LeitorAtividade, arquivo_atividade
from ..registro import NOME_LOGGER
from . import metricas_prometheus
from .dados import (
    origem_do_evento,
    serie_crescimento,
)
from .html import renderizar_painel

if TYPE_CHECKING:
    from ..gerenciador import GerenciadorBackupVersionamento

log = logging.getLogger(NOME_LOGGER)

DIAS_PAINEL = 14
RECENTES = 15
ATUALIZAR_SEGUNDOS = 15
NOME_THREAD = "painel"


class Painel:
    """Page data and metric snapshot for one facade; safe to call from threads."""

    def __init__(self, gerenciador: GerenciadorBackupVersionamento) -> None:
        self.g = gerenciador
        self._leitor = LeitorAtividade(arquivo_atividade(gerenciador.pasta_logs))
        self._trava = threading.Lock()
        self._listagem: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._zerar()

    def _zerar(self) -> None:
        self._recentes: deque[dict[str, Any]] = deque(maxlen=RECENTES)
        self._falhas: deque[dict[str, Any]] = deque(maxlen=RECENTES)
        self._por_dia: Counter[str] = Counter()
        self.backups: Counter[tuple[str, str]] = Counter()
        self.ignorados: Counter[str] = Counter()
        self.falhas: Counter[str] = Counter()
        self.restauracoes: Counter[str] = Counter()
        self.duracoes: dict[str, tuple[int, float]] = {}

    def _consumir(self) -> None:
        """Fold the journal lines appended since the last call into the totals."""
        novos = self._leitor.novos()
        if self._leitor.recomecou:  # journal replaced or truncated: recount
            self._zerar()
        for ev in novos:
            nome, dados = ev["evento"], ev["dados"]
            modelo = str(dados.get("modelo") or dados.get("caminho") or "")
            momento = iso_utc(ev["momento"])
            if nome == "backup_criado":
                origem = origem_do_evento(dados)
                self.backups[(modelo, origem)] += 1
                self._por_dia[momento[:10]] += 1
                duracao = dados.get("duracao_s")
                if isinstance(duracao, (int, float)) and not isinstance(duracao, bool):
                    quantos, soma = self.duracoes.get(modelo, (0, 0.0))
                    self.duracoes[modelo] = (quantos + 1, soma + float(duracao))
                self._recentes.append(
                    {
                        "momento": momento,
                        "modelo": modelo,
                        "versao": str(dados.get("versao") or ""),
                        "origem": origem,
                    }
                )
            elif nome == "backup_ignorado":
                self.ignorados[modelo] += 1
            elif nome == "backup_falhou":
                self.falhas[modelo] += 1
                self._falhas.append(
                    {
                        "momento": momento,
                        "modelo": modelo,
                        "origem": origem_do_evento(dados),
                        "erro": str(dados.get("erro") or "motivo não registrado"),
                    }
                )
            elif nome == "restauracao_concluida":
                self.restauracoes["ok"] += 1
            elif nome == "restauracao_falhou":
                self.restauracoes["falha"] += 1

    def atualizar(self) -> None:
        with self._trava:
            self._consumir()

    @property
    def linhas_invalidas(self) -> int:
        return self._leitor.linhas_invalidas

    def modelos(self, status: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """Every model's versions, listed again only when `status` shows a change.

        Listing reads every version's summary; a new or removed version always
        changes the count, the logical size or the latest backup, so a page
        refresh on an idle repository costs one `status()` and no listing.
        """
        chave = (
            status["versoes"],
            status["tamanho_logico"],
            str(status["ultimo_backup"]),
        )
        with self._trava:
            if self._listagem is not None and self._listagem[0] == chave:
                return self._listagem[1]
        listagem = {m: self.g.listar_versoes(m) for m in self.g.listar_modelos()}
        with self._trava:
            self._listagem = (chave, listagem)
        return listagem

    def dados(self, agora: datetime | None = None) -> dict[str, Any]:
        """What the page shows (also served as /dados.json)."""
        self.atualizar()
        agora = agora or datetime.now(timezone.utc)
        hoje = agora.astimezone(timezone.utc).date()
        inicio = hoje - timedelta(days=DIAS_PAINEL - 1)
        status = self.g.status()
        versoes = [v for lista in self.modelos(status).values() for v in lista]
        crescimento = serie_crescimento(versoes, inicio, DIAS_PAINEL)
        with self._trava:
            dias = [
                {
                    "dia": d["dia"],
                    "backups": self._por_dia[d["dia"]],
                    "versoes_novas": d["versoes_novas"],
                    "bytes_acumulados": d["bytes_acumulados"],
                }
                for d in crescimento
            ]
            recentes = list(reversed(self._recentes))
            falhas = list(reversed(self._falhas))
        return {
            "gerado_em": iso_utc(agora),
            "status": status,
            "daemon": ler_estado_daemon(self.g.pasta_estado),
            "dias": dias,
            "recentes": recentes,
            "falhas": falhas,
        }

    def html(self, atualizar_segundos: int | None = ATUALIZAR_SEGUNDOS) -> str:
        return renderizar_painel(self.dados(), atualizar_segundos=atualizar_segundos)

    def metricas(self) -> bytes:
        """The Prometheus text exposition of this repository and its daemon."""
        return metricas_prometheus.gerar(self)


def escrever_painel(gerenciador: GerenciadorBackupVersionamento, arquivo: Path) -> Path:
    """`painel --arquivo`: the page once, as a file that does not reload."""
    html = Painel(gerenciador).html(atualizar_segundos=None)
    escrever_atomico(Path(arquivo), html.encode("utf-8"))
    return Path(arquivo)


def endereco_local(endereco: str) -> bool:
    if endereco == "localhost":
        return True
    try:
        return ipaddress.ip_address(endereco).is_loopback
    except ValueError:
        return False


class _Servidor(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ServidorPainel:
    """The page, /dados.json and /metrics over HTTP, in a thread; read-only."""

    def __init__(
        self,
        painel: Painel,
        endereco: str = "127.0.0.1",
        porta: int = 8765,
        token: str = "",
    ) -> None:
        if not endereco_local(endereco) and not token.strip():
            raise ErroConfiguracao(
                f"painel em '{endereco}': um endereço que não é local exige "
                "relatorios.painel_token; use 127.0.0.1 ou defina um token"
            )
        self.painel = painel
        self.token = token.strip()
        classe = type(
            "_ServidorFamilia",
            (_Servidor,),
            {"address_family": socket.AF_INET6 if ":" in endereco else socket.AF_INET},
        )
        try:
            self._http = classe((endereco, porta), self._manipulador())
        except OSError as e:
            raise ErroDaemon(
                f"painel: não foi possível escutar em {endereco}:{porta} ({e}); "
                "escolha outra porta em relatorios.painel_porta ou --porta"
            ) from e
        self._thread: threading.Thread | None = None

    @property
    def endereco(self) -> str:
        return str(self._http.server_address[0])

    @property
    def porta(self) -> int:
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.endereco}]" if ":" in self.endereco else self.endereco
        return f"http://{host}:{self.porta}/"

    def iniciar(self) -> None:
        self._thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=NOME_THREAD,
            daemon=True,
        )
        self._thread.start()
        log.info("Painel em %s (métricas em %smetrics)", self.url, self.url)

    def servir_ate(self, parada: threading.Event) -> None:
        """Serve in this thread's company until `parada` is set (CLI foreground)."""
        self.iniciar()
        try:
            while not parada.wait(0.5):
                pass
        finally:
            self.parar()

    def parar(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _autorizado(
        self, cabecalho: str | None, consulta: dict[str, list[str]]
    ) -> bool:
        if not self.token:
            return True
        dado = ""
        if cabecalho and cabecalho.startswith("Bearer "):
            dado = cabecalho[len("Bearer ") :].strip()
        elif consulta.get("token"):
            dado = consulta["token"][0]
        return hmac.compare_digest(dado.encode(), self.token.encode())

    def _manipulador(self) -> type[BaseHTTPRequestHandler]:
        servidor = self

        class Manipulador(BaseHTTPRequestHandler):
            server_version = "backup_versionamento-painel"
            sys_version = ""

            def log_message(self, formato: str, *args: Any) -> None:
                log.debug("painel: " + formato, *args)

            def _responder(
                self, codigo: int, corpo: bytes, tipo: str, extras: dict[str, str]
            ) -> None:
                self.send_response(codigo)
                self.send_header("Content-Type", tipo)
                self.send_header("Content-Length", str(len(corpo)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header(
                    "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                )
                for k, v in extras.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(corpo)

            def _texto(self, codigo: int, mensagem: str, **extras: str) -> None:
                self._responder(
                    codigo,
                    (mensagem + "\n").encode("utf-8"),
                    "text/plain; charset=utf-8",
                    extras,
                )

            def do_GET(self) -> None:
                partes = urlsplit(self.path)
                consulta = parse_qs(partes.query)
                if not servidor._autorizado(
                    self.headers.get("Authorization"), consulta
                ):
                    self._texto(
                        HTTPStatus.UNAUTHORIZED,
                        "token ausente ou errado",
                        **{"WWW-Authenticate": "Bearer"},
                    )
                    return
                inicio = time.perf_counter()
                try:
                    if partes.path in ("/", "/index.html"):
                        corpo = servidor.painel.html().encode("utf-8")
                        tipo = "text/html; charset=utf-8"
                    elif partes.path == "/dados.json":
                        corpo = json.dumps(
                            servidor.painel.dados(), ensure_ascii=False, default=str
                        ).encode("utf-8")
                        tipo = "application/json"
                    elif partes.path == "/metrics":
                        corpo = servidor.painel.metricas()
                        tipo = metricas_prometheus.TIPO_CONTEUDO
                    elif partes.path == "/saude":
                        corpo, tipo = b"ok\n", "text/plain; charset=utf-8"
                    else:
                        self._texto(HTTPStatus.NOT_FOUND, "não encontrado")
                        return
                except Exception as e:  # a bad request must not kill the server
                    log.exception("painel: erro ao responder %s", partes.path)
                    self._texto(HTTPStatus.INTERNAL_SERVER_ERROR, f"erro: {e}")
                    return
                log.debug(
                    "painel: %s em %.3f s", partes.path, time.perf_counter() - inicio
                )
                self._responder(HTTPStatus.OK, corpo, tipo, {})

            do_HEAD = do_GET

            def _recusar(self) -> None:
                self._texto(
                    HTTPStatus.METHOD_NOT_ALLOWED,
                    "o painel é somente leitura",
                    Allow="GET, HEAD",
                )

            do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _recusar

        return Manipulador
