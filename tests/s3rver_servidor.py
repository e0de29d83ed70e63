"""s3rver (npm) on 127.0.0.1: a second S3 implementation, one that ignores
`If-None-Match: *`. One server per test process, started on first use and
stopped at exit; `make instalar-teste` installs it into the venv (.venv/node).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from .s3_servidor import CREDENCIAIS, porta_livre

S3RVER = Path(sys.prefix) / "node" / "node_modules" / ".bin" / "s3rver"
BALDE = "balde"
# s3rver's one account: it checks every request's signature against it.
CHAVES = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}
AMBIENTE = {**CREDENCIAIS, **CHAVES}

_trava = threading.Lock()
_url: str | None = None


def _iniciar() -> str:
    if not S3RVER.exists():
        pytest.fail(f"{S3RVER} ausente: rode `make instalar-teste` (npm install)")
    pasta = tempfile.mkdtemp(prefix="s3rver-")
    porta = porta_livre()
    proc = subprocess.Popen(
        [
            *(str(S3RVER), "-d", pasta, "-a", "127.0.0.1", "-p", str(porta)),
            *("--silent", "--configure-bucket", BALDE),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which
        # OpenSSL 3 (Node >= 17) only offers through its legacy provider: without
        # it, any listing past 1000 keys fails with a 500.
        env={**os.environ, "NODE_OPTIONS": "--openssl-legacy-provider"},
    )

    def parar() -> None:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(pasta, ignore_errors=True)

    atexit.register(parar)
    limite = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", porta), 0.2).close()
            return f"http://127.0.0.1:{porta}"
        except OSError:
            assert proc.poll() is None, proc.stderr and proc.stderr.read()
            assert time.monotonic() < limite, "s3rver não abriu a porta"
            time.sleep(0.05)


def url() -> str:
    """The process-wide s3rver, started on first call."""
    global _url
    with _trava:
        if _url is None:
            _url = _iniciar()
        return _url
