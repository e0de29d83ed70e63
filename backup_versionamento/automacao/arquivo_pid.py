"""PID file with an flock: the lock, not the number, says whether a daemon runs.

A PID alone cannot tell a live daemon from a stale file whose number was reused
by another process; the kernel drops an flock when its holder dies, so a stale
file is simply one nobody holds, and it is taken over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from pathlib import Path

from ..erros import ErroDaemon

NOME_ARQUIVO = "daemon.pid"


def ler_pid(arquivo: Path) -> int | None:
    try:
        texto = arquivo.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(texto) if texto.isdigit() else None


def processo_vivo(pid: int) -> bool:
    """True when `pid` exists and is not a zombie (a zombie has already exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            estado = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return estado not in ("Z", "X")


def trava_ocupada(arquivo: Path) -> bool:
    """True when some process holds the PID file's lock (a daemon is running)."""
    try:
        fd = os.open(arquivo, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class ArquivoPid:
    """The daemon's PID file, locked for the daemon's whole life."""

    def __init__(self, arquivo: Path) -> None:
        self.arquivo = arquivo
        self.fd: int | None = None

    def adquirir(self, tempo_limite: float = 0.3) -> None:
        """Lock the PID file or raise ErroDaemon naming the running daemon.

        Retries briefly: `status` holds a shared lock for microseconds to look, a
        daemon holds it for good.
        """
        self.arquivo.parent.mkdir(parents=True, exist_ok=True)
        prazo = time.monotonic() + tempo_limite
        while True:
            fd = os.open(self.arquivo, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise ErroDaemon(
                        f"não foi possível travar {self.arquivo}: {e}"
                    ) from e
                if time.monotonic() >= prazo:
                    pid = ler_pid(self.arquivo)
                    quem = f" (pid {pid})" if pid else ""
                    raise ErroDaemon(
                        f"o daemon já está em execução{quem}; use 'parar' antes de "
                        f"iniciar outro (arquivo de PID: {self.arquivo})"
                    ) from None
                time.sleep(0.05)
                continue
            # The file may have been removed and recreated while we waited: the lock
            # must be on the file that the path names now.
            try:
                mesmo = os.fstat(fd).st_ino == os.stat(self.arquivo).st_ino
            except FileNotFoundError:
                mesmo = False
            if mesmo:
                self.fd = fd
                return
            os.close(fd)

    def pid_anterior(self) -> int | None:
        """The number left by a previous daemon that is gone (a stale file), if any."""
        return ler_pid(self.arquivo)

    def escrever(self, pid: int | None = None) -> None:
        """Record our PID (after detaching, the PID is the final process's)."""
        if self.fd is None:
            raise ErroDaemon("arquivo de PID não travado")
        texto = f"{os.getpid() if pid is None else pid}\n".encode("ascii")
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, texto, 0)
        os.fsync(self.fd)

    def liberar(self, remover: bool = True) -> None:
        """Remove the file while still holding the lock, then unlock."""
        if self.fd is None:
            return
        if remover:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.arquivo)
        os.close(self.fd)
        self.fd = None

    def fechar_sem_liberar(self) -> None:
        """Close our descriptor; the lock stays while another (forked) copy is open."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
