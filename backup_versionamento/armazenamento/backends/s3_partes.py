"""S3 multipart uploads: big objects in parallel parts, and dead writers' debris.

Functions over a BackendS3 (its client, bucket, prefix, part size and error
translation) kept out of the class so it stays one job: keys to objects.
"""

from __future__ import annotations

import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ...erros import ErroPermissao

if TYPE_CHECKING:
    from .s3 import BackendS3

log = logging.getLogger("SistemaBackup")


def gravar_em_partes(b: BackendS3, s3: str, dados: bytes, alvo: str) -> None:
    """Multipart upload, parts in parallel; aborted on any failure (no debris)."""
    inicio = b._chamar(
        alvo,
        lambda: b._cliente.create_multipart_upload(Bucket=b.bucket, Key=s3),
    )
    id_envio = inicio["UploadId"]
    vista = memoryview(dados)
    n = b.tamanho_parte
    pedacos = [(i // n + 1, vista[i : i + n]) for i in range(0, len(dados), n)]

    def enviar(item: tuple[int, memoryview]) -> dict[str, Any]:
        numero, pedaco = item
        r = b._cliente.upload_part(
            Bucket=b.bucket,
            Key=s3,
            UploadId=id_envio,
            PartNumber=numero,
            Body=bytes(pedaco),
        )
        return {"PartNumber": numero, "ETag": r["ETag"]}

    try:
        with ThreadPoolExecutor(
            min(b.threads, len(pedacos)), thread_name_prefix="backup-s3"
        ) as pool:
            feitas = list(pool.map(enviar, pedacos))
        b._cliente.complete_multipart_upload(
            Bucket=b.bucket,
            Key=s3,
            UploadId=id_envio,
            MultipartUpload={"Parts": feitas},
        )
    except BaseException as e:
        # The store may be down; its lifecycle rules clean up then.
        with contextlib.suppress(Exception):
            b._cliente.abort_multipart_upload(
                Bucket=b.bucket, Key=s3, UploadId=id_envio
            )
        if isinstance(e, Exception):
            b._falhar(e, alvo)
        raise


def abortar_envios_antigos(b: BackendS3, idade_s: float) -> tuple[int, int]:
    """Abort multipart uploads older than `idade_s` (writers that died).

    Called by the collection; returns (uploads aborted, 0): the store does
    not say how many bytes their parts held. Without permission to list
    them it logs a warning and frees nothing (a lifecycle rule does it).
    """
    limite = time.time() - idade_s
    base = f"{b.prefixo}/" if b.prefixo else ""
    n = 0
    try:
        paginador = b._cliente.get_paginator("list_multipart_uploads")
        for pagina in paginador.paginate(Bucket=b.bucket, Prefix=base):
            for envio in pagina.get("Uploads", ()):
                if envio["Initiated"].timestamp() < limite:
                    b._cliente.abort_multipart_upload(
                        Bucket=b.bucket,
                        Key=envio["Key"],
                        UploadId=envio["UploadId"],
                    )
                    n += 1
    except Exception as e:
        erro = b._traduzir(e, b.descrever())
        sem_suporte = b._codigo(e) == "NotImplemented"  # s3rver
        if not (isinstance(erro, ErroPermissao) or sem_suporte):
            raise erro from None
        log.warning("envios em partes incompletos não removidos: %s", erro)
    return n, 0
