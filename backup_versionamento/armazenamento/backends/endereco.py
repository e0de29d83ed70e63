"""From a repository address (`diretorios.base`, `--base`) to its backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...base.endereco import e_local
from ...base.padroes import THREADS_BACKUP
from ...erros import ErroRepositorio
from .base import Backend
from .local import BackendLocal
from .retentativas import BackendComRetentativas

ESQUEMA_S3 = "s3://"


def e_s3(endereco: str | Path) -> bool:
    return str(endereco).startswith(ESQUEMA_S3)


def backend_s3(endereco: str, cfg: dict[str, Any] | None = None) -> Backend:
    """`s3://bucket/prefix`, with endpoint/region defaults from the config.

    `integracao.cloud_storage.endpoint_url` / `regiao` apply when set; else
    boto3's own chain (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, profiles). Wrapped
    in the retry policy shared by every backend.
    """
    from ...estado import raiz_estado
    from .reivindicacao import BackendCriacaoSondada
    from .s3 import BackendS3, separar_endereco

    bucket, prefixo = separar_endereco(endereco)
    nuvem = (cfg or {}).get("integracao", {}).get("cloud_storage", {})
    threads = (cfg or {}).get("performance", {}).get("threads_backup", THREADS_BACKUP)
    s3 = BackendS3(
        bucket,
        prefixo,
        endpoint_url=nuvem.get("endpoint_url") or None,
        regiao=nuvem.get("regiao") or None,
        threads=threads,
    )
    # Conditional create probed once per endpoint and bucket on this machine.
    estado = (cfg or {}).get("diretorios", {}).get("estado", "")
    return BackendCriacaoSondada(
        BackendComRetentativas(s3),
        cache=raiz_estado(estado) / "sondas.json",
        chave_cache=f"{s3.endpoint_efetivo} {bucket}",
    )


def backend_para(endereco: str | Path, cfg: dict[str, Any] | None = None) -> Backend:
    """A local folder, or an S3 bucket and prefix for `s3://...`."""
    if e_s3(endereco):
        return backend_s3(str(endereco), cfg)
    if not e_local(endereco):
        esquema = str(endereco).split("://", 1)[0]
        raise ErroRepositorio(
            f"{endereco}: endereço de repositório com esquema {esquema!r} não "
            "suportado; use uma pasta local ou s3://BUCKET/PREFIXO"
        )
    raiz = Path(endereco)
    if raiz.exists() and not raiz.is_dir():
        raise ErroRepositorio(
            f"{raiz}: existe e não é uma pasta; escolha outro diretorios.base"
        )
    return BackendLocal(raiz)
