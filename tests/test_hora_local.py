"""Times shown to a person are local, with the zone; JSON keeps UTC (issue 12)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from backup_versionamento.base.tempo import hora_local

from .conftest import cli, escrever

SAO_PAULO = {"TZ": "America/Sao_Paulo"}  # -03 all year since 2019


@pytest.fixture
def fuso(monkeypatch: pytest.MonkeyPatch):
    def mudar(tz: str) -> None:
        monkeypatch.setenv("TZ", tz)
        time.tzset()

    yield mudar
    monkeypatch.undo()
    time.tzset()


def test_hora_local(fuso) -> None:
    fuso("America/Sao_Paulo")
    assert hora_local("2026-11-29T17:00:00Z") == "2026-11-29 14:00:00 -03"
    assert hora_local("2026-11-29T17:00:00.123456+00:00") == "2026-11-29 14:00:00 -03"
    assert hora_local("2026-11-29T17:00:00") == "2026-11-29 14:00:00 -03"  # UTC
    assert hora_local(None) == "-" and hora_local("?") == "?"
    fuso("UTC")
    assert hora_local("2026-11-29T17:00:00Z") == "2026-11-29 17:00:00 UTC"


def _sp(iso: str) -> str:
    utc = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (utc - timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S") + " -03"


def test_listar_e_status_em_hora_local(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    config = escrever(tmp_path / "c.json", b'{"validacao": {"modo": "desligado"}}')
    m = escrever(tmp_path / "m.h5", b"x" * 1000)
    comum = ["--base", repo, "--config", str(config)]
    assert cli("backup", *comum, "--modelo", str(m)).returncode == 0
    r = cli("listar", *comum, "--modelo", "m.h5", "--json", env=SAO_PAULO)
    criado = json.loads(r.stdout)[0]["criado_em"]
    assert criado.endswith("Z")  # JSON stays UTC
    local = _sp(criado)
    r = cli("listar", *comum, "--modelo", "m.h5", env=SAO_PAULO)
    assert local in r.stdout, r.stdout
    assert "UTC" not in r.stdout
    r = cli("listar", *comum, env=SAO_PAULO)
    assert local in r.stdout, r.stdout
    r = cli("status", *comum, env=SAO_PAULO)
    assert f"m.h5 1.0.0 em {local}" in r.stdout, r.stdout
    r = cli("status", *comum, "--json", env=SAO_PAULO)
    assert json.loads(r.stdout)["ultimo_backup"]["criado_em"] == criado
