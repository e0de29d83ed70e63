"""The CLI as users run it: real subprocesses, JSON output, progress, memory."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from .conftest import RAIZ, aleatorio, cli, cli_json, escrever

MiB = 1024 * 1024


def test_fluxo_completo_json(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    m = escrever(tmp_path / "modelo.h5", aleatorio(3 * MiB, 1))
    metricas = escrever(
        tmp_path / "met.json",
        json.dumps({"acertos_13": 0.21, "taxa_acerto_media": 0.6}).encode(),
    )
    b = cli_json(
        "backup",
        "--base",
        repo,
        "--modelo",
        str(m),
        "--tipo-mudanca",
        "melhoria",
        "--descricao",
        "Backup manual",
        "--metricas",
        str(metricas),
    )
    assert b["versao"] == "1.0.0" and b["nova_versao"]
    assert b["sha256"] == hashlib.sha256(m.read_bytes()).hexdigest()
    b = cli_json("backup", "--base", repo, "--modelo", str(m))
    assert b["versao"] == "1.0.0" and not b["nova_versao"]
    escrever(m, aleatorio(3 * MiB, 2))
    assert (
        cli_json(
            "backup",
            "--base",
            repo,
            "--modelo",
            str(m),
            "--tipo-mudanca",
            "arquitetura",
        )["versao"]
        == "2.0.0"
    )
    modelos = cli_json("listar", "--base", repo)
    assert modelos == [
        {**modelos[0], "modelo": "modelo.h5", "versoes": 2, "ultima_versao": "2.0.0"}
    ]
    versoes = cli_json("listar", "--base", repo, "--modelo", "modelo.h5")
    assert versoes[0]["metricas"] == {"acertos_13": 0.21, "taxa_acerto_media": 0.6}
    st = cli_json("status", "--base", repo)
    assert st["modelos"] == 1 and st["versoes"] == 2
    assert st["tamanho_logico"] == 6 * MiB
    rel = cli_json("verificar", "--base", repo, "--completa")
    assert rel["ok"] and rel["versoes_verificadas"] == 2
    r = cli_json(
        "restaurar",
        "--base",
        repo,
        "--modelo",
        "modelo.h5",
        "--versao",
        "1.0.0",
        "--destino",
        str(tmp_path / "out") + "/",
    )
    assert Path(r["caminho"]).read_bytes() == aleatorio(3 * MiB, 1)
    # Random bytes named .h5 match a stored version but are no valid HDF5 model.
    r = cli("verificar", "--base", repo, "--arquivo", str(m), "--json")
    assert r.returncode == 12
    arq = json.loads(r.stdout)
    assert arq["versao_correspondente"] == "2.0.0"
    assert not arq["valido"] and "modelo.h5" in arq["problemas"][0]


def test_saida_humana_e_ajuda(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    m = escrever(tmp_path / "modelo.h5", b"pesos")
    r = cli(
        "backup", "--base", repo, "--modelo", str(m), "--descricao", "Backup manual"
    )
    assert r.returncode == 0
    assert r.stdout.startswith("Backup criado: modelo.h5 -> 1.0.0")
    r = cli("listar", "--base", repo, "--modelo", "modelo.h5")
    assert "1.0.0" in r.stdout and "Backup manual" in r.stdout
    r = cli("status", "--base", repo)
    assert "Modelos / versões:  1 / 1" in r.stdout
    r = cli("--help")
    assert r.returncode == 0 and "códigos de saída" in r.stdout
    for sub in (
        "backup",
        "listar",
        "restaurar",
        "verificar",
        "status",
        "config",
        "limpeza",
        "fixar",
        "desafixar",
    ):
        assert cli(sub, "--help").returncode == 0, sub


def test_barra_de_progresso_no_terminal(tmp_path: Path) -> None:
    m = escrever(tmp_path / "grande.h5", aleatorio(40 * MiB, 3))
    mestre, escravo = pty.openpty()
    p = subprocess.Popen(
        [
            sys.executable,
            str(RAIZ / "inicializar_backup.py"),
            "backup",
            "--base",
            str(tmp_path / "repo"),
            "--modelo",
            str(m),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=escravo,
    )
    os.close(escravo)
    saida = b""
    while True:
        try:
            pedaco = os.read(mestre, 4096)
        except OSError:
            break
        if not pedaco:
            break
        saida += pedaco
    p.wait(120)
    os.close(mestre)
    assert p.returncode == 0
    assert b"grande.h5" in saida and b"B/s" in saida  # tqdm drew a bar on stderr
    # Without a terminal there is no bar (scripts and logs stay clean).
    r = cli("backup", "--base", str(tmp_path / "repo"), "--modelo", str(m), "--forcar")
    assert "B/s" not in r.stderr


def test_memoria_limitada_com_modelo_de_5_gib(tmp_path: Path) -> None:
    # A sparse 5 GiB file: real reads of 5 GiB, almost no disk used.
    m = tmp_path / "enorme.h5"
    with open(m, "wb") as f:
        f.seek(5 * 1024 * MiB - 4)
        f.write(b"fim!")
    codigo = (
        "import sys\n"
        f"sys.path.insert(0, {str(RAIZ)!r})\n"
        "from backup_versionamento import GerenciadorBackupVersionamento\n"
        f"g = GerenciadorBackupVersionamento({str(tmp_path / 'repo')!r}, {{}})\n"
        f"print(g.criar_backup({str(m)!r}, 'melhoria'))\n"
        # VmHWM belongs to this address space; ru_maxrss would also count the
        # parent's pages inherited at fork (it survives execve).
        "print(next(l.split()[1] for l in open('/proc/self/status')"
        " if l.startswith('VmHWM')))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", codigo], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr
    versao, pico_kib = r.stdout.split()
    assert versao == "1.0.0"
    assert int(pico_kib) < 300 * 1024, f"pico de memória {int(pico_kib) // 1024} MB"


def test_outras_portas_e_log_de_debug(tmp_path: Path) -> None:
    # `python -m backup_versionamento` and the installed console script are the CLI.
    r = subprocess.run(
        [sys.executable, "-m", "backup_versionamento", "--versao"],
        capture_output=True,
        text=True,
        cwd=RAIZ,
    )
    assert r.returncode == 0 and "1.0.0" in r.stdout
    script = Path(sys.executable).parent / "inicializar-backup"
    assert script.exists(), "rode `make test` (instala o pacote com pip -e)"
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps(
            {
                "diretorios": {"base": str(tmp_path / "repo")},
                "desenvolvimento": {"modo_debug": True, "log_detalhado": True},
            }
        )
    )
    m = escrever(tmp_path / "m.bin", b"x" * 10)
    r = subprocess.run(
        [str(script), "backup", "--config", str(cfg), "--modelo", str(m)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    log = (tmp_path / "repo" / "logs" / "backup_system.log").read_text()
    # log_detalhado adds thread, module and line to every line.
    assert "- SistemaBackup - INFO - [MainThread backup:" in log
    assert "- SistemaBackup - DEBUG - [MainThread backup:" in log  # modo_debug
    assert "Detalhes de m.bin 1.0.0: 1 entrada(s), 1 blocos, 10 bytes" in log
