"""Where a restore goes: folder or file name, refusals, clear errors (issue 12)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroPermissao, ErroRestauracao
from backup_versionamento.servicos.destino import (
    remover_temporarios_antigos,
    resolver_destino,
)

from .conftest import cli, escrever

CFG = {"validacao": {"modo": "desligado"}}


@pytest.fixture
def com_versao(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """A repository with m.h5 1.0.0 and a config file that skips validation."""
    repo = tmp_path / "repo"
    dados = os.urandom(3000)
    m = escrever(tmp_path / "m.h5", dados)
    config = escrever(tmp_path / "c.json", json.dumps(CFG).encode())
    with GerenciadorBackupVersionamento(repo, CFG) as g:
        g.criar_backup(m, "patch")
    return repo, config, dados


def _restaurar(repo: Path, config: Path, destino: str, cwd: Path, *extra: str):
    return cli(
        "restaurar", "--base", str(repo), "--config", str(config),
        "--modelo", "m.h5", "--destino", destino, *extra, cwd=cwd,
    )  # fmt: skip


def test_regras_de_destino(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (tmp_path / "existe").mkdir()
    escrever(tmp_path / "arq.bin", b"x")

    def r(destino: str, nome: str = "m.h5", tipo: str = "arquivo"):
        return resolver_destino(destino, nome, tipo, repo)

    d = r(f"{tmp_path}/nova/")
    assert (d.caminho, d.tratado_como) == (tmp_path / "nova" / "m.h5", "pasta")
    assert "'/'" in d.motivo
    d = r(str(tmp_path / "existe"))
    assert (d.caminho, d.tratado_como) == (tmp_path / "existe" / "m.h5", "pasta")
    d = r(str(tmp_path / "restauracao"))  # no slash, no extension: a folder
    assert (d.caminho, d.tratado_como) == (tmp_path / "restauracao" / "m.h5", "pasta")
    assert ".h5" in d.motivo
    d = r(str(tmp_path / "copia.H5"))  # the model's extension: the file name
    assert (d.caminho, d.tratado_como) == (tmp_path / "copia.H5", "arquivo")
    d = r(str(tmp_path / "arq.bin"))  # an existing file is the target itself
    assert (d.caminho, d.tratado_como) == (tmp_path / "arq.bin", "arquivo")
    d = r(str(tmp_path / "pm.h5"), "pm", "diretorio")  # folder models go inside
    assert (d.caminho, d.tratado_como) == (tmp_path / "pm.h5" / "pm", "pasta")
    with pytest.raises(ErroRestauracao, match="dentro do repositório"):
        r(str(repo / "sub") + "/")
    os.symlink(repo, tmp_path / "atalho")  # through a symlink, still inside
    with pytest.raises(ErroRestauracao, match="dentro do repositório"):
        r(str(tmp_path / "atalho" / "x") + "/")
    with pytest.raises(ErroRestauracao, match="contém o repositório"):
        resolver_destino(str(tmp_path), "proj", "diretorio", tmp_path / "proj" / "r")
    with pytest.raises(ErroRestauracao, match=r"arq\.bin: é um arquivo, não uma pasta"):
        r(str(tmp_path / "arq.bin" / "sub") + "/")
    with pytest.raises(ErroRestauracao, match=r"arq\.bin.*é um arquivo"):
        r(str(tmp_path / "arq.bin") + "/")


def test_destino_sem_barra_vira_pasta_e_a_saida_diz(
    com_versao: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    repo, config, dados = com_versao
    r = _restaurar(repo, config, "restauracao", tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "restauracao" / "m.h5").read_bytes() == dados
    assert "destino tratado como pasta" in r.stdout and ".h5" in r.stdout
    r = _restaurar(repo, config, "copia.h5", tmp_path, "--json")
    assert r.returncode == 0, r.stderr
    saida = json.loads(r.stdout)
    assert saida["destino_tratado_como"] == "arquivo"
    assert (tmp_path / "copia.h5").read_bytes() == dados


def test_pai_que_e_arquivo_e_destino_no_repositorio(
    com_versao: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    repo, config, _ = com_versao
    escrever(tmp_path / "existente.txt", b"x")
    for destino in ("existente.txt/sub/", "existente.txt/sub"):
        r = _restaurar(repo, config, destino, tmp_path)
        assert r.returncode == 13, r.stderr
        assert "Traceback" not in r.stderr
        assert "existente.txt: é um arquivo, não uma pasta" in r.stderr
    for destino in (f"{repo}/", f"{repo}/modelos/x"):
        r = _restaurar(repo, config, destino, tmp_path)
        assert r.returncode == 13 and "dentro do repositório" in r.stderr, r.stderr
    antes = sorted(p.name for p in repo.iterdir())
    r = cli("verificar", "--base", str(repo), "--config", str(config))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in repo.iterdir()) == antes
    log = (repo / "logs" / "backup_system.log").read_text(encoding="utf-8")
    assert " - SistemaBackup - ERROR - Restauração falhou: m.h5 " in log


@pytest.fixture
def somente_leitura(tmp_path: Path):
    """A real read-only tmpfs (root writes anywhere else)."""
    ponto = tmp_path / "ro"
    ponto.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ponto)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, f"mount tmpfs falhou (precisa de root): {r.stderr}"
    yield ponto
    subprocess.run(["umount", "-l", str(ponto)], check=True)


def test_destino_somente_leitura(
    com_versao: tuple[Path, Path, bytes], tmp_path: Path, somente_leitura: Path
) -> None:
    repo, config, _ = com_versao
    for destino in (f"{somente_leitura}/", f"{somente_leitura}/sub/x"):
        r = _restaurar(repo, config, destino, tmp_path)
        assert r.returncode == 5, r.stderr
        assert "Traceback" not in r.stderr and "Read-only" not in r.stderr
        assert f"{somente_leitura}: sistema de arquivos somente leitura" in r.stderr
    with pytest.raises(ErroPermissao):
        resolver_destino(somente_leitura, "m.h5", "arquivo", repo)


def test_verificar_arquivo_inexistente(tmp_path: Path) -> None:
    r = cli("verificar", "--base", str(tmp_path / "repo"), "--arquivo", "nao.bin")
    assert r.returncode == 4, r.stderr
    assert "Traceback" not in r.stderr
    assert "nao.bin: arquivo não encontrado" in r.stderr


def test_temporarios_de_restauracao_interrompida_sao_removidos(
    com_versao: tuple[Path, Path, bytes], tmp_path: Path
) -> None:
    repo, config, dados = com_versao
    dest = tmp_path / "dest"
    velho = escrever(dest / ".m.h5.k3j4h5.restaurando", b"\0" * 1000)
    pasta_velha = escrever(dest / ".m.h5.aaaa.restaurando" / "f", b"x").parent
    recente = escrever(dest / ".m.h5.zzzz.restaurando", b"\0" * 10)
    outro = escrever(dest / ".outro.h5.q.restaurando", b"\0")
    uma_hora = time.time() - 3600
    for p in (velho, pasta_velha / "f", pasta_velha, outro):
        os.utime(p, (uma_hora, uma_hora))
    r = _restaurar(repo, config, "dest", tmp_path)
    assert r.returncode == 0, r.stderr
    assert (dest / "m.h5").read_bytes() == dados
    assert not velho.exists() and not pasta_velha.exists()
    assert recente.exists()  # may belong to a restore still running
    assert outro.exists()  # another model's business
    assert remover_temporarios_antigos(dest, "outro.h5") == [outro]
