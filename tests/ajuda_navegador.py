"""A real headless Chromium (Debian's `chromium`) and poppler for the report tests.

Network requests from a page are caught by a tripwire: Chromium's proxy points at
a loopback listener that records the host of every request, DNS is mapped to
nowhere, and loopback is not bypassed. Chromium itself still phones its own
services (component updates, time, accounts) whatever the flags; those hosts are
set apart, everything else is the page's doing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# src/href/action/poster attributes and CSS url() that would make the browser fetch.
URL_EXTERNA = re.compile(
    r"""(?:\b(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import""",
    re.IGNORECASE,
)


def exigir(programa: str) -> str:
    """The program's path; skip locally when missing, fail in CI (it installs it)."""
    caminho = shutil.which(programa)
    if caminho is None:
        mensagem = f"{programa} não instalado (make instalar-teste instala no Debian)"
        if os.environ.get("CI"):
            pytest.fail(mensagem)
        pytest.skip(mensagem)
    return caminho


# Chromium's own background services (not requests of the page under test).
HOSTS_DO_CHROMIUM = {
    "clients2.google.com",
    "update.googleapis.com",
    "accounts.google.com",
    "optimizationguide-pa.googleapis.com",
    "content-autofill.googleapis.com",
    "safebrowsingohttpgateway.googleapis.com",
    "redirector.gvt1.com",
    "edgedl.me.gvt1.com",
    "www.google.com",
}
_ALVO = re.compile(rb"^[A-Z]+ (?:https?://)?([^/:\s]+)")


class Armadilha:
    """A proxy-shaped TCP listener on loopback that records each request's host."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.porta = self.sock.getsockname()[1]
        self.hosts: list[str] = []
        self._parar = threading.Event()
        self._thread = threading.Thread(target=self._laco, name="armadilha-rede")
        self._thread.start()

    def _laco(self) -> None:
        while not self._parar.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            try:
                c.settimeout(5)
                dados = c.recv(4096)
            except OSError:
                dados = b""
            finally:
                c.close()
            # A connection opened ahead of time and never used (Chromium's
            # preconnect) sends nothing: not a request. Anything sent counts.
            if dados:
                m = _ALVO.match(dados)
                self.hosts.append(m.group(1).decode() if m else "?")

    @property
    def da_pagina(self) -> list[str]:
        """Hosts requested by the page (Chromium's own services left out)."""
        return [h for h in self.hosts if h not in HOSTS_DO_CHROMIUM]

    def fechar(self) -> None:
        self._parar.set()
        self._thread.join(5)
        self.sock.close()


@contextmanager
def armadilha_de_rede() -> Iterator[Armadilha]:
    a = Armadilha()
    try:
        yield a
    finally:
        a.fechar()


def chromium(
    alvo: str,
    perfil: Path,
    *args: str,
    proxy: int | None = None,
    loopback_direto: bool = False,
    timeout: float = 90,
) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on `alvo` (a file:// or http:// URL) with `args`.

    With `proxy`, every request goes to that port, loopback included unless
    `loopback_direto` (a page served on loopback must reach its server).
    """
    programa = exigir("chromium")
    comando = [
        programa,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-dev-shm-usage",
        f"--user-data-dir={perfil}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ]
    if proxy is not None:
        comando.append(f"--proxy-server=http://127.0.0.1:{proxy}")
        if not loopback_direto:
            comando.append("--proxy-bypass-list=<-loopback>")
    return subprocess.run(
        [*comando, *args, alvo],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HOME": str(perfil)},
    )


def pixels_escuros(pgm: bytes) -> tuple[int, int]:
    """(dark pixels, all pixels) of a binary PGM (P5, 8-bit) from pdftoppm -gray."""
    partes = pgm.split(maxsplit=4)
    assert partes[0] == b"P5", "não é PGM binário"
    largura, altura = int(partes[1]), int(partes[2])
    dados = partes[4][: largura * altura]
    return sum(1 for b in dados if b < 160), largura * altura
