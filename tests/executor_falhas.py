"""Run one backup or limpeza and SIGKILL this process at a chosen stage.

Used by the crash tests as a real child process:

    python tests/executor_falhas.py '{"base": ..., "config": {...},
        "operacao": "backup" | "limpeza", "arquivo": ..., "tipo": ...,
        "etapa": "antes:pacotes/:2"}'

`etapa` is `QUANDO:PREFIXO:N`: the process kills itself with SIGKILL at the
N-th matching event, where QUANDO is `antes` (before a write of a key starting
with PREFIXO), `durante` (mid-write: at the fsync of its temp file, which is
left behind), `depois` (right after such a write is durable) or `apagar`
(before a delete). The stage never reached: the operation completes and the
process exits 0, which the tests treat as a failure of the scenario. With
`"encher": ARQUIVO` the process fills the file system holding ARQUIVO at that
stage instead of dying, and carries on.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.backends import (
    BackendComFalhas,
    BackendLocal,
)
from tests import ajuda_cifra

ajuda_cifra.aplicar()  # the encrypted rerun of the suites (patches the defaults)


def _na_etapa(prefixo: str, n: int, acao: Callable[[], None]) -> Callable[[str], None]:
    vistos = 0

    def gancho(chave: str) -> None:
        nonlocal vistos
        if chave.startswith(prefixo):
            vistos += 1
            if vistos == n:
                acao()

    return gancho


def _matar() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _encher(arquivo: Path) -> Callable[[], None]:
    """Fill the file system holding `arquivo` (a real ENOSPC from then on)."""

    def acao() -> None:
        with open(arquivo, "wb", buffering=0) as f:
            for tamanho in (1 << 20, 1 << 12, 1):
                bloco = b"\0" * tamanho
                try:
                    while f.write(bloco):
                        pass
                except OSError:
                    pass

    return acao


def _matar_no_fsync(base: Path, prefixo: str, n: int) -> None:
    """Die mid-write: at the fsync of the n-th temp file under base/prefixo,
    so a whole temp file is left that was never renamed to its key."""
    fsync = os.fsync
    pasta = os.path.join(os.path.realpath(base), prefixo)
    vistos = 0

    def fsync_fatal(fd: int) -> None:
        nonlocal vistos
        try:
            alvo = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            alvo = ""
        if alvo.startswith(pasta) and alvo.endswith(".tmp"):
            vistos += 1
            if vistos == n:
                os.kill(os.getpid(), signal.SIGKILL)
        fsync(fd)

    os.fsync = fsync_fatal


def main() -> int:
    pedido = json.loads(sys.argv[1])
    base = Path(pedido["base"])
    backend = BackendComFalhas(BackendLocal(base))
    quando, prefixo, n = pedido["etapa"].split(":")
    if quando == "durante":
        _matar_no_fsync(base, prefixo, int(n))
        quando = "nenhum"
    acao = _encher(Path(pedido["encher"])) if pedido.get("encher") else _matar
    gancho = _na_etapa(prefixo, int(n), acao)
    if quando != "nenhum":
        {
            "antes": backend.antes_de_gravar,
            "depois": backend.depois_de_gravar,
            "apagar": backend.antes_de_apagar,
        }[quando](gancho)
    with GerenciadorBackupVersionamento(base, pedido["config"], backend=backend) as g:
        if pedido["operacao"] == "backup":
            print(g.criar_backup(pedido["arquivo"], pedido.get("tipo", "retreino")))
        else:
            print(json.dumps(g.limpeza(), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
