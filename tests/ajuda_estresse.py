"""One "machine" of the shared-repository stress test, run as its own process.

    python tests/ajuda_estresse.py backup  BASE SAIDA DURACAO_S SEMENTE MODELOS...
    python tests/ajuda_estresse.py limpeza BASE SAIDA DURACAO_S   (until PASTA/parar)

Each process has its own XDG_CACHE_HOME (set by the caller), so nothing on this
machine (flock, caches) is shared: only the repository is. A backup machine
writes models built from a small pool of pieces, so a new version often reuses
chunks that only versions already removed by retention had used. Every answer
(a promised version and its SHA-256, or an error) is one JSON line in SAIDA; the
collector writes the versions it removed. The test then checks the repository
against these promises.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

RAIZ = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RAIZ))

from backup_versionamento import GerenciadorBackupVersionamento  # noqa: E402
from backup_versionamento.erros import ErroBackup  # noqa: E402

PECA = 512 * 1024
PECAS = 6
CFG: dict[str, Any] = {
    "validacao": {"modo": "desligado"},
    "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
    "performance": {"threads_backup": 2},
    "retencao": {
        "por_tempo": {
            "ultimos_7_dias": "nenhuma",
            "ultimos_30_dias": "nenhuma",
            "ultimos_90_dias": "nenhuma",
        },
        "por_quantidade": {"maximo_versoes_por_modelo": 2},
        "carencia_coleta_minutos": 0,
    },
}


def peca(i: int) -> bytes:
    return random.Random(1000 + i).randbytes(PECA)


def _linha(saida: Any, **dados: Any) -> None:
    saida.write(json.dumps(dados) + "\n")
    saida.flush()


def maquina_backup(
    base: str, saida: Any, duracao: float, semente: int, modelos: list[str]
) -> None:
    rnd = random.Random(semente)
    pecas = [peca(i) for i in range(PECAS)]
    pasta = Path(saida.name).parent / f"origem-{semente}"
    pasta.mkdir(parents=True, exist_ok=True)
    fim = time.monotonic() + duracao
    with GerenciadorBackupVersionamento(base, CFG) as g:
        feitos = 0
        # At least a few backups each, however slow the machine is today.
        while time.monotonic() < fim or feitos < 6:
            feitos += 1
            modelo = rnd.choice(modelos)
            receita = [rnd.randrange(PECAS) for _ in range(3)]
            dados = b"".join(pecas[i] for i in receita)
            arq = pasta / modelo
            arq.write_bytes(dados)
            sha = hashlib.sha256(dados).hexdigest()
            try:
                r = g.criar_backup(arq, "patch")
            except ErroBackup as e:
                _linha(saida, tipo="erro", erro=str(e), classe=type(e).__name__)
                continue
            _linha(
                saida,
                tipo="versao",
                modelo=r.modelo,
                versao=r.versao,
                nova=r.nova_versao,
                sha256=sha,
            )


def maquina_limpeza(base: str, saida: Any, duracao: float) -> None:
    """Collect in a loop until the backup machines are done (file 'parar')."""
    rnd = random.Random(0)
    parar = Path(saida.name).parent.parent / "parar"
    with GerenciadorBackupVersionamento(base, CFG) as g:
        while not parar.exists():
            time.sleep(rnd.uniform(0, 0.5))  # room for backups between cleanups
            try:
                r = g.limpeza()
            except ErroBackup as e:
                _linha(saida, tipo="erro", erro=str(e), classe=type(e).__name__)
                time.sleep(0.1)
                continue
            _linha(saida, tipo="limpeza", removidas=r["versoes_removidas"])


def main(argv: list[str]) -> int:
    papel, base, arquivo, duracao = argv[0], argv[1], argv[2], float(argv[3])
    with open(arquivo, "a", encoding="utf-8") as saida:
        if papel == "backup":
            maquina_backup(base, saida, duracao, int(argv[4]), argv[5:])
        else:
            maquina_limpeza(base, saida, duracao)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
