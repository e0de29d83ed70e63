"""CLI startup: the common commands load only what they need (docs/DESEMPENHO.md).

Each command runs for real in a child process that reports, at exit, every module
it imported. Deterministic guards, no timing: a module-level import of a heavy
library slipping back into the backup or restore path fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from backup_versionamento.cli import SUBCOMANDOS

from .conftest import RAIZ, escrever

PACOTE = RAIZ / "backup_versionamento"


def _menos_o_esquema(pacote: str) -> tuple[str, ...]:
    """Every module of `pacote` but its schema module, which config.py loads.

    The package's `__init__` only names things lazily (PEP 562); its
    `configuracao` imports only the base (docs/ARQUITETURA.md).
    """
    return tuple(
        f"backup_versionamento.{pacote}.{p.stem}"
        for p in sorted((PACOTE / pacote).glob("*.py"))
        if p.stem not in ("__init__", "configuracao")
    )


# Runs inicializar_backup.py as __main__, then writes sorted(sys.modules) to argv[1].
_ESPIAO = """
import json, runpy, sys
saida = sys.argv[1]
sys.argv = [sys.argv[2], *sys.argv[3:]]
codigo = 0
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as e:
    codigo = e.code
with open(saida, "w") as f:
    json.dump(sorted(sys.modules), f)
sys.exit(codigo)
"""

# Not needed to back up or restore a file of unknown format in an unencrypted
# local repository with the default configuration.
PESADOS = (
    "cryptography",
    "watchdog",
    "schedule",
    "jinja2",
    "httpx",
    "pygal",
    "weasyprint",
    "boto3",
    "numpy",
    "importlib.metadata",
    "statistics",
    *_menos_o_esquema("automacao"),
    "backup_versionamento.integracoes.git",
    "backup_versionamento.integracoes.webhooks",
    "backup_versionamento.integracoes.espelho",
    "backup_versionamento.seguranca.assinatura",
    "backup_versionamento.seguranca.auditoria",
    "backup_versionamento.seguranca.chaves",
    "backup_versionamento.seguranca.cifra",
    "backup_versionamento.validacao.estrutural",
    "backup_versionamento.validacao.inspecao",
    "backup_versionamento.validacao.pickle_seguro",
    "backup_versionamento.validacao.sandbox",
    "backup_versionamento.relatorios.dados",
    "backup_versionamento.armazenamento.coleta",
    "backup_versionamento.armazenamento.backends.memoria",
    "backup_versionamento.armazenamento.backends.falhas",
)
# Only the backup itself (lineage, metrics, validation) needs these.
SO_BACKUP = (
    "backup_versionamento.linhagem",
    "backup_versionamento.metricas",
    "backup_versionamento.politica.mudanca",
    *_menos_o_esquema("validacao"),
)
# The engine: help text needs none of it.
MOTOR = (
    "backup_versionamento.gerenciador",
    "backup_versionamento.config",
    "backup_versionamento.armazenamento",
    "backup_versionamento.seguranca",
    "backup_versionamento.integracoes",
    "backup_versionamento.servicos",
)


def _carregados(
    tmp_path: Path, *args: str, cwd: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the CLI with `args`; its result and the modules it imported."""
    saida = tmp_path / f"modulos-{len(list(tmp_path.glob('modulos-*')))}.json"
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            _ESPIAO,
            str(saida),
            str(RAIZ / "inicializar_backup.py"),
            *args,
        ],
        cwd=cwd or tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return r, set(json.loads(saida.read_text()))


def _presentes(modulos: set[str], nomes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modulos for n in nomes if m == n or m.startswith(n + "."))


def _outros_subcomandos(nome: str) -> tuple[str, ...]:
    """The CLI modules of every subcommand but `nome`."""
    return tuple(f"backup_versionamento.cli.{n}" for n in SUBCOMANDOS if n != nome)


def test_ajuda_nao_carrega_o_motor(tmp_path: Path) -> None:
    r, modulos = _carregados(tmp_path, "--help")
    assert r.returncode == 0, r.stderr
    assert all(n in r.stdout for n in SUBCOMANDOS)
    assert not _presentes(modulos, (*PESADOS, *SO_BACKUP, *MOTOR))
    for nome in ("restaurar", "backup"):
        r, modulos = _carregados(tmp_path, nome, "--help")
        assert r.returncode == 0, r.stderr
        assert f"uso: inicializar_backup.py {nome}" in r.stdout
        # Only the subcommand being run builds its parser.
        assert f"backup_versionamento.cli.{nome}" in modulos
        assert not _presentes(modulos, _outros_subcomandos(nome))
        assert not _presentes(modulos, (*PESADOS, *SO_BACKUP, *MOTOR))


def test_backup_restauracao_e_listagem_carregam_so_o_necessario(
    tmp_path: Path,
) -> None:
    repo = str(tmp_path / "repo")
    modelo = escrever(tmp_path / "pesos.bin", bytes(range(256)) * 4096)
    r, modulos = _carregados(
        tmp_path, "backup", "--modelo", str(modelo), "--base", repo, "--json"
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["versao"] == "1.0.0"
    assert "backup_versionamento.gerenciador" in modulos  # the guard sees our code
    assert not _presentes(modulos, (*PESADOS, *_outros_subcomandos("backup")))

    destino = tmp_path / "restaurado"
    r, modulos = _carregados(
        tmp_path,
        "restaurar",
        "--modelo",
        "pesos.bin",
        "--versao",
        "ultima",
        "--destino",
        str(destino),
        "--base",
        repo,
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert (destino / "pesos.bin").read_bytes() == modelo.read_bytes()
    assert not _presentes(
        modulos, (*PESADOS, *SO_BACKUP, *_outros_subcomandos("restaurar"))
    )

    r, modulos = _carregados(tmp_path, "listar", "--base", repo, "--json")
    assert r.returncode == 0, r.stderr
    assert [m["modelo"] for m in json.loads(r.stdout)] == ["pesos.bin"]
    assert not _presentes(modulos, (*PESADOS, *SO_BACKUP))


def test_repositorio_criptografado_carrega_a_cifra(tmp_path: Path) -> None:
    """The other side of the guard: encryption still loads what it needs.

    The restore runs with encryption off in the configuration: the repository
    header alone must bring the cipher in.
    """
    chave = tmp_path / "chaves" / "chave"
    cfg_cifra = escrever(
        tmp_path / "cifra.json",
        json.dumps(
            {
                "seguranca": {
                    "criptografia": {"habilitada": True, "chave_arquivo": str(chave)}
                }
            }
        ).encode(),
    )
    cfg_leitura = escrever(
        tmp_path / "leitura.json",
        json.dumps(
            {"seguranca": {"criptografia": {"chave_arquivo": str(chave)}}}
        ).encode(),
    )
    repo = str(tmp_path / "repo")
    modelo = escrever(tmp_path / "pesos.bin", bytes(range(256)) * 4096)
    r, modulos = _carregados(
        tmp_path,
        "backup",
        "--modelo",
        str(modelo),
        "--base",
        repo,
        "--config",
        str(cfg_cifra),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert "cryptography" in modulos
    assert "backup_versionamento.seguranca.cifra" in modulos

    destino = tmp_path / "restaurado"
    r, modulos = _carregados(
        tmp_path,
        "restaurar",
        "--modelo",
        "pesos.bin",
        "--destino",
        str(destino),
        "--base",
        repo,
        "--config",
        str(cfg_leitura),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    assert (destino / "pesos.bin").read_bytes() == modelo.read_bytes()
    assert "backup_versionamento.seguranca.cifra" in modulos
