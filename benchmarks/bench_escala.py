#!/usr/bin/env python3
"""Benchmark de escala do motor v2: o que não depende de vazão.

Uso: python benchmarks/bench_escala.py [--pasta DIR] [--blocos 4000000] [--gib 5]

1. Um modelo de 5 GiB inalterado (arquivo esparso) copiado de novo: quanto tempo o
   segundo backup leva (reconhecido por tamanho, mtime, inode e ctime, sem ler), e
   com --forcar-leitura para comparar.
2. `listar` com 10.000 versões de um modelo: processo novo com o cache desta máquina
   frio (primeira vez) e quente.
3. O índice de blocos desta máquina com 4 milhões de blocos (o tamanho de 1 TiB de
   modelos com blocos de ~320 KiB): bytes por bloco em disco, memória do processo,
   tempo de carga e de consulta.
Imprime uma tabela Markdown na saída padrão; cada item roda num processo novo.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_backup import compilar_bytecode

RAIZ = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RAIZ))
CLI = [sys.executable, str(RAIZ / "inicializar_backup.py")]


def _pico_rss_kib() -> int:
    """VmHWM of this process (ru_maxrss would include a forked parent's pages)."""
    for linha in Path("/proc/self/status").read_text().splitlines():
        if linha.startswith("VmHWM:"):
            return int(linha.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _rodar(*args: str, env: dict[str, str]) -> float:
    inicio = time.perf_counter()
    r = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True)
    segundos = time.perf_counter() - inicio
    if r.returncode != 0:
        raise SystemExit(f"falhou: {' '.join(args)}\n{r.stderr}")
    return segundos


def inalterado(pasta: Path, gib: int, env: dict[str, str]) -> list[str]:
    modelo = pasta / "grande.pt"
    with open(modelo, "wb") as f:
        f.truncate(gib << 30)
        f.seek((gib << 30) // 2)
        f.write(os.urandom(1 << 20))  # some real data in the middle
    repo = pasta / "repo_inalterado"
    base = ["--base", str(repo), "--config", str(pasta / "cfg.json")]
    primeira = _rodar("backup", "--modelo", str(modelo), *base, env=env)
    segundas = [
        _rodar("backup", "--modelo", str(modelo), *base, env=env) for _ in range(3)
    ]
    lendo = _rodar(
        "backup", "--modelo", str(modelo), "--forcar-leitura", *base, env=env
    )
    modelo.unlink()
    shutil.rmtree(repo)
    return [
        f"| modelo de {gib} GiB, primeiro backup (lê tudo) | {primeira:.2f} s |",
        f"| o mesmo modelo inalterado, de novo (mediana de 3, processo novo) | "
        f"{statistics.median(segundas):.3f} s |",
        f"| o mesmo com `--forcar-leitura` | {lendo:.2f} s |",
    ]


def dez_mil_versoes(pasta: Path, env: dict[str, str]) -> list[str]:
    from backup_versionamento import GerenciadorBackupVersionamento
    from backup_versionamento.armazenamento.sidecar import chave_sidecar

    repo = pasta / "repo_listar"
    m = pasta / "m.pkl"
    m.write_bytes(b"base")
    with GerenciadorBackupVersionamento(
        repo, {"validacao": {"modo": "desligado"}}
    ) as g:
        g.criar_backup(m, "melhoria")
        sc = g.repo.ler_versao("m.pkl", "1.0.0")
        for i in range(1, 10_000):
            v = f"1.0.{i}"
            g.backend.gravar(
                chave_sidecar("m.pkl", v),
                dataclasses.replace(sc, versao=v).bytes_canonicos(),
            )
    args = ("listar", "--modelo", "m.pkl", "--json", "--base", str(repo))
    frio = _rodar(*args, env=env)
    quentes = [_rodar(*args, env=env) for _ in range(3)]
    partida = [_rodar("--help", env=env) for _ in range(3)]
    shutil.rmtree(repo)
    return [
        f"| `listar` 10.000 versões, cache frio (processo novo) | {frio:.2f} s |",
        f"| `listar` 10.000 versões, cache quente (mediana de 3) | "
        f"{statistics.median(quentes):.2f} s |",
        f"| (só a partida do Python + CLI, `--help`) | "
        f"{statistics.median(partida):.2f} s |",
    ]


def indice_blocos(pasta: Path, n_blocos: int) -> list[str]:
    """Runs in its own process (see main) so memory is this item's alone."""
    from backup_versionamento.armazenamento.indice_blocos import IndiceBlocos
    from backup_versionamento.armazenamento.pacote import Local

    arquivo = pasta / "blocos.sqlite"
    rss_antes = _pico_rss_kib()
    indice = IndiceBlocos(arquivo, cache_mb=64)
    rng = random.Random(1)
    por_pacote = 50  # ~16 MiB packs of ~320 KiB chunks
    lote = 100_000
    amostra: list[str] = []
    inicio = time.perf_counter()
    for base in range(0, n_blocos, lote):
        locais = {}
        pacote = ""
        for i in range(base, min(base + lote, n_blocos)):
            if i % por_pacote == 0:
                pacote = rng.randbytes(32).hex()
            id_bloco = rng.randbytes(32).hex()
            locais[id_bloco] = Local(
                pacote, (i % por_pacote) * 327_680, 327_700, 0, 327_680
            )
            if i % 4000 == 0:
                amostra.append(id_bloco)
        indice.registrar(locais, f"frag{base}")
    carga = time.perf_counter() - inicio
    indice.fechar()
    bytes_disco = sum(
        os.path.getsize(p) for p in pasta.glob("blocos.sqlite*") if p.is_file()
    )
    indice = IndiceBlocos(arquivo, cache_mb=64)
    ausentes = [rng.randbytes(32).hex() for _ in range(len(amostra))]
    inicio = time.perf_counter()
    achados = sum(indice.contem(i) for i in amostra)
    faltas = sum(indice.contem(i) for i in ausentes)
    consulta_us = (time.perf_counter() - inicio) / (2 * len(amostra)) * 1e6
    indice.fechar()
    assert achados == len(amostra) and faltas == 0
    rss = (_pico_rss_kib() - rss_antes) * 1024
    return [
        f"| índice de blocos: {n_blocos:,} blocos carregados | {carga:.1f} s |".replace(
            ",", "."
        ),
        f"| índice de blocos: em disco por bloco | {bytes_disco / n_blocos:.0f} B |",
        f"| índice de blocos: memória do processo a mais (pico) por bloco | "
        f"{rss / n_blocos:.1f} bytes ({rss / 2**20:.0f} MiB no total) |",
        f"| índice de blocos: consulta (achado ou não, sem cache aquecido) | "
        f"{consulta_us:.0f} µs |",
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pasta", type=Path, default=None)
    p.add_argument("--blocos", type=int, default=4_000_000)
    p.add_argument("--gib", type=int, default=5)
    p.add_argument("--so-indice", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    pasta = Path(tempfile.mkdtemp(prefix="bench-escala-", dir=args.pasta))
    try:
        if args.so_indice:
            print(json.dumps(indice_blocos(pasta, args.blocos)))
            return 0
        compilar_bytecode()
        env = {**os.environ, "XDG_CACHE_HOME": str(pasta / "cache")}
        (pasta / "cfg.json").write_text(
            json.dumps({"validacao": {"modo": "desligado"}})
        )
        linhas = ["| medida | resultado |", "| --- | ---: |"]
        linhas += inalterado(pasta, args.gib, env)
        linhas += dez_mil_versoes(pasta, env)
        r = subprocess.run(
            [sys.executable, __file__, "--so-indice", "--blocos", str(args.blocos)],
            capture_output=True,
            text=True,
            check=True,
        )
        linhas += json.loads(r.stdout)
        print("\n".join(linhas))
    finally:
        shutil.rmtree(pasta, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
