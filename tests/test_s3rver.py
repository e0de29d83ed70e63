"""A second S3 implementation: s3rver (npm), which ignores `If-None-Match: *`.

moto honors conditional writes; s3rver, like AWS S3 before 2024 and older
MinIO/Ceph, simply overwrites. Here the real probe must find that out, and two
machines backing up the same model at once through the real CLI must still get
distinct versions (the claims of reivindicacao.py), kept by `limpeza` and
each restoring byte for byte. `make instalar-teste` installs s3rver into the
venv (`.venv/node`); tests/s3rver_servidor.py starts it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.backends.reivindicacao import (
    BackendCriacaoSondada,
    sondar_criacao_condicional,
    sondar_listagem_imediata,
)
from backup_versionamento.armazenamento.backends.s3 import BackendS3

from . import s3rver_servidor
from .conftest import aleatorio, cli
from .s3rver_servidor import BALDE


@pytest.fixture
def s3rver() -> str:
    return s3rver_servidor.url()


@pytest.fixture
def credenciais(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for nome, valor in s3rver_servidor.AMBIENTE.items():
        monkeypatch.setenv(nome, valor)
    for nome in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(nome, raising=False)
    return dict(s3rver_servidor.AMBIENTE)


def test_sonda_acha_s3rver_sem_escrita_condicional(
    s3rver: str, credenciais: dict[str, str], tmp_path: Path
) -> None:
    s3 = BackendS3(BALDE, f"sonda/{uuid.uuid4().hex}", endpoint_url=s3rver)
    assert sondar_criacao_condicional(s3) is False
    assert sondar_listagem_imediata(s3) is True  # so the claims are safe here
    cache = tmp_path / "sondas.json"
    b = BackendCriacaoSondada(s3, cache=cache, chave_cache=f"{s3rver} {BALDE}")
    assert b.capaz() is False
    assert json.loads(cache.read_text()) == {f"{s3rver} {BALDE}": False}
    assert b.gravar("a", b"1", exclusivo=True) is True
    assert b.gravar("a", b"2", exclusivo=True) is False
    assert b.ler("a") == b"1"
    assert sorted(i.chave for i in s3.listar("")) == ["a"]  # no probe left behind


def test_duas_maquinas_no_s3rver_versoes_distintas_e_restauraveis(
    s3rver: str,
    credenciais: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = f"s3://{BALDE}/repo-{uuid.uuid4().hex[:8]}"
    ambiente = {**credenciais, "AWS_ENDPOINT_URL": s3rver}
    contadas: list[tuple[str, str]] = []
    falhas: list[str] = []
    largada = threading.Barrier(2)

    def maquina(n: int) -> None:
        env = {**ambiente, "XDG_CACHE_HOME": str(tmp_path / f"maquina{n}")}
        arq = tmp_path / f"origem{n}" / "m.bin"
        arq.parent.mkdir()
        largada.wait()
        for i in range(3):
            dados = aleatorio(200_000, 10 * n + i)
            arq.write_bytes(dados)
            r = cli("backup", "--base", base, "--modelo", str(arq), "--json", env=env)
            if r.returncode != 0:
                falhas.append(r.stderr)
                return
            versao = json.loads(r.stdout)["versao"]
            contadas.append((versao, hashlib.sha256(dados).hexdigest()))

    threads = [threading.Thread(target=maquina, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert not falhas, falhas
    versoes = [v for v, _ in contadas]
    assert len(versoes) == 6 and len(set(versoes)) == 6, sorted(versoes)
    # Both machines probed s3rver and published through claims.
    for n in range(2):
        (sondas,) = (tmp_path / f"maquina{n}").rglob("sondas.json")
        assert list(json.loads(sondas.read_text()).values()) == [False]
    # The collection runs too (s3rver has no ListMultipartUploads) and keeps them.
    r = cli("limpeza", "--base", base, "--json", env=ambiente)
    assert r.returncode == 0, r.stderr
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3rver)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "nova"))
    with GerenciadorBackupVersionamento(base) as g:
        assert sorted(v["versao"] for v in g.listar_versoes("m.bin")) == sorted(versoes)
        for versao, sha in contadas:
            alvo = g.restaurar_backup(
                "m.bin", versao, tmp_path / "r" / versao / "m.bin"
            )
            assert hashlib.sha256(Path(alvo).read_bytes()).hexdigest() == sha
    r = cli("verificar", "--base", base, "--completa", "--json", env=ambiente)
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True, r.stdout
