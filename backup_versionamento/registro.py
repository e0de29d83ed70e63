"""Logging: the spec's line format, to a rotating file inside the repository."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from .base.configuracao import Secao
from .texto import seguro

NOME_LOGGER = "SistemaBackup"
FORMATO = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
FORMATO_DETALHADO = (
    "%(asctime)s - %(name)s - %(levelname)s - "
    "[%(threadName)s %(module)s:%(lineno)d] - %(message)s"
)
FORMATO_DATA = "%Y-%m-%d %H:%M:%S"

log = logging.getLogger(NOME_LOGGER)

# The `desenvolvimento` configuration section: the log's level and line format.
SECAO_CONFIG = Secao("desenvolvimento", {"modo_debug": False, "log_detalhado": False})


class FormatadorSeguro(logging.Formatter):
    """The spec's format, with the message's control characters escaped.

    Messages carry user strings (model names, paths, descriptions): a newline or
    an ANSI escape in one must not forge a log line or drive the terminal of
    whoever runs `tail -f`. Tracebacks keep their lines.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = seguro(record.message)
        return super().formatMessage(record)


def _manipulador_arquivo(arquivo: Path) -> logging.Handler:
    """The rotating file handler, quiet when the log itself cannot be written.

    A full disk (or a read-only or vanished folder) must not print logging's
    `--- Logging error ---` traceback on the terminal, nor let a failing flush at
    close hide the command's own error: one short line on stderr says the log is
    unavailable, and the command goes on (its error message and exit code are the
    ones that matter).
    """
    import logging.handlers  # lazy: startup time (docs/DESEMPENHO.md)
    import sys

    class ManipuladorArquivo(logging.handlers.RotatingFileHandler):
        avisado = False

        def handleError(self, record: logging.LogRecord) -> None:
            erro = sys.exc_info()[1]
            if not isinstance(erro, OSError):
                super().handleError(record)
                return
            if not self.avisado and logging.raiseExceptions:
                self.avisado = True
                from .base.escrita import mensagem_os

                motivo = mensagem_os(erro)
                with contextlib.suppress(Exception):
                    print(
                        f"aviso: não foi possível gravar no log {self.baseFilename}: "
                        f"{motivo}",
                        file=sys.stderr,
                    )

        def flush(self) -> None:
            with contextlib.suppress(OSError):
                super().flush()

        def close(self) -> None:
            with contextlib.suppress(OSError):
                super().close()

    return ManipuladorArquivo(
        arquivo, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )


def configurar(
    pasta_logs: Path, *, debug: bool = False, detalhado: bool = False
) -> Path:
    """Attach one rotating file handler per log file (idempotent across managers)."""
    pasta_logs.mkdir(parents=True, exist_ok=True)
    arquivo = (pasta_logs / "backup_system.log").resolve()
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    for h in log.handlers:
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename) == arquivo:
            return arquivo
    handler = _manipulador_arquivo(arquivo)
    handler.setFormatter(
        FormatadorSeguro(FORMATO_DETALHADO if detalhado else FORMATO, FORMATO_DATA)
    )
    log.addHandler(handler)
    return arquivo


def remover_handlers(pasta_logs: Path) -> None:
    """Detach and close the handlers of one repository (used by close())."""
    arquivo = (pasta_logs / "backup_system.log").resolve()
    for h in list(log.handlers):
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename) == arquivo:
            log.removeHandler(h)
            h.close()
