"""CPU per stage of one backup (thread CPU time, not wall time).

Wall time on these 2-core VMs shared with other work is noise; thread CPU time
(`time.thread_time`) of each stage is not. The stages are timed by wrapping the
functions that do them (exclusive time: a wrapped call inside another is
subtracted from the outer one), and each thread's total is reported too.

    python benchmarks/perfil_backup.py ARQUIVO REPOSITORIO [--config X]

Runs the CLI `backup` in this process (the repository and the machine's caches
go where the arguments and XDG_CACHE_HOME say) and prints the table to stderr.
docs/DESEMPENHO.md ("Onde vai o tempo do backup") has the numbers.
"""

from __future__ import annotations

import collections
import contextlib
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backup_versionamento.armazenamento import (
    blob,
    escrita_atomica,
    fluxo,
    indice_blocos,
    objetos,
    pacote,
    repositorio,
)
from backup_versionamento.armazenamento.backends import local
from backup_versionamento.servicos import backup

CPU: collections.defaultdict[str, float] = collections.defaultdict(float)
CHAMADAS: collections.Counter[str] = collections.Counter()
POR_THREAD: collections.defaultdict[str, float] = collections.defaultdict(float)
_LOCAL = threading.local()
_TRAVA = threading.Lock()


def envolver(dono: Any, nome: str, rotulo: str) -> None:
    """Charge the thread CPU time of `dono.nome` (minus wrapped calls inside
    it) to `rotulo`."""
    original: Callable[..., Any] = getattr(dono, nome)

    def medido(*args: Any, **kwargs: Any) -> Any:
        pilha: list[float] = _LOCAL.__dict__.setdefault("pilha", [])
        inicio = time.thread_time()
        pilha.append(0.0)
        try:
            return original(*args, **kwargs)
        finally:
            gasto = time.thread_time() - inicio
            filhos = pilha.pop()
            with _TRAVA:
                CPU[rotulo] += gasto - filhos
                CHAMADAS[rotulo] += 1
            if pilha:
                pilha[-1] += gasto

    setattr(dono, nome, medido)


ESTAGIOS = [
    (fluxo, "_encher", "leitura (readinto)"),
    (fluxo, "detectar", "detecção de tensores"),
    (fluxo.GravadorBlocos, "gravar_arquivo", "thread principal: CDC + despacho"),
    (blob.Codificador, "id_bloco", "BLAKE3 dos blocos (ids)"),
    (blob, "_planos", "reagrupamento de bytes"),
    (blob.Codificador, "comprimir_se_compensa", "zstd (amostra + compressão)"),
    (blob.Codificador, "comprimir_agrupado", "zstd (amostra + compressão)"),
    (blob.Codificador, "cifrar_em", "cifragem AES-GCM"),
    (objetos.SessaoEscrita, "_gravar_em", "Python por bloco (sessão, pacote)"),
    (objetos.SessaoEscrita, "_confirmado", "Python por bloco (sessão, pacote)"),
    (objetos.SessaoEscrita, "_selar", "selar pacote (trailer)"),
    (pacote.PacoteEmConstrucao, "materializar", "cópia ao soltar o pacote"),
    (local.BackendLocal, "gravar", "escrita: abrir, renomear"),
    (escrita_atomica, "escrever_tudo", "escrita: writev para o page cache"),
    (local, "escrever_tudo", "escrita: writev para o page cache"),
    (os, "fsync", "fsync"),
    (objetos.SessaoEscrita, "concluir", "fragmento de índice + cache SQLite"),
    (indice_blocos.IndiceBlocos, "registrar", "fragmento de índice + cache SQLite"),
    (repositorio.Repositorio, "publicar", "sidecar + publicação"),
    (backup.ServicoBackup, "_analisar", "validação do modelo (sem subprocessos)"),
]


def _contar_threads() -> None:
    """Each thread's total CPU time, by name (pool numbering dropped)."""
    run = threading.Thread.run

    def medido(self: threading.Thread) -> None:
        try:
            run(self)
        finally:
            with _TRAVA:
                POR_THREAD[self.name.rsplit("_", 1)[0]] += time.thread_time()

    threading.Thread.run = medido  # type: ignore[method-assign]


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    arquivo, repo, *resto = sys.argv[1:]
    for dono, nome, rotulo in ESTAGIOS:
        if hasattr(dono, nome):
            envolver(dono, nome, rotulo)
    _contar_threads()
    from backup_versionamento.cli import main as cli

    parede = time.monotonic()
    with contextlib.suppress(SystemExit):
        cli(["backup", "--modelo", arquivo, "--base", repo, "--json", *resto])
    parede = time.monotonic() - parede
    POR_THREAD["MainThread"] = time.thread_time()
    uso = resource.getrusage(resource.RUSAGE_SELF)
    total = uso.ru_utime + uso.ru_stime
    saida = sys.stderr
    print(f"\n== {arquivo}: CPU por estágio (s)", file=saida)
    for rotulo, s in sorted(CPU.items(), key=lambda kv: -kv[1]):
        print(f"  {rotulo:42s} {s:6.3f}  ({CHAMADAS[rotulo]} chamadas)", file=saida)
    print(
        f"  {'(resto: partida, CLI, hashes do arquivo)':42s} "
        f"{total - sum(CPU.values()):6.3f}",
        file=saida,
    )
    print(
        f"  total CPU {total:.3f} (usuário {uso.ru_utime:.3f}, sistema "
        f"{uso.ru_stime:.3f}); parede {parede:.3f} (ruído numa máquina ocupada)",
        file=saida,
    )
    threads = ", ".join(
        f"{k} {v:.3f}" for k, v in sorted(POR_THREAD.items(), key=lambda kv: -kv[1])
    )
    print(f"  por thread: {threads}", file=saida)


if __name__ == "__main__":
    main()
