"""Build tests/dados/repositorio_v1.tar.gz with the REAL format 1 code.

Not run by the test suite. It needs a checkout of commit 2a372a1 (the last
format 1 engine) on PYTHONPATH, e.g.:

    mkdir /tmp/v1 && git archive 2a372a1 | tar -x -C /tmp/v1
    XDG_CACHE_HOME=$(mktemp -d) PYTHONPATH=/tmp/v1 \
        /work/main/.venv/bin/python tests/dados/gerar_repositorio_v1.py

The tarball holds `repositorio_v1/` (the repository as format 1 left it) and
`originais/<modelo>/<versao>/` (the exact bytes of every version, to compare a
restore with), plus `originais/esperado.json` (versions, descriptions, metrics,
pins) for the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import joblib
import numpy as np

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento import repositorio as repo_v1

assert repo_v1.FORMATO_REPOSITORIO == 1, "rode com o checkout de 2a372a1"

DESTINO = Path(__file__).resolve().parent / "repositorio_v1.tar.gz"
KiB = 1024


def _ruido(n: int, semente: int) -> bytes:
    return np.random.default_rng(semente).bytes(n)


def _copiar_original(
    origem: Path, originais: Path, versao: str, vistos: dict[bytes, Path]
) -> None:
    """Copy one version's bytes; a file seen before becomes a hard link (the
    tarball then stores it once)."""
    alvo = originais / origem.name / versao
    arquivos = sorted(origem.rglob("*")) if origem.is_dir() else [origem]
    raiz = origem.parent
    for p in arquivos:
        destino = alvo / p.relative_to(raiz)
        if p.is_dir():
            destino.mkdir(parents=True, exist_ok=True)
            continue
        destino.parent.mkdir(parents=True, exist_ok=True)
        dados = p.read_bytes()
        if dados in vistos:
            os.link(vistos[dados], destino)
        else:
            shutil.copy2(p, destino)
            vistos[dados] = destino


def main() -> None:
    trabalho = Path(tempfile.mkdtemp(prefix="gerar_v1_"))
    base = trabalho / "repositorio_v1"
    originais = trabalho / "originais"
    fontes = trabalho / "fontes"
    fontes.mkdir()
    cfg = {"validacao": {"modo": "avisar"}}
    esperado: dict[str, dict[str, dict[str, object]]] = {}
    vistos: dict[bytes, Path] = {}

    def guardar(
        g: GerenciadorBackupVersionamento,
        origem: Path,
        tipo: str,
        descricao: str,
        metricas: dict[str, float] | None = None,
    ) -> str:
        versao = g.criar_backup(origem, tipo, descricao, metricas)
        _copiar_original(origem, originais, versao, vistos)
        esperado.setdefault(origem.name, {})[versao] = {
            "descricao": descricao,
            "metricas": metricas or {},
        }
        return versao

    with GerenciadorBackupVersionamento(base, cfg) as g:
        # 1. A real joblib model (validated: its sidecar carries a report).
        jl = fontes / "modelo_rf.joblib"
        pesos = np.random.default_rng(1).standard_normal(16_000).astype(np.float32)
        joblib.dump({"pesos": pesos, "classes": list(range(15))}, jl)
        guardar(g, jl, "major", "primeiro modelo", {"acertos_13": 0.21})
        pesos[:2000] += 1.0
        joblib.dump({"pesos": pesos, "classes": list(range(15))}, jl)
        guardar(g, jl, "retreino", "retreino com 2025", {"acertos_13": 0.24})

        # 2. Raw weights, several versions sharing most chunks.
        pb = fontes / "pesos.bin"
        dados = bytearray(_ruido(128 * KiB, 2))
        pb.write_bytes(dados)
        v = guardar(g, pb, "major", "pesos iniciais", {"perda": 0.5})
        g.fixar_versao("pesos.bin", v, True)
        dados[60 * KiB : 64 * KiB] = _ruido(4 * KiB, 3)
        pb.write_bytes(dados)
        guardar(g, pb, "ajuste", "ajuste fino", {"perda": 0.4})
        pb.write_bytes(bytes(dados) + b"\0" * (100 * KiB))  # compressible tail
        guardar(g, pb, "melhoria", "camada nova zerada")

        # 3. A folder model with sub-folders and an empty folder.
        sm = fontes / "saved_model"
        (sm / "variables").mkdir(parents=True)
        (sm / "assets").mkdir()
        (sm / "saved_model.pb").write_bytes(b"grafo-v1 " * 3000)
        (sm / "variables" / "variables.index").write_bytes(b"indice" * 100)
        (sm / "variables" / "variables.data-00000-of-00001").write_bytes(
            _ruido(128 * KiB, 4)
        )
        guardar(g, sm, "major", "SavedModel inicial", {"acertos_13": 0.3})
        (sm / "variables" / "variables.data-00000-of-00001").write_bytes(
            _ruido(128 * KiB, 5)
        )
        guardar(g, sm, "retreino", "SavedModel retreinado")
        os.chmod(sm / "saved_model.pb", 0o600)
        (sm / "saved_model.pb").write_bytes(b"grafo-v2 " * 3000)
        guardar(g, sm, "patch", "só o grafo")

        for modelo in esperado:
            for info in g.listar_versoes(modelo):
                esperado[modelo][info["versao"]].update(
                    sha256=info["sha256"],
                    fixada=bool(info.get("fixada")),
                    validacao=info.get("validacao"),
                )

    # Per-machine files that format 1 daemons left inside the repository.
    (base / "daemon_estado.json").write_text('{"estado": "parado"}\n')
    (base / "cache_varredura.json").write_text("{}\n")
    (base / "daemon.pid").write_text("12345\n")

    (originais / "esperado.json").write_text(
        json.dumps(esperado, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    )
    with tarfile.open(DESTINO, "w:gz") as tar:
        tar.add(base, arcname="repositorio_v1")
        tar.add(originais, arcname="originais")
    shutil.rmtree(trabalho)
    print(f"{DESTINO}: {DESTINO.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
