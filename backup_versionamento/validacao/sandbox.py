"""Run a Python script in a child process under resource limits and a hard timeout.

The child is `python -I -B` (no user site, no PYTHON* variables, no cwd on the
path) in a fresh temporary folder with an almost empty environment. Limits are set
by the parent with prlimit(2) before the child reads its task -- no preexec_fn,
which is unsafe once the daemon runs threads -- and the child sets them again
itself where prlimit does not exist. The child runs in its own session, so a
timeout kills its whole process group, grandchildren included.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARCA = "@@BV_RESULTADO@@"
SCRIPT_FILHO = Path(__file__).with_name("_filho.py")
_CAUDA_STDERR = 4000
_LIMITE_ARQUIVO_MB = 2048


@dataclass
class ResultadoIsolado:
    """Outcome of one child run; `dados` is the child's JSON line, if it printed one."""

    dados: dict[str, Any] | None
    codigo_saida: int | None
    tempo_esgotado: bool
    duracao_s: float
    stderr: str
    motivo: str | None


def ambiente_minimo(pasta: Path) -> dict[str, str]:
    """Only what a library needs to import: no credentials, no user paths."""
    env = {
        "PATH": os.defpath,
        "HOME": str(pasta),
        "TMPDIR": str(pasta),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "KERAS_HOME": str(pasta / ".keras"),
        "MPLCONFIGDIR": str(pasta / ".mpl"),
        "XDG_CACHE_HOME": str(pasta / ".cache"),
    }
    for chave in ("LD_LIBRARY_PATH", "KERAS_BACKEND", "SYSTEMROOT"):
        if chave in os.environ:
            env[chave] = os.environ[chave]
    return env


def limites(
    tempo_limite: float, memoria_limite_mb: int, arquivo_limite_mb: int | None = None
) -> dict[str, int]:
    """rlimit values (soft limits; hard limits are a little higher).

    The file-size limit only stops a runaway writer; a loader that unpacks the
    model (a big .keras) needs about the model's size, so callers raise it.
    """
    return {
        "memoria_bytes": memoria_limite_mb << 20,
        # CPU seconds: two threads busy for the whole wall-clock budget, plus slack;
        # the wall-clock timeout is the real guard, this one survives a lost parent.
        "cpu_s": math.ceil(tempo_limite * 2) + 10,
        "arquivo_bytes": max(_LIMITE_ARQUIVO_MB, arquivo_limite_mb or 0) << 20,
    }


_RECURSOS = (
    ("memoria_bytes", "RLIMIT_AS"),
    ("cpu_s", "RLIMIT_CPU"),
    ("arquivo_bytes", "RLIMIT_FSIZE"),
)


def _aplicar_externos(pid: int, lim: dict[str, int]) -> None:
    prlimit = getattr(resource, "prlimit", None)
    if prlimit is None:
        return
    for chave, nome in _RECURSOS:
        recurso = getattr(resource, nome, None)
        if recurso is None:
            continue
        macio = lim[chave]
        duro = macio + 5 if chave == "cpu_s" else macio
        with contextlib.suppress(OSError, ValueError):
            prlimit(pid, recurso, (macio, duro))
    with contextlib.suppress(OSError, ValueError):
        prlimit(pid, resource.RLIMIT_CORE, (0, 0))


def _matar_grupo(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _ultima_linha_json(saida: bytes) -> dict[str, Any] | None:
    for linha in reversed(saida.decode("utf-8", "replace").splitlines()):
        if linha.startswith(MARCA):
            try:
                dados = json.loads(linha[len(MARCA) :])
            except json.JSONDecodeError:
                return None
            return dados if isinstance(dados, dict) else None
    return None


def _motivo(
    codigo: int | None,
    esgotado: bool,
    tempo_limite: float,
    memoria_limite_mb: int,
    stderr: str,
) -> str:
    if esgotado:
        return (
            f"tempo limite de {tempo_limite:g} s excedido: o processo de teste foi "
            "encerrado (grupo de processos finalizado)"
        )
    memoria = any(
        s in stderr
        for s in ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory")
    )
    if codigo is not None and codigo < 0:
        try:
            nome = signal.Signals(-codigo).name
        except ValueError:
            nome = f"sinal {-codigo}"
        if nome == "SIGXCPU":
            return "limite de tempo de CPU excedido: processo de teste encerrado"
        if memoria or nome == "SIGKILL":
            return (
                f"o processo de teste foi encerrado ({nome}); provável excesso do "
                f"limite de memória de {memoria_limite_mb} MB"
            )
        if nome == "SIGSEGV":
            return (
                "o processo de teste falhou com SIGSEGV ao ler o modelo: arquivo "
                "provavelmente corrompido ou incompatível com a biblioteca"
            )
        return f"o processo de teste terminou com {nome}"
    if memoria:
        return f"limite de memória de {memoria_limite_mb} MB excedido no teste"
    ultima = stderr.strip().splitlines()[-1] if stderr.strip() else "sem mensagem"
    return f"o processo de teste terminou com código {codigo} sem resultado ({ultima})"


def executar_isolado(
    script: Path,
    entrada: dict[str, Any],
    *,
    tempo_limite: float,
    memoria_limite_mb: int,
    arquivo_limite_mb: int | None = None,
) -> ResultadoIsolado:
    """Run `script` with `entrada` as JSON on stdin; wait at most `tempo_limite` s.

    The script is expected to print one line `MARCA + json` on stdout.
    """
    lim = limites(tempo_limite, memoria_limite_mb, arquivo_limite_mb)
    entrada = {**entrada, "limites": lim}
    inicio = time.monotonic()
    esgotado = False
    with tempfile.TemporaryDirectory(prefix="bv_sandbox_") as tmp:
        pasta = Path(tmp)
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-X", "faulthandler", str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=pasta,
            env=ambiente_minimo(pasta),
            start_new_session=True,
            close_fds=True,
        )
        try:
            _aplicar_externos(proc.pid, lim)
            try:
                saida, erro = proc.communicate(
                    json.dumps(entrada).encode("utf-8"), timeout=tempo_limite
                )
            except subprocess.TimeoutExpired:
                esgotado = True
                _matar_grupo(proc)
                try:
                    saida, erro = proc.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    # A grandchild left the group and kept our pipes open.
                    for tubo in (proc.stdout, proc.stderr):
                        if tubo is not None:
                            tubo.close()
                    proc.wait()
                    saida, erro = b"", b""
            else:
                # Anything the child left behind in its group goes with it.
                _matar_grupo(proc)
        except BaseException:
            _matar_grupo(proc)
            proc.wait()
            raise
    duracao = time.monotonic() - inicio
    stderr = erro.decode("utf-8", "replace")[-_CAUDA_STDERR:]
    dados = None if esgotado else _ultima_linha_json(saida)
    motivo = (
        None
        if dados is not None
        else _motivo(proc.returncode, esgotado, tempo_limite, memoria_limite_mb, stderr)
    )
    return ResultadoIsolado(dados, proc.returncode, esgotado, duracao, stderr, motivo)
