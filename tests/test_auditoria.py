"""Tamper-evident audit log: edits, deletions, reordering and truncation detected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.seguranca.auditoria import (
    Autenticador,
    LogAuditoria,
    verificar_log,
)

from .conftest import aleatorio, cli, escrever

CHAVE = b"k" * 32


def _log(pasta: Path, n: int = 6, aut: Autenticador | None = None) -> list[bytes]:
    log = LogAuditoria(pasta, aut or Autenticador.hmac_sha256(CHAVE))
    for i in range(n):
        log.registrar("backup_criado", f"m.bin 1.0.{i}", "sucesso", usuario="ana")
    return (pasta / "auditoria.jsonl").read_bytes().splitlines(keepends=True)


def _gravar(pasta: Path, linhas: list[bytes]) -> None:
    (pasta / "auditoria.jsonl").write_bytes(b"".join(linhas))


def _conferir(pasta: Path, aut: Autenticador | None = None) -> dict[str, Any]:
    return verificar_log(pasta, aut or Autenticador.hmac_sha256(CHAVE))


def test_log_intacto(tmp_path: Path) -> None:
    _log(tmp_path)
    rel = _conferir(tmp_path)
    assert rel["ok"] and rel["entradas"] == 6
    entrada = json.loads((tmp_path / "auditoria.jsonl").read_text().splitlines()[0])
    for campo in (
        "seq",
        "momento",
        "usuario",
        "host",
        "acao",
        "alvo",
        "resultado",
        "anterior",
        "hash",
    ):
        assert campo in entrada


def test_entrada_editada(tmp_path: Path) -> None:
    linhas = _log(tmp_path)
    linhas[2] = linhas[2].replace(b"sucesso", b"falha!!")
    _gravar(tmp_path, linhas)
    rel = _conferir(tmp_path)
    assert not rel["ok"] and rel["seq"] == 3 and rel["linha"] == 3
    assert "editada" in rel["problema"]


def test_entrada_editada_com_hash_recalculado_sem_a_chave(tmp_path: Path) -> None:
    from backup_versionamento.seguranca.auditoria import hash_entrada

    linhas = _log(tmp_path)
    e = json.loads(linhas[1])
    e["usuario"] = "intruso"
    e["hash"] = hash_entrada(e)  # the chain hash redone; the HMAC cannot be
    linhas[1] = json.dumps(e).encode() + b"\n"
    _gravar(tmp_path, linhas)
    rel = _conferir(tmp_path)
    assert not rel["ok"] and rel["seq"] == 2
    assert "autenticação" in rel["problema"]


def test_entrada_removida(tmp_path: Path) -> None:
    linhas = _log(tmp_path)
    del linhas[3]
    _gravar(tmp_path, linhas)
    rel = _conferir(tmp_path)
    assert not rel["ok"] and rel["seq"] == 4
    assert "removida" in rel["problema"] and "4" in rel["problema"]


def test_entradas_reordenadas(tmp_path: Path) -> None:
    linhas = _log(tmp_path)
    linhas[1], linhas[2] = linhas[2], linhas[1]
    _gravar(tmp_path, linhas)
    rel = _conferir(tmp_path)
    assert not rel["ok"] and rel["linha"] == 2
    assert "removida" in rel["problema"] or "ordem" in rel["problema"]
    linhas = _log(tmp_path / "b")
    linhas[4], linhas[2] = linhas[2], linhas[4]
    _gravar(tmp_path / "b", linhas)
    rel = _conferir(tmp_path / "b")
    assert not rel["ok"] and rel["linha"] == 3


def test_log_truncado(tmp_path: Path) -> None:
    linhas = _log(tmp_path)
    _gravar(tmp_path, linhas[:4])
    rel = _conferir(tmp_path)
    assert not rel["ok"] and rel["seq"] == 5
    assert "truncado" in rel["problema"] and "5 a 6" in rel["problema"]
    # The head rewritten to match the cut log: its HMAC fails.
    cab = json.loads((tmp_path / "auditoria.cabeca.json").read_text())
    cab.update(seq=4, hash=json.loads(linhas[3])["hash"])
    (tmp_path / "auditoria.cabeca.json").write_text(json.dumps(cab))
    rel = _conferir(tmp_path)
    assert not rel["ok"] and "cabeca" in rel["problema"]


def test_cabeca_apagada(tmp_path: Path) -> None:
    _log(tmp_path)
    (tmp_path / "auditoria.cabeca.json").unlink()
    rel = _conferir(tmp_path)
    assert not rel["ok"] and "ausente" in rel["problema"]


def test_sem_chave_a_cadeia_ainda_pega_edicao_descuidada(tmp_path: Path) -> None:
    linhas = _log(tmp_path, aut=Autenticador.nenhum())
    assert _conferir(tmp_path, Autenticador.nenhum())["ok"]
    linhas[0] = linhas[0].replace(b"ana", b"bob")
    _gravar(tmp_path, linhas)
    rel = _conferir(tmp_path, Autenticador.nenhum())
    assert not rel["ok"] and rel["seq"] == 1


def test_acoes_reais_viram_entradas_e_cli_verifica(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    cfg = {
        "validacao": {"modo": "desligado"},
        "seguranca": {
            "criptografia": {
                "habilitada": True,
                "chave_arquivo": str(tmp_path / "k" / "chave"),
            },
            "controle_acesso": {"habilitado": True, "usuarios_autorizados": [_eu()]},
        },
    }
    arq_cfg = tmp_path / "cfg.json"
    arq_cfg.write_text(json.dumps(cfg))
    m = escrever(tmp_path / "src" / "m.bin", aleatorio(200_000))
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(m, "patch")
        g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r")
        g.fixar_versao("m.bin", "1.0.0")
        # The repository hides names: the target is stored encrypted.
        cifra_campos = g.seguranca.auditoria.cifra_campos
    arquivo = repo / "logs" / "auditoria.jsonl"
    entradas = [json.loads(x) for x in arquivo.read_text().splitlines()]
    for e in entradas:
        e["alvo"] = cifra_campos.decifrar("alvo", e["alvo"])
    assert [e["acao"] for e in entradas] == [
        "backup_criado",
        "restauracao_concluida",
        "versao_fixada",
    ]
    assert entradas[0]["alvo"] == "m.bin 1.0.0" and entradas[0]["usuario"] == _eu()
    r = cli(
        "auditoria",
        "verificar",
        "--base",
        str(repo),
        "--config",
        str(arq_cfg),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["autenticacao"] == "hmac-sha256"
    linhas = arquivo.read_bytes().splitlines(keepends=True)
    arquivo.write_bytes(b"".join(linhas[:1] + linhas[2:]))
    r = cli("auditoria", "verificar", "--base", str(repo), "--config", str(arq_cfg))
    assert r.returncode == 9
    assert "entrada(s) 2 removida(s)" in r.stdout


def _eu() -> str:
    from backup_versionamento.seguranca.acesso import usuario_atual

    return usuario_atual()


def test_log_apagado_ou_reposto_e_detectado_pelas_versoes(tmp_path: Path) -> None:
    import shutil

    repo = tmp_path / "repo"
    cfg = {
        "validacao": {"modo": "desligado"},
        "seguranca": {
            "criptografia": {
                "habilitada": True,
                "chave_arquivo": str(tmp_path / "k" / "chave"),
            },
            "controle_acesso": {"habilitado": True, "usuarios_autorizados": [_eu()]},
        },
    }
    arq_cfg = tmp_path / "cfg.json"
    arq_cfg.write_text(json.dumps(cfg))
    logs, copia = repo / "logs", tmp_path / "copia_antiga"
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        for i in range(3):
            g.criar_backup(
                escrever(tmp_path / "src" / "m.bin", aleatorio(100_000, i)), "patch"
            )
            assert g.eventos.esvaziar(10)
            if i == 0:
                copia.mkdir()
                for nome in ("auditoria.jsonl", "auditoria.cabeca.json"):
                    shutil.copy(logs / nome, copia / nome)
        ancora = g.repo.ler_versao("m.bin", "1.0.2").auditoria
        entradas = [json.loads(x) for x in (logs / "auditoria.jsonl").open()]
        assert ancora == {"log": "repositorio", "seq": 2, "hash": entradas[1]["hash"]}
        assert g.verificar_integridade()["ok"]

    def auditoria() -> tuple[int, str]:
        r = cli("auditoria", "verificar", "--base", str(repo), "--config", str(arq_cfg))
        return r.returncode, r.stdout + r.stderr

    assert auditoria()[0] == 0
    # An older copy put back: consistent in itself, but behind the versions.
    for nome in ("auditoria.jsonl", "auditoria.cabeca.json"):
        shutil.copy(copia / nome, logs / nome)
    codigo, saida = auditoria()
    assert codigo == 9 and "1.0.2" in saida and "entrada 2" in saida
    # Deleted together with its head.
    for nome in ("auditoria.jsonl", "auditoria.cabeca.json"):
        (logs / nome).unlink()
    codigo, saida = auditoria()
    assert codigo == 9 and "apagado ou truncado" in saida
    r = cli("verificar", "--base", str(repo), "--config", str(arq_cfg))
    assert r.returncode == 9 and "auditoria" in r.stdout
