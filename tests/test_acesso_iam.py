"""IAM policies per role, checked against the S3 calls the engine really makes.

Every call of a real backup, restore, verify and cleanup against the loopback S3
server is recorded (botocore's `_make_api_call`), turned into (IAM action,
resource, request context) and evaluated with a small evaluator written here
from AWS's documented rules: each role must allow what its commands do, and
deny what they must not.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroArgumento
from backup_versionamento.seguranca.politica_iam import politica_iam

from .conftest import aleatorio, cli, escrever
from .s3_servidor import ServidorS3, servidor

ACOES = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "DeleteObject": "s3:DeleteObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
}

Chamada = tuple[str, str, dict[str, Any]]


@pytest.fixture
def chamadas(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Chamada]]:
    s: ServidorS3 = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", s.url)
    bucket = s.novo_bucket()
    registro: list[Chamada] = [("bucket", bucket, {})]
    original = botocore.client.BaseClient._make_api_call

    def gravar(self: Any, operacao: str, params: dict[str, Any]) -> Any:
        bucket = params.get("Bucket", "")
        if "Key" in params:
            recurso = f"arn:aws:s3:::{bucket}/{params['Key']}"
        else:
            recurso = f"arn:aws:s3:::{bucket}"
        contexto = {"s3:prefix": params.get("Prefix", "")}
        if params.get("IfNoneMatch"):
            contexto["s3:if-none-match"] = params["IfNoneMatch"]
        registro.append((ACOES.get(operacao, f"?{operacao}"), recurso, contexto))
        return original(self, operacao, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", gravar)
    yield registro


def _lista(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _condicao_ok(condicao: dict[str, Any], contexto: dict[str, Any]) -> bool:
    for operador, testes in condicao.items():
        for chave, valores in testes.items():
            if operador == "StringLike":
                v = contexto.get(chave)
                if v is None or not any(
                    fnmatch.fnmatchcase(v, p) for p in _lista(valores)
                ):
                    return False
            elif operador == "Null":  # "false": the key must be present
                presente = chave in contexto
                if presente != (str(valores).lower() == "false"):
                    return False
            else:
                raise AssertionError(f"operador {operador} não avaliado aqui")
    return True


def permitido(politica: dict[str, Any], chamada: Chamada) -> bool:
    acao, recurso, contexto = chamada
    return any(
        d["Effect"] == "Allow"
        and acao in _lista(d["Action"])
        and any(fnmatch.fnmatchcase(recurso, r) for r in _lista(d["Resource"]))
        and _condicao_ok(d.get("Condition", {}), contexto)
        for d in politica["Statement"]
    )


def test_cada_papel_permite_o_que_faz_e_nada_mais(
    chamadas: list[Chamada], tmp_path: Any
) -> None:
    bucket = chamadas.pop(0)[1]
    base = f"s3://{bucket}/equipe/modelos"
    cfg = {
        "validacao": {"modo": "desligado"},
        "retencao": {
            "por_quantidade": {"maximo_versoes_por_modelo": 1},
            "carencia_coleta_minutos": 0,
        },
    }
    with GerenciadorBackupVersionamento(base, cfg):
        pass  # the administrator creates the repository
    chamadas.clear()
    with GerenciadorBackupVersionamento(base, cfg) as g:
        for i in range(2):
            g.criar_backup(
                escrever(tmp_path / "m.bin", aleatorio(6_000_000, i)), "patch"
            )
    de_backup = list(chamadas)
    chamadas.clear()
    with GerenciadorBackupVersionamento(base, cfg) as g:
        g.listar_versoes("m.bin")
        assert g.verificar_integridade(completa=True)["ok"]
        g.restaurar_backup("m.bin", "1.0.1", tmp_path / "r")
    de_leitura = list(chamadas)
    chamadas.clear()
    with GerenciadorBackupVersionamento(base, cfg) as g:
        g.limpeza()
    de_limpeza = list(chamadas)
    assert any(a == "s3:DeleteObject" and "/modelos/" in r for a, r, _ in de_limpeza)

    leitor, operador, admin = (
        politica_iam(p, bucket, "equipe/modelos")
        for p in ("leitor", "operador", "admin")
    )
    for papel, politica, devem in (
        ("leitor", leitor, de_leitura),
        ("operador", operador, de_backup + de_leitura),
        ("admin", admin, de_backup + de_leitura + de_limpeza),
    ):
        negadas = [c for c in devem if not permitido(politica, c)]
        assert not negadas, f"{papel}: {negadas}"
    assert not any(permitido(leitor, c) for c in de_backup if c[0] == "s3:PutObject")
    apagar = [c for c in de_limpeza if c[0] == "s3:DeleteObject"]
    assert not any(permitido(operador, c) for c in apagar if "/travas/" not in c[1])
    # An operator cannot overwrite a published version (no If-None-Match).
    sidecar = f"arn:aws:s3:::{bucket}/equipe/modelos/modelos/m.bin/1.0.1.json"
    assert not permitido(operador, ("s3:PutObject", sidecar, {}))
    assert permitido(operador, ("s3:PutObject", sidecar, {"s3:if-none-match": "*"}))
    # Nothing outside the prefix, for anyone.
    fora = f"arn:aws:s3:::{bucket}/outra_equipe/repositorio.json"
    assert not any(permitido(p, ("s3:GetObject", fora, {})) for p in (leitor, admin))


def test_cli_imprime_a_politica(tmp_path: Any) -> None:
    r = cli(
        "acesso", "politica-iam", "--papel", "leitor", "--bucket", "b",
        "--prefixo", "/equipe/",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["Version"] == "2012-10-17"
    escrita = [
        r
        for d in doc["Statement"]
        if set(_lista(d["Action"])) - {"s3:ListBucket", "s3:GetObject"}
        for r in _lista(d["Resource"])
    ]
    assert escrita == ["arn:aws:s3:::b/equipe/auditoria/*"]  # witnesses only
    r = cli("acesso", "politica-iam", "--papel", "dono", "--bucket", "b")
    assert r.returncode == 2 and "dono" in r.stderr
    with pytest.raises(ErroArgumento, match="s3://"):
        politica_iam("leitor", "s3://b")
