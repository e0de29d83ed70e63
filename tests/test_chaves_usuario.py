"""One key object per person (`chaves adicionar --usuario`), removed per person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento

from .conftest import cli
from .test_cifra import _cfg, _config_arquivo, _modelo


def test_chave_por_pessoa_e_remocao(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BACKUP_VERSIONAMENTO_SENHA", raising=False)
    repo = tmp_path / "repo"
    cfg = _cfg(tmp_path)
    admin = ("--base", str(repo), "--config", str(_config_arquivo(tmp_path, cfg)))
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(_modelo(tmp_path), "patch")
    chave_bruno = tmp_path / "bruno" / "chave"
    r = cli(
        "chaves", "adicionar", "--arquivo", str(chave_bruno), "--usuario", "bruno",
        *admin, "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["usuario"] == "bruno"
    chaves = json.loads(cli("chaves", "listar", *admin, "--json").stdout)
    assert "bruno" in {c["usuario"] for c in chaves}
    bruno_cfg = tmp_path / "bruno" / "cfg.json"
    bruno_cfg.write_text(json.dumps(_cfg(tmp_path, chave_arquivo=str(chave_bruno))))
    bruno = ("--base", str(repo), "--config", str(bruno_cfg))
    assert cli("listar", *bruno).returncode == 0
    # Bruno leaves: his key object goes, his key file no longer opens anything.
    r = cli("chaves", "remover", "--usuario", "bruno", *admin)
    assert r.returncode == 0, r.stderr
    assert "Revogar" in r.stdout
    r = cli("listar", *bruno)
    assert r.returncode == 16 and "chave errada" in r.stderr
    assert cli("listar", *admin).returncode == 0
    r = cli("chaves", "remover", "--usuario", "bruno", *admin)
    assert r.returncode == 16 and "nenhuma chave" in r.stderr
    # Never the last key, even by person.
    (dono,) = json.loads(cli("chaves", "listar", *admin, "--json").stdout)
    r = cli("chaves", "remover", "--usuario", dono["usuario"], *admin)
    assert r.returncode == 16 and "únicas" in r.stderr
