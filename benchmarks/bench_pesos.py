#!/usr/bin/env python3
"""Benchmark de pesos de modelo (issue 22): safetensors e .pt, FP32 e BF16.

Uso: python benchmarks/bench_pesos.py [--tamanho-mb 256] [--repeticoes 3] [--pasta DIR]
       [--sem-externos] [--casos safetensors-f32,pt-bf16,...]

Para cada formato e dtype gera arquivos reais (safetensors escrito direto no
formato; .pt pelo torch.save) com N_TENSORES tensores de pesos normais σ 0,05 e
duas v2: "todos" (todo peso movido por ruído normal σ 1e-4, um ajuste fino) e
"10%" (só 1 de cada 10 tensores movido). Cada ferramenta faz, num repositório
novo, backup da v1, backup da v2 e restauração da v2 (conferida por SHA-256),
como benchmarks/bench_backup.py (que acha restic e borg e mede cada processo
pelo /usr/bin/time). Imprime uma tabela Markdown: bytes guardados da v1 (fração
do arquivo), bytes acrescentados pela v2 (fração), vazões e pico de memória.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_backup as bb  # the shared measuring machinery

np = bb.np
CASOS = ("safetensors-f32", "safetensors-bf16", "pt-f32", "pt-bf16")
AJUSTES = {"todos": lambda i: True, "10%": lambda i: i % 10 == 0}
METAS_V1 = {"f32": 0.87, "bf16": 0.72}  # stored share of v1 (the issue's)
META_AJUSTE = 0.75  # share the every-weight fine-tune may add


def _tensores(
    por_tensor: int, largura: int, mudar: Callable[[int], bool] | None
) -> list[np.ndarray]:
    rng = np.random.default_rng(bb.SEMENTE)
    ruido = np.random.default_rng(bb.SEMENTE + 1)
    saida = []
    for i in range(bb.N_TENSORES):
        pesos = rng.normal(0, bb.SIGMA_PESOS, por_tensor).astype(np.float32)
        if mudar is not None and mudar(i):
            pesos += ruido.normal(0, bb.SIGMA_AJUSTE, por_tensor).astype(np.float32)
        saida.append(
            pesos if largura == 4 else (pesos.view(np.uint32) >> 16).astype(np.uint16)
        )
    return saida


def gerar(
    destino: Path, tamanho: int, caso: str, mudar: Callable[[int], bool] | None
) -> str:
    """One version of a case's file; returns its SHA-256."""
    largura = 4 if caso.endswith("-f32") else 2
    por_tensor = tamanho // bb.N_TENSORES // largura
    tensores = _tensores(por_tensor, largura, mudar)
    if caso.startswith("pt-"):
        import torch

        torch.save(
            {
                f"camada{i}.weight": (
                    torch.from_numpy(t)
                    if largura == 4
                    else torch.from_numpy(t.view(np.int16)).view(torch.bfloat16)
                )
                for i, t in enumerate(tensores)
            },
            destino,
        )
        return bb.sha256_de(destino)
    dtype = "F32" if largura == 4 else "BF16"
    cab = {
        f"camada{i}.weight": {
            "dtype": dtype,
            "shape": [por_tensor],
            "data_offsets": [i * por_tensor * largura, (i + 1) * por_tensor * largura],
        }
        for i in range(bb.N_TENSORES)
    }
    js = json.dumps(cab).encode()
    js += b" " * (-len(js) % 8)
    sha = hashlib.sha256()
    with open(destino, "wb") as f:
        for parte in (
            len(js).to_bytes(8, "little"),
            js,
            *(t.tobytes() for t in tensores),
        ):
            sha.update(parte)
            f.write(parte)
    return sha.hexdigest()


def ferramentas(sem_externos: bool) -> list[type[bb.Ferramenta]]:
    todas: list[type[bb.Ferramenta]] = [bb.EsteProjeto]
    if not sem_externos:
        todas += [c for c in (bb.Restic, bb.Borg) if c.disponivel()]
    return todas


