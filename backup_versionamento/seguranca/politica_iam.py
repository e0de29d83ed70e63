"""IAM policies per role for a repository in S3: what the store itself enforces.

`controle_acesso.usuarios_autorizados` is checked by this program against a
configuration its user can edit; these policies are checked by S3, whatever the
client runs. Each role gets exactly the calls the engine makes for it
(backends/s3.py):

- leitor: list and read (listar, status, verificar, restaurar, sincronizar from),
  and create audit witnesses (`auditoria/`, never replaced).
- operador: leitor, plus creating packs, index fragments, sidecars and locks; a
  sidecar or the header only with `If-None-Match: *` (AWS's `s3:if-none-match`
  condition key), so an operator cannot overwrite a published version or the
  header; no deletion except lock objects (`travas/`). Pins, keys, retention and
  the signing policy record stay with admin.
- admin: everything under the prefix (limpeza, fixar, chaves, policy header).
"""

from __future__ import annotations

from typing import Any

from ..erros import ErroArgumento

PAPEIS_IAM = ("leitor", "operador", "admin")


def _arn(bucket: str, chave: str = "") -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{chave}" if chave else "")


def politica_iam(papel: str, bucket: str, prefixo: str = "") -> dict[str, Any]:
    """The IAM policy document of `papel` for `s3://bucket/prefixo`."""
    if papel not in PAPEIS_IAM:
        raise ErroArgumento(
            f"--papel: {papel!r} desconhecido; use um de {', '.join(PAPEIS_IAM)}"
        )
    if not bucket or "/" in bucket or ":" in bucket:
        raise ErroArgumento(
            f"--bucket: {bucket!r} não é um nome de bucket (sem 's3://' e sem '/')"
        )
    prefixo = prefixo.strip("/")
    raiz = f"{prefixo}/" if prefixo else ""

    def objetos(sub: str = "*") -> str:
        return _arn(bucket, f"{raiz}{sub}")

    listar: dict[str, Any] = {
        "Sid": "Listar",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": _arn(bucket),
    }
    if prefixo:
        listar["Condition"] = {"StringLike": {"s3:prefix": [f"{prefixo}/*", prefixo]}}
    declaracoes: list[dict[str, Any]] = [
        listar,
        {
            "Sid": "Ler",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objetos(),
        },
    ]
    if papel != "admin":
        # Audit witnesses (seguranca/auditoria.py): created once, never replaced.
        declaracoes.append(
            {
                "Sid": "TestemunhasDeAuditoria",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": objetos("auditoria/*"),
                "Condition": {"Null": {"s3:if-none-match": "false"}},
            }
        )
    if papel == "operador":
        declaracoes += [
            {
                "Sid": "GravarDados",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": [objetos("pacotes/*"), objetos("indices/*")],
            },
            {
                # Published versions (and the header) are created, never replaced.
                "Sid": "CriarSemSobrescrever",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": [objetos("modelos/*.json"), objetos("repositorio.json")],
                "Condition": {"Null": {"s3:if-none-match": "false"}},
            },
            {
                "Sid": "Travas",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": objetos("travas/*"),
            },
        ]
    elif papel == "admin":
        declaracoes += [
            {
                "Sid": "Administrar",
                "Effect": "Allow",
                "Action": [
                    "s3:PutObject",
                    "s3:DeleteObject",
                    "s3:AbortMultipartUpload",
                ],
                "Resource": objetos(),
            },
            {
                "Sid": "EnviosIncompletos",
                "Effect": "Allow",
                "Action": "s3:ListBucketMultipartUploads",
                "Resource": _arn(bucket),
            },
        ]
    return {"Version": "2012-10-17", "Statement": declaracoes}
