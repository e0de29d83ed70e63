#!/usr/bin/env python3
"""Teste do sistema instalado: `python teste_sistema_backup.py` (manual, seção Testes).

A short end-to-end check of the system as installed, in a temporary folder: the
API and the CLI beside this file, a real repository, real files. It complements
`make test` (the full suite); it never touches the user's repository, config or
per-machine state. Exit 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RAIZ = Path(__file__).resolve().parent
CLI = RAIZ / "inicializar_backup.py"
MODELO = "modelo_teste.bin"


class Falha(Exception):
    """A check that did not hold; the message says what was expected."""


class Sistema:
    """One temporary world: repository, config, model files, per-machine state."""

    def __init__(self, pasta: Path) -> None:
        self.pasta = pasta
        self.base = pasta / "backups_modelos"
        self.config = pasta / "config_backup.json"
        self.modelo = pasta / "treino" / MODELO
        self.versoes: dict[str, bytes] = {}
        self.ambiente = {
            **os.environ,
            # This machine's caches and locks stay inside the temporary folder.
            "XDG_CACHE_HOME": str(pasta / "cache"),
        }
        self.ambiente.pop("BACKUP_VERSIONAMENTO_SENHA", None)

    def cli(self, *args: str, codigo: int = 0) -> Any:
        """Run the CLI for real; its JSON answer, or Falha naming the command."""
        r = subprocess.run(
            [sys.executable, str(CLI), *args, "--config", str(self.config), "--json"],
            cwd=self.pasta,
            env=self.ambiente,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if r.returncode != codigo:
            raise Falha(
                f"`inicializar_backup.py {' '.join(args)}` saiu com {r.returncode} "
                f"(esperado {codigo}): {r.stderr.strip()[-500:]}"
            )
        return json.loads(r.stdout) if r.stdout.strip() else None


def _bytes(n: int, semente: int) -> bytes:
    """Deterministic, incompressible bytes (no numpy needed)."""
    saida = bytearray()
    bloco = semente.to_bytes(8, "little")
    while len(saida) < n:
        bloco = hashlib.sha256(bloco).digest()
        saida += bloco
    return bytes(saida[:n])


def _sha(dados: bytes) -> str:
    return hashlib.sha256(dados).hexdigest()


# -- the checks of the manual's "Testes Incluídos" -------------------------------------
def inicializacao(s: Sistema) -> str:
    from backup_versionamento import GerenciadorBackupVersionamento, __version__

    s.config.write_text(
        json.dumps({"diretorios": {"base": str(s.base)}}, indent=2), encoding="utf-8"
    )
    s.cli("config", "--validar")
    with GerenciadorBackupVersionamento(config=s.config) as g:
        if g.listar_modelos():
            raise Falha(f"repositório novo em {s.base} não está vazio")
        log = Path(g.arquivo_log)
    if not (s.base / "repositorio.json").is_file():
        raise Falha(f"{s.base}/repositorio.json não foi criado")
    if not log.is_file():
        raise Falha(f"log {log} não foi criado")
    return f"versão {__version__}, repositório em {s.base}, log em {log.name}"


def criacao(s: Sistema) -> str:
    from backup_versionamento import GerenciadorBackupVersionamento

    s.modelo.parent.mkdir(parents=True, exist_ok=True)
    v1 = _bytes(3 << 20, 1)  # several chunks
    s.modelo.write_bytes(v1)
    r = s.cli("backup", "--modelo", str(s.modelo), "--descricao", "primeiro")
    if (r["versao"], r["nova_versao"]) != ("1.0.0", True):
        raise Falha(f"primeiro backup deu {r['versao']} (esperado 1.0.0)")
    s.versoes["1.0.0"] = v1
    # A fine-tune: 10% of the bytes change; through the API, like a training script.
    v2 = bytearray(v1)
    v2[: len(v1) // 10] = _bytes(len(v1) // 10, 2)
    s.modelo.write_bytes(bytes(v2))
    with GerenciadorBackupVersionamento(config=s.config) as g:
        versao = g.criar_backup(s.modelo, "retreino", "ajuste fino")
        repetida = g.criar_backup(s.modelo, "patch")
    if versao != "1.1.0":
        raise Falha(f"retreino deu {versao} (esperado 1.1.0)")
    if repetida != "1.1.0":
        raise Falha(f"conteúdo idêntico criou a versão {repetida} (esperado 1.1.0)")
    s.versoes["1.1.0"] = bytes(v2)
    return "1.0.0 (CLI), 1.1.0 retreino (API), conteúdo idêntico não repetido"


def listagem(s: Sistema) -> str:
    modelos = s.cli("listar")
    nomes = [m["modelo"] if isinstance(m, dict) else m for m in modelos]
    if nomes != [MODELO]:
        raise Falha(f"modelos listados: {nomes} (esperado [{MODELO!r}])")
    versoes = s.cli("listar", "--modelo", MODELO)
    achadas = sorted(v["versao"] for v in versoes)
    if achadas != sorted(s.versoes):
        raise Falha(f"versões listadas: {achadas} (esperado {sorted(s.versoes)})")
    for v in versoes:
        if v["sha256"] != _sha(s.versoes[v["versao"]]):
            raise Falha(f"SHA-256 listado da {v['versao']} não confere")
    return f"{len(achadas)} versões de {MODELO}, com SHA-256 e tamanho"


def restauracao(s: Sistema) -> str:
    for versao, original in s.versoes.items():
        destino = s.pasta / "restaurado" / versao
        r = s.cli(
            "restaurar",
            "--modelo",
            MODELO,
            "--versao",
            versao,
            "--destino",
            str(destino),
            "--conferir-sha256",
        )
        caminho = Path(r["caminho"])
        if not caminho.is_absolute():
            caminho = s.pasta / caminho
        if caminho.read_bytes() != original:
            raise Falha(f"{versao} restaurada em {caminho} difere do original")
    return f"{len(s.versoes)} versões idênticas byte a byte ao original"


def integridade(s: Sistema) -> str:
    r = s.cli("verificar", "--completa")
    if not r["ok"] or r["versoes_verificadas"] != len(s.versoes):
        raise Falha(f"verificação do repositório íntegro falhou: {r['problemas']}")
    # The checker must also catch damage: one flipped byte in a copy's pack.
    copia = s.pasta / "copia_danificada"
    shutil.copytree(s.base, copia)
    pacotes = sorted(p for p in (copia / "pacotes").rglob("*") if p.is_file())
    if not pacotes:
        raise Falha(f"nenhum pacote em {copia / 'pacotes'}")
    alvo = max(pacotes, key=lambda p: p.stat().st_size)
    dados = bytearray(alvo.read_bytes())
    dados[len(dados) // 3] ^= 0xFF
    alvo.write_bytes(bytes(dados))
    r = s.cli("verificar", "--completa", "--base", str(copia), codigo=9)
    if r["ok"] or not r["problemas"]:
        raise Falha("um byte trocado num pacote não foi detectado")
    return (
        f"{len(s.versoes)} versões conferidas; byte trocado numa cópia detectado "
        "(código 9)"
    )


def sistema_completo(s: Sistema) -> str:
    status = s.cli("status")
    if (status["modelos"], status["versoes"]) != (1, len(s.versoes)):
        raise Falha(f"status: {status['modelos']} modelos, {status['versoes']} versões")
    saida = s.pasta / "relatorios"
    s.cli("relatorio", "--saida", str(saida), "--formatos", "json,html")
    relatorio = json.loads((saida / "relatorio_diario.json").read_text("utf-8"))
    if relatorio["repositorio"]["versoes"] != len(s.versoes):
        raise Falha(f"relatório conta {relatorio['repositorio']['versoes']} versões")
    if not (saida / "relatorio_diario.html").stat().st_size:
        raise Falha("relatório HTML vazio")
    log = (s.base / "logs" / "backup_system.log").read_text("utf-8")
    if log.count("Backup criado") < len(s.versoes):
        raise Falha("o log não registra cada backup criado")
    return "status, relatório JSON e HTML, log do sistema"


ETAPAS: list[tuple[str, Callable[[Sistema], str]]] = [
    ("Inicialização do sistema", inicializacao),
    ("Criação de backups", criacao),
    ("Listagem de versões", listagem),
    ("Restauração de backups", restauracao),
    ("Validação de integridade", integridade),
    ("Sistema completo", sistema_completo),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Teste rápido de ponta a ponta do sistema instalado, numa pasta "
        "temporária (complementa `make test`)."
    )
    parser.add_argument(
        "--manter", action="store_true", help="não apaga a pasta temporária no fim"
    )
    args = parser.parse_args(argv)
    pasta = Path(tempfile.mkdtemp(prefix="teste_sistema_backup_"))
    # In-process API calls use the same isolated state as the CLI children.
    os.environ["XDG_CACHE_HOME"] = str(pasta / "cache")
    sys.path.insert(0, str(RAIZ))
    sistema = Sistema(pasta)
    print(f"Teste do sistema de backup em {pasta}")
    falhou = False
    inicio = time.monotonic()
    try:
        for nome, etapa in ETAPAS:
            t0 = time.monotonic()
            try:
                detalhe = etapa(sistema)
            except Falha as e:
                print(f"❌ {nome}: {e}")
                falhou = True
                break
            except Exception as e:  # a bug or a broken install: say which step
                print(f"❌ {nome}: erro inesperado {type(e).__name__}: {e}")
                falhou = True
                break
            print(f"✅ {nome}: {detalhe} ({time.monotonic() - t0:.1f} s)")
    finally:
        if args.manter:
            print(f"Pasta mantida: {pasta}")
        else:
            shutil.rmtree(pasta, ignore_errors=True)
    total = time.monotonic() - inicio
    if falhou:
        print(f"FALHOU ({total:.1f} s). Para a suíte completa: make test")
        return 1
    print(f"Tudo certo: {len(ETAPAS)} verificações em {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
