#!/usr/bin/env python3
"""Benchmark dos relatórios e do painel num repositório com muitas versões.

Uso: python benchmarks/bench_relatorios.py [--versoes 10000] [--modelos 20]
     [--pasta DIR] [--threads 8]

Cria (uma vez: com --pasta, um repositório já criado é reaproveitado) N versões
pela fachada, com arquivos minúsculos, métricas e `validacao.modo: desligado`, e
um diário de atividade com um evento por versão. Depois mede, em tempo de parede:
os dados do relatório (JSON), o HTML, o PDF, os três arquivos juntos (como o
`relatorio` grava), a página do painel e uma coleta de /metrics. Imprime uma
tabela Markdown; código de saída 1 se um limite foi ultrapassado.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

RAIZ_PROJETO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RAIZ_PROJETO))

from backup_versionamento import GerenciadorBackupVersionamento  # noqa: E402
from backup_versionamento.relatorios import gerar_relatorio  # noqa: E402
from backup_versionamento.relatorios.dados import montar_relatorio  # noqa: E402
from backup_versionamento.relatorios.html import renderizar_relatorio  # noqa: E402
from backup_versionamento.relatorios.painel import Painel  # noqa: E402
from backup_versionamento.relatorios.pdf import renderizar_pdf  # noqa: E402

CONFIG = {"validacao": {"modo": "desligado"}, "espaco_disco": {"reserva_mb": 0}}
# "all three reports in seconds", "the page well under a second".
LIMITE_RELATORIOS_S = 10.0
LIMITE_PAGINA_S = 0.5
LIMITE_PRIMEIRA_PAGINA_S = 1.0


def povoar(
    g: GerenciadorBackupVersionamento,
    pasta: Path,
    versoes: int,
    modelos: int,
    threads: int,
) -> None:
    """`versoes` tiny versions spread over `modelos` models, through the facade."""
    arquivos = pasta / "arquivos"
    arquivos.mkdir(exist_ok=True)
    feitos = [0]
    inicio = time.perf_counter()

    def um(i: int) -> None:
        modelo = f"modelo_{i % modelos:02d}.pkl"
        arq = arquivos / f"{i}.pkl"
        arq.write_bytes(i.to_bytes(4, "big") * 32)
        g.criar_backup(
            arq,
            "patch" if i % 7 else "minor",
            f"versão {i}",
            metricas={
                "taxa_acerto_media": 0.55 + (i % 100) / 1000,
                "acertos_11": 0.08 + (i % 50) / 1000,
            },
            nome_modelo=modelo,
        )
        arq.unlink()
        feitos[0] += 1
        if feitos[0] % 500 == 0:
            taxa = feitos[0] / (time.perf_counter() - inicio)
            print(f"  {feitos[0]}/{versoes} versões ({taxa:.0f}/s)", file=sys.stderr)

    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(um, range(versoes)))
    agora = datetime.now(timezone.utc)
    linhas = []
    for i in range(versoes):
        momento = agora - timedelta(minutes=13 * (versoes - i))
        linhas.append(
            json.dumps(
                {
                    "id": f"{i:08x}",
                    "evento": "backup_criado" if i % 40 else "backup_falhou",
                    "momento": momento.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "dados": {
                        "modelo": f"modelo_{i % modelos:02d}.pkl",
                        "versao": "1.0.0",
                        "origem": ("manual", "agendado", "monitorado")[i % 3],
                        "erro": "falha simulada",
                        "duracao_s": 0.05,
                    },
                }
            )
        )
    diario = Path(g.pasta_logs) / "atividade.jsonl"
    diario.parent.mkdir(parents=True, exist_ok=True)
    diario.write_text("\n".join(linhas) + "\n", encoding="utf-8")


def medir(funcao: Callable[[], Any], repeticoes: int) -> tuple[float, Any]:
    tempos, resultado = [], None
    for _ in range(repeticoes):
        t = time.perf_counter()
        resultado = funcao()
        tempos.append(time.perf_counter() - t)
    return statistics.median(tempos), resultado


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versoes", type=int, default=10_000)
    ap.add_argument("--modelos", type=int, default=20)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--repeticoes", type=int, default=3)
    ap.add_argument("--pasta", type=Path, help="reaproveita o repositório desta pasta")
    args = ap.parse_args()
    temporaria = args.pasta is None
    pasta = Path(tempfile.mkdtemp(prefix="bench_rel_")) if temporaria else args.pasta
    pasta.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_CACHE_HOME", str(pasta / "cache"))
    try:
        with GerenciadorBackupVersionamento(pasta / "repo", CONFIG) as g:
            existentes = g.status()["versoes"]
            if existentes < args.versoes:
                print(f"Criando {args.versoes} versões...", file=sys.stderr)
                t = time.perf_counter()
                povoar(g, pasta, args.versoes, args.modelos, args.threads)
                print(f"  feito em {time.perf_counter() - t:.0f} s", file=sys.stderr)
            total = g.status()["versoes"]
            n = args.repeticoes
            t_dados, rel = medir(lambda: montar_relatorio(g), n)
            t_html, html = medir(lambda: renderizar_relatorio(rel), n)
            t_pdf, pdf = medir(lambda: renderizar_pdf(html), n)
            saida = pasta / "saida"
            t_tres, _ = medir(lambda: gerar_relatorio(g, saida), n)
            painel = Painel(g)
            # The first page reads the whole journal and lists every version;
            # later ones read only new journal lines and list again on change.
            t_primeira, _ = medir(painel.html, 1)
            t_pagina, pagina = medir(painel.html, n)
            t_metricas, metricas = medir(painel.metricas, n)
            tamanhos = {
                f: (saida / f"relatorio_diario.{f}").stat().st_size
                for f in ("json", "html", "pdf")
            }
    finally:
        if temporaria:
            shutil.rmtree(pasta, ignore_errors=True)
    kib = 1024
    linhas = [
        ("dados do relatório (JSON)", t_dados, f"{tamanhos['json'] // kib} KiB"),
        ("HTML (gráficos SVG)", t_html, f"{len(html) // kib} KiB"),
        ("PDF (WeasyPrint)", t_pdf, f"{len(pdf) // kib} KiB"),
        ("os três arquivos (`relatorio`)", t_tres, ""),
        ("página do painel, a primeira", t_primeira, ""),
        ("página do painel", t_pagina, f"{len(pagina) // kib} KiB"),
        ("coleta de /metrics", t_metricas, f"{len(metricas) // kib} KiB"),
    ]
    print(
        f"\nRepositório com {total} versões em {args.modelos} modelos "
        f"(mediana de {args.repeticoes} rodadas)\n"
    )
    print("| etapa | tempo (s) | tamanho |")
    print("| --- | ---: | ---: |")
    for nome, t, tam in linhas:
        print(f"| {nome} | {t:.3f} | {tam} |")
    ok = (
        t_tres <= LIMITE_RELATORIOS_S
        and t_pagina <= LIMITE_PAGINA_S
        and t_primeira <= LIMITE_PRIMEIRA_PAGINA_S
    )
    print(
        f"\nLimites: relatórios <= {LIMITE_RELATORIOS_S:.0f} s, página <= "
        f"{LIMITE_PAGINA_S} s (a primeira <= {LIMITE_PRIMEIRA_PAGINA_S:.0f} s): "
        f"{'OK' if ok else 'ULTRAPASSADO'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
