"""A real S3-compatible server (moto in server mode) on 127.0.0.1, for the tests.

One server per test process, started on first use and stopped at exit; each
test takes its own bucket or prefix. Fake credentials go in the environment so
neither boto3 nor the CLI subprocesses ever look for real ones.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import uuid
from typing import Any

CREDENCIAIS = {
    "AWS_ACCESS_KEY_ID": "teste",
    "AWS_SECRET_ACCESS_KEY": "teste",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_AMBIENTE_REMOVIDO = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")

_trava = threading.Lock()
_servidor: ServidorS3 | None = None


def porta_livre() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServidorS3:
    """moto's ThreadedMotoServer on a free loopback port; can stop and restart."""

    def __init__(self, porta: int | None = None) -> None:
        self.porta = porta or porta_livre()
        self.url = f"http://127.0.0.1:{self.porta}"
        self._moto: Any = None
        self._compartilhado: str | None = None

    def iniciar(self) -> ServidorS3:
        from moto.server import ThreadedMotoServer

        for nome, valor in CREDENCIAIS.items():
            os.environ[nome] = valor
        for nome in _AMBIENTE_REMOVIDO:
            os.environ.pop(nome, None)
        self._moto = ThreadedMotoServer(
            ip_address="127.0.0.1", port=self.porta, verbose=False
        )
        self._moto.start()
        return self

    def parar(self) -> None:
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def cliente(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1")

    def novo_bucket(self, nome: str | None = None) -> str:
        nome = nome or f"balde-{uuid.uuid4().hex[:12]}"
        self.cliente().create_bucket(Bucket=nome)
        return nome

    def bucket_compartilhado(self) -> str:
        """One bucket for tests that each use their own prefix."""
        if self._compartilhado is None:
            self._compartilhado = self.novo_bucket()
        return self._compartilhado

    def ambiente(self) -> dict[str, str]:
        """Environment for a CLI subprocess talking to this server."""
        return {**CREDENCIAIS, "AWS_ENDPOINT_URL": self.url}


def servidor() -> ServidorS3:
    """The process-wide server, started on first call."""
    global _servidor
    with _trava:
        if _servidor is None:
            _servidor = ServidorS3().iniciar()
            atexit.register(_servidor.parar)
        return _servidor
