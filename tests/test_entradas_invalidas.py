"""Bad input through the CLI: the documented exit code, a message, nothing written."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento, erros
from backup_versionamento.erros import ErroArgumento, ErroConfiguracao
from tests.conftest import RAIZ, aleatorio, cli, escrever


# -- item 9: repository addresses ----------------------------------------------------
@pytest.mark.parametrize(
    "endereco", ["s3:/bucket/p", "s3://", "s3:bucket", "ftp://x/y", "S3://bucket/p"]
)
@pytest.mark.parametrize("comando", ["backup", "listar"])
def test_endereco_invalido_sai_3_sem_criar_pasta(
    tmp_path: Path, endereco: str, comando: str
) -> None:
    modelo = escrever(tmp_path / "m.bin", aleatorio(512))
    extra = ["--modelo", str(modelo)] if comando == "backup" else []
    antes = sorted(p.name for p in tmp_path.iterdir())
    r = cli(comando, "--base", endereco, *extra, cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr
    assert endereco in r.stderr and "s3://BUCKET/PREFIXO" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == antes


def test_endereco_com_uma_barra_na_api_e_no_arquivo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ErroConfiguracao, match="s3:/bucket/p"):
        GerenciadorBackupVersionamento("s3:/bucket/p", {})
    with pytest.raises(ErroConfiguracao, match="s3:/bucket/p"):
        GerenciadorBackupVersionamento(None, {"diretorios": {"base": "s3:/bucket/p"}})
    assert list(tmp_path.iterdir()) == []


def test_pasta_com_dois_pontos_continua_valida(tmp_path: Path) -> None:
    """'C:/x'-like or 'a:b' folder names are folders, not addresses."""
    modelo = escrever(tmp_path / "m.bin", aleatorio(512))
    base = tmp_path / "c:" / "repo"
    r = cli("backup", "--base", str(base), "--modelo", str(modelo))
    assert r.returncode == 0, r.stderr
    assert (base / "repositorio.json").is_file()


# -- item 11: exit codes that agree with the docs --------------------------------------
def test_nome_com_barra_sai_2_sem_criar_repositorio(tmp_path: Path) -> None:
    modelo = escrever(tmp_path / "m.bin", aleatorio(512))
    repo = tmp_path / "repo"
    r = cli("backup", "--base", str(repo), "--modelo", str(modelo), "--nome", "a/b")
    assert r.returncode == 2, r.stderr
    assert "nome de modelo inválido: 'a/b'" in r.stderr and "--nome" in r.stderr
    assert not repo.exists()


def test_nome_com_barra_na_api_e_erro_de_argumento(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    modelo = escrever(tmp_path / "m.bin", aleatorio(512))
    with pytest.raises(ErroArgumento, match="nome de modelo inválido"):
        gerenciador.criar_backup(modelo, nome_modelo="../fora")


def test_modelo_fifo_diz_que_nao_e_arquivo_comum(tmp_path: Path) -> None:
    fifo = tmp_path / "modelo.pkl"
    os.mkfifo(fifo)
    repo = tmp_path / "repo"
    r = cli("backup", "--base", str(repo), "--modelo", str(fifo), timeout=60)
    assert r.returncode == 2, r.stderr
    assert "não é um arquivo comum" in r.stderr and "FIFO" in r.stderr
    assert "não encontrado" not in r.stderr
    assert not repo.exists()


def test_modelo_vazio_e_recusado_nao_vira_pasta_atual(tmp_path: Path) -> None:
    escrever(tmp_path / "m.bin", aleatorio(512))
    repo = tmp_path / "fora" / "repo"
    r = cli("backup", "--base", str(repo), "--modelo", "", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "caminho do modelo vazio" in r.stderr
    assert not repo.exists()


def test_modelo_vazio_na_api(gerenciador: GerenciadorBackupVersionamento) -> None:
    with pytest.raises(ErroArgumento, match="caminho do modelo vazio"):
        gerenciador.criar_backup("")
    assert gerenciador.listar_modelos() == []


@pytest.mark.parametrize(
    ("conteudo", "chave"),
    [
        ('{"performance": {"threads_backup": NaN}}', "performance.threads_backup"),
        ('{"backup_automatico": {"x": [1, -Infinity]}}', "backup_automatico.x[1]"),
    ],
)
def test_nan_na_configuracao_nomeia_a_chave(
    tmp_path: Path, conteudo: str, chave: str
) -> None:
    arquivo = tmp_path / "config.json"
    arquivo.write_text(conteudo, encoding="utf-8")
    r = cli("listar", "--config", str(arquivo), "--base", str(tmp_path / "repo"))
    assert r.returncode == 3, r.stderr
    assert f"chave {chave}:" in r.stderr and str(arquivo) in r.stderr


def test_todo_codigo_de_saida_esta_na_ajuda_e_no_readme() -> None:
    codigos = {
        c.codigo_saida
        for c in vars(erros).values()
        if isinstance(c, type) and issubclass(c, erros.ErroBackup)
    }
    assert 16 in codigos and codigos <= set(erros.CODIGOS_SAIDA)
    ajuda = cli("--help").stdout
    readme = (RAIZ / "README_BACKUP.md").read_text(encoding="utf-8")
    for codigo in erros.CODIGOS_SAIDA:
        assert re.search(rf"^\s+{codigo}\s+\S", ajuda, re.M), codigo
        assert f"| {codigo} |" in readme, codigo