def ler_argumentos(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tamanho-mb", type=int, default=256)
    p.add_argument("--repeticoes", type=int, default=3)
    p.add_argument("--pasta", type=Path, default=None)
    p.add_argument("--sem-externos", action="store_true")
    p.add_argument("--casos", default=",".join(CASOS))
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = ler_argumentos(argv)
    casos = [c for c in args.casos.split(",") if c]
    if bad := set(casos) - set(CASOS):
        sys.exit(f"bench_pesos: caso(s) desconhecido(s): {sorted(bad)}")
    if not shutil.which(bb.RELOGIO):
        sys.exit(f"bench_pesos: precisa de {bb.RELOGIO} (pacote time)")
    bb.compilar_bytecode()
    bb.esvaziar_cache()
    tamanho = args.tamanho_mb << 20
    linhas = [
        f"Pesos de {args.tamanho_mb} MiB, {bb.N_TENSORES} tensores, pesos σ "
        f"{bb.SIGMA_PESOS}, ajuste σ {bb.SIGMA_AJUSTE}; {args.repeticoes} rodada(s), "
        "medianas (faixa pior–melhor entre colchetes).",
        "",
        "| caso | v2 | ferramenta | v1 guardada | v2 acrescenta | backup v1 MB/s "
        "| backup v2 MB/s | restauração v2 MB/s | pico RSS MB | SHA ok |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    metas: list[str] = []
    falhou = False
    with tempfile.TemporaryDirectory(prefix="bench-pesos-", dir=args.pasta) as temp:
        pasta = Path(temp)
        for caso in casos:
            (pasta / caso).mkdir()
            v1 = pasta / caso / "v1"
            sha_v1 = gerar(v1, tamanho, caso, None)
            for ajuste, mudar in AJUSTES.items():
                v2 = pasta / caso / f"v2-{ajuste.rstrip('%')}"
                sha_v2 = gerar(v2, tamanho, caso, mudar)
                entradas = bb.Entradas(
                    v1, v2, sha_v1, sha_v2, v1.stat().st_size, v2.stat().st_size
                )
                for classe in ferramentas(args.sem_externos):
                    r = bb.Resultado(classe.nome, "", entradas)
                    try:
                        for _ in range(args.repeticoes):
                            r.rodadas.append(
                                bb.rodar_ferramenta(classe, entradas, pasta)
                            )
                    except bb.ErroMedicao as e:
                        linhas.append(
                            f"| {caso} | {ajuste} | {classe.nome} | erro: {e} |"
                        )
                        falhou = True
                        continue
                    t1, t2 = entradas.tamanho_v1, entradas.tamanho_v2
                    fr_v1, fr_v2 = r.bytes_v1 / t1, r.bytes_v2 / t2
                    linhas.append(
                        f"| {caso} | {ajuste} | {classe.nome} | {fr_v1:.3f} | "
                        f"{fr_v2:.3f} | {r.vazao_backup_v1:.0f} "
                        f"[{r.faixa('backup_v1', t1)}] | {r.vazao_backup_v2:.0f} "
                        f"[{r.faixa('backup_v2', t2)}] | {r.vazao_restauracao:.0f} "
                        f"[{r.faixa('restauracao', t2)}] | {r.pico_rss / bb.MB:.0f} | "
                        f"{'sim' if r.sha_ok else 'NÃO'} |"
                    )
                    falhou |= not r.sha_ok
                    if classe is bb.EsteProjeto:
                        meta_v1 = METAS_V1[caso.rsplit("-", 1)[1]]
                        metas.append(
                            f"- {caso}: v1 {fr_v1:.3f} (meta ≤ {meta_v1}) "
                            + ("ok" if fr_v1 <= meta_v1 else "NÃO")
                        )
                        if ajuste == "todos":
                            metas.append(
                                f"- {caso}: ajuste de todo peso acrescenta "
                                f"{fr_v2:.3f} (meta ≤ {META_AJUSTE}) "
                                + ("ok" if fr_v2 <= META_AJUSTE else "NÃO")
                            )
                        metas.append(
                            f"- {caso} {ajuste}: pico RSS {r.pico_rss / bb.MB:.0f} MB "
                            f"(meta < {bb.LIMITE_RSS // bb.MB}) "
                            + ("ok" if r.pico_rss < bb.LIMITE_RSS else "NÃO")
                        )
                v2.unlink()
    print("\n".join([*linhas, "", "Metas:", *metas]))
    return 1 if falhou else 0


if __name__ == "__main__":
    sys.exit(main())
