"""Audit witnesses in the bucket, under S3 Object Lock (moto on loopback)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.seguranca.acesso import usuario_atual

from .conftest import aleatorio, cli, escrever
from .s3_servidor import servidor


def test_testemunhas_retidas_pegam_log_local_apagado(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", s.url)
    bucket = f"trava-{uuid.uuid4().hex[:12]}"
    s3 = s.cliente()
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    base = f"s3://{bucket}/equipe"
    cfg = {
        "validacao": {"modo": "desligado"},
        "seguranca": {
            "controle_acesso": {
                "habilitado": True,
                "usuarios_autorizados": [usuario_atual()],
                "auditoria_retencao_dias": 1,
            }
        },
    }
    arq_cfg = tmp_path / "cfg.json"
    arq_cfg.write_text(json.dumps(cfg))
    with GerenciadorBackupVersionamento(base, cfg) as g:
        g.criar_backup(escrever(tmp_path / "m.bin", aleatorio(50_000)), "patch")
        assert g.eventos.esvaziar(10)
        pasta_logs = g.pasta_logs
    objetos = s3.list_objects_v2(Bucket=bucket, Prefix="equipe/auditoria/")
    [chave] = [o["Key"] for o in objetos["Contents"]]
    testemunha = json.loads(s3.get_object(Bucket=bucket, Key=chave)["Body"].read())
    # No key here (neither encryption nor signing): no authentication field.
    assert set(testemunha) == {"seq", "hash", "anterior"}
    assert b"m.bin" not in json.dumps(testemunha).encode()  # no metadata leaves
    cab = s3.head_object(Bucket=bucket, Key=chave)
    assert cab["ObjectLockMode"] == "GOVERNANCE"
    assert cab["ObjectLockRetainUntilDate"] > datetime.now(timezone.utc) + timedelta(
        hours=23
    )
    versao = cab["VersionId"]
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=bucket, Key=chave, VersionId=versao)

    def auditoria() -> tuple[int, str]:
        r = cli(
            "auditoria", "verificar", "--base", base, "--config", str(arq_cfg),
            env=s.ambiente(),
        )  # fmt: skip
        return r.returncode, r.stdout + r.stderr

    codigo, saida = auditoria()
    assert codigo == 0, saida
    # The machine's log and head deleted together: the bucket still knows.
    for nome in ("auditoria.jsonl", "auditoria.cabeca.json"):
        (pasta_logs / nome).unlink()
    codigo, saida = auditoria()
    assert codigo == 9 and "o bucket guarda a entrada 1" in saida, saida
