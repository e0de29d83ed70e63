"""Webhooks: a signed JSON POST per event, delivered from a queue on disk.

Standard Webhooks conventions (https://www.standardwebhooks.com): headers
`webhook-id` (fixed per message, kept across retries and restarts),
`webhook-timestamp` (seconds, of each attempt) and, when a secret is set,
`webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.

The bus subscriber only writes one file per pending delivery (atomically) under
`<pasta_estado>/webhooks/`; a background sender posts them, removes each after a
2xx, and retries the others with exponential backoff and jitter, honouring
`Retry-After`. Before the process exits, `concluir` keeps sending what is due
for at most `espera_ao_sair_segundos` (a CLI command lives less than the
sender's first round); what is still pending is sent by the next process with
webhooks on (any command, or the daemon), with the same id. One process sends at a time
(a flock), so none is sent twice concurrently. After `tentativas` attempts the
delivery moves to `webhooks/falhas/` and the failure is logged and shown in
`status`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import random
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..base.escrita import escrever_atomico
from ..eventos import Evento
from ..registro import NOME_LOGGER
from .saude import Saude

if TYPE_CHECKING:  # imported where used: a backup that sends nothing never pays it
    import httpx

log = logging.getLogger(NOME_LOGGER)

NOME = "webhook"
PASTA = "webhooks"
PREFIXO_SEGREDO = "whsec_"
ESPERA_INICIAL_S = 2.0
ESPERA_MAXIMA_S = 3600.0
# How often the sender looks for deliveries written by other processes.
RELEITURA_S = 1.0
TEMPO_PARAR_S = 2.0


@dataclass(frozen=True)
class Destino:
    """One endpoint: where to post, which events, with which secret."""

    url: str
    eventos: frozenset[str]
    segredo: str = ""


def destinos_da_config(cfg_webhook: dict[str, Any]) -> list[Destino]:
    """The top-level url (when set) plus every item of `endpoints`."""
    destinos = []
    if cfg_webhook["url"]:
        destinos.append(
            Destino(
                cfg_webhook["url"],
                frozenset(cfg_webhook["eventos"]),
                cfg_webhook["segredo"],
            )
        )
    for item in cfg_webhook["endpoints"]:
        destinos.append(
            Destino(
                item["url"],
                frozenset(item.get("eventos", cfg_webhook["eventos"])),
                item.get("segredo", ""),
            )
        )
    return destinos


def chave_do_segredo(segredo: str) -> bytes:
    """`whsec_<base64>` (Standard Webhooks) decodes to its bytes; else UTF-8."""
    if segredo.startswith(PREFIXO_SEGREDO):
        try:
            return base64.b64decode(segredo[len(PREFIXO_SEGREDO) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                "segredo começa com 'whsec_' mas o resto não é base64 válido"
            ) from None
    return segredo.encode("utf-8")


def assinar(segredo: str, id_mensagem: str, timestamp: int, corpo: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    conteudo = f"{id_mensagem}.{timestamp}.".encode() + corpo
    digest = hmac.new(chave_do_segredo(segredo), conteudo, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def url_segura(url: str) -> str:
    """The URL without credentials or query (both may carry tokens), for logs."""
    partes = urlsplit(url)
    host = partes.hostname or ""
    if partes.port:
        host += f":{partes.port}"
    return f"{partes.scheme}://{host}{partes.path}"


def espera_retry_after(valor: str | None) -> float | None:
    """Seconds asked by a `Retry-After` header (seconds or an HTTP date)."""
    if not valor:
        return None
    valor = valor.strip()
    try:
        segundos = float(valor)
    except ValueError:
        try:
            segundos = parsedate_to_datetime(valor).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(segundos, 0.0), ESPERA_MAXIMA_S)


def espera_exponencial(tentativas: int) -> float:
    """Backoff after `tentativas` failures: doubling, capped, with jitter."""
    base = min(ESPERA_INICIAL_S * 2 ** max(tentativas - 1, 0), ESPERA_MAXIMA_S)
    return base * random.uniform(0.5, 1.0)


class Webhooks:
    """Bus subscriber (enqueue) plus the background sender of one repository."""

    def __init__(
        self, cfg_webhook: dict[str, Any], pasta_estado: Path, saude: Saude
    ) -> None:
        self.destinos = destinos_da_config(cfg_webhook)
        self.por_url = {d.url: d for d in self.destinos}
        self.tempo_limite = float(cfg_webhook["tempo_limite_segundos"])
        self.tentativas = int(cfg_webhook["tentativas"])
        self.espera_ao_sair = float(cfg_webhook["espera_ao_sair_segundos"])
        self.pasta = Path(pasta_estado) / PASTA
        self.pasta_falhas = self.pasta / "falhas"
        self.saude = saude
        self._parar = threading.Event()
        self._acordar = threading.Event()
        self._thread: threading.Thread | None = None
        # monotonic deadline of the last round before exit (None: not exiting)
        self._prazo_saida: float | None = None

    # -- producer (bus subscriber) -------------------------------------------------
    def __call__(self, evento: Evento) -> None:
        """Write one pending delivery per interested endpoint; never posts here."""
        corpo = json.dumps(evento.como_dict(), ensure_ascii=False, sort_keys=True)
        carimbo = evento.momento.replace(":", "").replace("-", "").replace(".", "")
        for destino in self.destinos:
            if evento.nome not in destino.eventos:
                continue
            chave = hashlib.sha256(destino.url.encode()).hexdigest()[:12]
            entrega = {
                "webhook_id": f"msg_{evento.id}",
                "url": destino.url,
                "evento": evento.nome,
                "corpo": corpo,
                "criada_em": evento.momento,
                "tentativas": 0,
                "proxima_tentativa": 0.0,
                "ultimo_erro": None,
            }
            self._gravar(self.pasta / f"{carimbo}-{evento.id}-{chave}.json", entrega)
        self._acordar.set()

    def pendentes(self) -> int:
        return _contar(self.pasta)

    def falhas_definitivas(self) -> int:
        return _contar(self.pasta_falhas)

    # -- sender --------------------------------------------------------------------
    def iniciar(self) -> None:
        try:
            self.pasta.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            log.warning(
                "Webhooks desligados: não foi possível criar %s: %s", self.pasta, e
            )
            return
        self._parar.clear()
        self._thread = threading.Thread(
            target=self._laco, name="webhook-envio", daemon=True
        )
        self._thread.start()

    def concluir(self) -> None:
        """Before exit: send what is due for at most `espera_ao_sair` s, then stop.

        Deliveries not sent by then (receiver down, backoff past the deadline,
        another process holding the sender lock) stay on disk for the next one.
        """
        if self._thread is not None and self.espera_ao_sair > 0:
            self._prazo_saida = time.monotonic() + self.espera_ao_sair
            self._acordar.set()
            self._thread.join(self.espera_ao_sair + 1.0)
        self.parar()

    def _restante_saida(self) -> float | None:
        """Seconds left before exit (None: not exiting)."""
        prazo = self._prazo_saida
        return None if prazo is None else prazo - time.monotonic()

    def parar(self, tempo_limite: float = TEMPO_PARAR_S) -> None:
        """Stop soon; what is pending stays on disk for the next process.

        A request in flight is not cut: if it outlives `tempo_limite`, the thread
        (a daemon thread) finishes it alone and the file may be sent again later,
        with the same webhook-id.
        """
        self._parar.set()
        self._acordar.set()
        if self._thread is not None:
            self._thread.join(tempo_limite)
            if not self._thread.is_alive():
                self._thread = None

    def _laco(self) -> None:
        import httpx

        trava: int | None = None
        try:
            with httpx.Client(timeout=self.tempo_limite) as cliente:
                while not self._parar.is_set():
                    if trava is None:
                        trava = _tentar_trava(self.pasta / ".envio.trava")
                    self._acordar.clear()
                    saida = self._restante_saida()
                    if trava is None:
                        if saida is not None:
                            return  # another process holds the lock and sends
                        self._acordar.wait(RELEITURA_S)  # we only wait
                        continue
                    proxima = self._rodada(cliente)
                    espera = (
                        RELEITURA_S
                        if proxima is None
                        else max(0.0, proxima - time.time())
                    )
                    saida = self._restante_saida()
                    # Exiting: wait only for a retry due before the deadline.
                    if saida is not None and (proxima is None or espera >= saida):
                        return
                    self._acordar.wait(min(espera, RELEITURA_S))
        except Exception:  # the sender must never die silently
            log.exception("Envio de webhooks interrompido por erro inesperado")
        finally:
            if trava is not None:
                os.close(trava)

    def _rodada(self, cliente: httpx.Client) -> float | None:
        """Try every due delivery once; when the next pending one is due (or None)."""
        proxima: float | None = None
        for caminho in sorted(self.pasta.glob("*.json")):
            saida = self._restante_saida()
            if self._parar.is_set() or (saida is not None and saida <= 0):
                break
            try:
                entrega = json.loads(caminho.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as e:
                log.warning("Entrega de webhook ilegível %s: %s", caminho, e)
                self._desistir(caminho, None, f"arquivo ilegível: {e}")
                continue
            quando = float(entrega.get("proxima_tentativa", 0))
            if quando <= time.time():
                self._tentar(cliente, caminho, entrega)
                if not caminho.exists():
                    continue  # delivered or given up
                quando = float(entrega.get("proxima_tentativa", 0))
            proxima = quando if proxima is None else min(proxima, quando)
        return proxima

    def _tentar(
        self, cliente: httpx.Client, caminho: Path, entrega: dict[str, Any]
    ) -> None:
        import httpx

        url = entrega["url"]
        destino = self.por_url.get(url)
        if destino is None:
            self._desistir(
                caminho, entrega, "o destino não está mais em integracao.webhook"
            )
            return
        corpo = entrega["corpo"].encode("utf-8")
        agora = int(time.time())
        cabecalhos = {
            "content-type": "application/json",
            "user-agent": "backup_versionamento",
            "webhook-id": entrega["webhook_id"],
            "webhook-timestamp": str(agora),
        }
        if destino.segredo:
            cabecalhos["webhook-signature"] = assinar(
                destino.segredo, entrega["webhook_id"], agora, corpo
            )
        pedido = f"{entrega['evento']} {entrega['webhook_id']} -> {url_segura(url)}"
        espera = None
        tempo = self.tempo_limite
        saida = self._restante_saida()
        if saida is not None:  # exiting: no request outlives the deadline
            tempo = max(0.1, min(tempo, saida))
        try:
            resposta = cliente.post(
                url, content=corpo, headers=cabecalhos, timeout=tempo
            )
        except httpx.HTTPError as e:
            erro = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        else:
            if 200 <= resposta.status_code < 300:
                log.info("Webhook entregue: %s (HTTP %d)", pedido, resposta.status_code)
                # Health first: whoever sees the queue empty also sees the success.
                self.saude.sucesso(f"{pedido} (HTTP {resposta.status_code})")
                with contextlib.suppress(FileNotFoundError):
                    caminho.unlink()
                return
            erro = f"HTTP {resposta.status_code}"
            espera = espera_retry_after(resposta.headers.get("retry-after"))
        entrega["tentativas"] = int(entrega.get("tentativas", 0)) + 1
        entrega["ultimo_erro"] = erro
        if entrega["tentativas"] >= self.tentativas:
            self._desistir(caminho, entrega, erro)
            return
        if espera is None:
            espera = espera_exponencial(entrega["tentativas"])
        entrega["proxima_tentativa"] = time.time() + espera
        log.warning(
            "Webhook não entregue: %s: %s (tentativa %d de %d; próxima em %.1f s)",
            pedido,
            erro,
            entrega["tentativas"],
            self.tentativas,
            espera,
        )
        self.saude.erro(
            f"{pedido}: {erro} (tentativa {entrega['tentativas']} de {self.tentativas})"
        )
        if caminho.exists():
            self._gravar(caminho, entrega)

    def _desistir(
        self, caminho: Path, entrega: dict[str, Any] | None, erro: str
    ) -> None:
        """A final failure: keep the delivery in falhas/ for inspection."""
        descricao = (
            f"{entrega['evento']} {entrega['webhook_id']} -> "
            f"{url_segura(entrega['url'])}"
            if entrega
            else caminho.name
        )
        tentativas = entrega.get("tentativas", 0) if entrega else 0
        log.error(
            "Webhook descartado após %d tentativa(s): %s: %s (guardado em %s)",
            tentativas,
            descricao,
            erro,
            self.pasta_falhas,
        )
        self.saude.erro(f"{descricao}: {erro} (desistência)")
        try:
            self.pasta_falhas.mkdir(parents=True, exist_ok=True)
            if entrega is not None:
                self._gravar(caminho, entrega)
            os.replace(caminho, self.pasta_falhas / caminho.name)
        except OSError as e:
            log.warning(
                "Não foi possível mover %s para %s: %s", caminho, self.pasta_falhas, e
            )

    @staticmethod
    def _gravar(caminho: Path, entrega: dict[str, Any]) -> None:
        texto = json.dumps(entrega, ensure_ascii=False, indent=1) + "\n"
        escrever_atomico(caminho, texto.encode("utf-8"), modo=0o600)


def _contar(pasta: Path) -> int:
    try:
        return sum(1 for _ in pasta.glob("*.json"))
    except OSError:
        return 0


def _tentar_trava(arquivo: Path) -> int | None:
    """The sender's lock: held by one process at a time, released at exit."""
    try:
        fd = os.open(arquivo, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd
