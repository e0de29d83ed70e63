"""S3 errors as the project's errors: which codes mean absent, denied, retry.

No boto3 import here: the caller passes `botocore.exceptions` (the S3 backend
loads it lazily, and only armazenamento/backends/s3.py may import it).
"""

from __future__ import annotations

from typing import Any

from ...erros import (
    ErroBackup,
    ErroPermissao,
    ErroRepositorio,
    ErroTransitorio,
)

CODIGOS_AUSENTE = {"NoSuchKey", "404", "NotFound"}
CODIGOS_PERMISSAO = {
    "AccessDenied",
    "403",
    "Forbidden",
    "AllAccessDisabled",
    "AccountProblem",
}
CODIGOS_CREDENCIAIS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "InvalidClientTokenId",
}
CODIGOS_TRANSITORIOS = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequests",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "OperationAborted",
    "ConditionalRequestConflict",  # a concurrent conditional write: ask again
}


def codigo_erro(e: Exception) -> str:
    """The S3 error code of a botocore error ("" for anything else)."""
    resposta = getattr(e, "response", None) or {}
    return str(resposta.get("Error", {}).get("Code", ""))


def traduzir_erro(
    e: Exception, alvo: str, *, bucket: str, endpoint: str, exc: Any
) -> ErroBackup:
    """A boto3/botocore error as the project's error, naming `alvo`."""
    if isinstance(e, ErroBackup):
        return e
    if isinstance(e, exc.ClientError):
        erro = e.response.get("Error", {})
        codigo = str(erro.get("Code", ""))
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        texto = erro.get("Message") or codigo
        if codigo == "NoSuchBucket":
            return ErroRepositorio(
                f"{alvo}: o bucket {bucket!r} não existe em "
                f"{endpoint}; crie-o (ex.: `aws s3 mb "
                f"s3://{bucket}`) ou confira o endereço em --base / "
                "diretorios.base / integracao.cloud_storage.bucket"
            )
        if codigo in CODIGOS_CREDENCIAIS:
            return ErroPermissao(
                f"{alvo}: credenciais AWS recusadas ({codigo}); confira "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY ou o perfil "
                "(AWS_PROFILE) e o relógio desta máquina"
            )
        if codigo in CODIGOS_PERMISSAO or status == 403:
            return ErroPermissao(
                f"{alvo}: acesso negado pelo S3 ({codigo}); a identidade em uso "
                "precisa das permissões listadas em docs/S3.md "
                "(s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket)"
            )
        if codigo in CODIGOS_TRANSITORIOS or status in (429, 500, 502, 503, 504):
            return ErroTransitorio(f"{alvo}: falha temporária do S3 ({texto})")
        return ErroRepositorio(f"{alvo}: erro do S3 ({codigo or status}: {texto})")
    if isinstance(e, exc.NoCredentialsError | exc.PartialCredentialsError):
        return ErroPermissao(
            f"{alvo}: nenhuma credencial AWS encontrada; defina "
            "AWS_ACCESS_KEY_ID e AWS_SECRET_ACCESS_KEY (ou AWS_PROFILE)"
        )
    if isinstance(e, exc.ConnectionError | exc.HTTPClientError):
        return ErroTransitorio(
            f"{alvo}: servidor S3 inacessível em {endpoint} "
            f"({type(e).__name__}); confira a rede e o endpoint "
            "(integracao.cloud_storage.endpoint_url ou AWS_ENDPOINT_URL)"
        )
    if isinstance(e, exc.BotoCoreError):
        return ErroRepositorio(f"{alvo}: erro do cliente S3 ({e})")
    raise e
