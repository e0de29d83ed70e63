"""What a person reads from the audit and key commands (issue 17, item 15)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from tests.conftest import RAIZ, aleatorio, cli, escrever
from tests.conftest import cfg_cifrado as _cfg


def test_auditoria_verificar_com_auditoria_desligada_diz_que_esta_desligada(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    modelo = escrever(tmp_path / "m.bin", aleatorio(512))
    assert cli("backup", "--base", str(repo), "--modelo", str(modelo)).returncode == 0
    r = cli("auditoria", "verificar", "--base", str(repo))
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "Auditoria desligada" in r.stdout and "íntegro" not in r.stdout
    assert "seguranca.controle_acesso.log_acessos" in r.stdout
    r = cli("auditoria", "verificar", "--base", str(repo), "--json")
    assert r.returncode == 3
    dados = json.loads(r.stdout)
    assert dados["ligada"] is False and dados["ok"] is False


def test_auditoria_ligada_continua_integra(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(
        json.dumps(
            {
                "seguranca": {
                    "controle_acesso": {
                        "habilitado": True,
                        "usuarios_autorizados": {
                            os.environ.get("USER") or _usuario(): ["admin"]
                        },
                    }
                }
            }
        )
    )
    modelo = escrever(tmp_path / "m.bin", aleatorio(512))
    base = ("--base", str(repo), "--config", str(cfg))
    r = cli("backup", *base, "--modelo", str(modelo))
    assert r.returncode == 0, r.stderr
    r = cli("auditoria", "verificar", *base, "--json")
    assert r.returncode == 0, (r.stdout, r.stderr)
    dados = json.loads(r.stdout)
    assert dados["ligada"] is True and dados["ok"] is True and dados["entradas"] >= 1


def _usuario() -> str:
    import getpass

    return getpass.getuser()


def test_reembrulhar_lembra_de_atualizar_chave_arquivo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BACKUP_VERSIONAMENTO_SENHA", raising=False)
    repo = tmp_path / "repo"
    cfg = _cfg(tmp_path)
    arq_cfg = tmp_path / "config.json"
    arq_cfg.write_text(json.dumps(cfg))
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(escrever(tmp_path / "m.bin", aleatorio(512)), "patch")
    base = ("--base", str(repo), "--config", str(arq_cfg))
    (chave,) = json.loads(cli("chaves", "listar", *base, "--json").stdout)
    novo = tmp_path / "nova" / "chave"
    r = cli("chaves", "reembrulhar", chave["id"], "--arquivo", str(novo), *base)
    assert r.returncode == 0, r.stderr
    assert f"atualize seguranca.criptografia.chave_arquivo para {novo}" in r.stdout, (
        r.stdout
    )
    assert str(tmp_path / "chaves" / "chave") in r.stdout


def _no_terminal(*args: str, pergunta: bytes) -> tuple[int, str]:
    """Run the CLI on a real pseudo-terminal; answer `pergunta` with just Enter."""
    mestre, escravo = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(RAIZ / "inicializar_backup.py"), *args],
        stdin=escravo,
        stdout=escravo,
        stderr=escravo,
        start_new_session=True,  # no controlling tty: getpass reads the pty on stdin
        env={
            k: v
            for k, v in os.environ.items()
            if not k.startswith("BACKUP_VERSIONAMENTO_SENHA")
        },
    )
    os.close(escravo)
    saida = b""
    limite = time.monotonic() + 60
    enviado = False
    try:
        while time.monotonic() < limite:
            prontos, _, _ = select.select([mestre], [], [], 0.2)
            if prontos:
                try:
                    pedaco = os.read(mestre, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not pedaco:
                    break
                saida += pedaco
            if not enviado and pergunta in saida:
                os.write(mestre, b"\n")
                enviado = True
            if proc.poll() is not None and not prontos:
                break
        codigo = proc.wait(timeout=30)
    finally:
        os.close(mestre)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    texto = saida.decode("utf-8", "replace")
    assert enviado, texto
    return codigo, texto


def test_senha_vazia_no_terminal_diz_que_esta_vazia(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prompt appears on a real terminal; the person just presses Enter."""
    repo = tmp_path / "repo"
    cfg = _cfg(tmp_path, chave_arquivo=str(tmp_path / "nenhum" / "chave"))
    monkeypatch.setenv("BACKUP_VERSIONAMENTO_SENHA", "senha boa e longa")
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(escrever(tmp_path / "m.bin", aleatorio(512)), "patch")
    monkeypatch.delenv("BACKUP_VERSIONAMENTO_SENHA")
    arq_cfg = tmp_path / "config.json"
    arq_cfg.write_text(json.dumps(cfg))
    base = ("--base", str(repo), "--config", str(arq_cfg))
    codigo, texto = _no_terminal("listar", *base, pergunta=b"Senha do reposit")
    assert codigo == 16, texto
    assert "senha vazia" in texto, texto
    assert "não está definida" not in texto and "Traceback" not in texto


def test_senha_nova_vazia_no_terminal_diz_que_esta_vazia(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    cfg = _cfg(tmp_path)
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(escrever(tmp_path / "m.bin", aleatorio(512)), "patch")
    arq_cfg = tmp_path / "config.json"
    arq_cfg.write_text(json.dumps(cfg))
    antes = sorted(p.name for p in (repo / "chaves").iterdir())
    codigo, texto = _no_terminal(
        "chaves",
        "adicionar",
        "--senha",
        "--base",
        str(repo),
        "--config",
        str(arq_cfg),
        pergunta=b"Nova senha",
    )
    assert codigo == 16, texto
    assert "senha vazia" in texto and "rode num terminal" not in texto, texto
    assert sorted(p.name for p in (repo / "chaves").iterdir()) == antes
