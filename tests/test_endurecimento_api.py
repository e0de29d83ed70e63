"""User mistakes through the API and the CLI: the project's own error, a clear
message in Portuguese, a documented exit code, and nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.argumentos import LIMITE_NOME_MODELO
from backup_versionamento.erros import (
    ErroArgumento,
    ErroEspacoInsuficiente,
    ErroValidacao,
)
from backup_versionamento.metricas import MAIOR_INTEIRO, validar_metricas

from .conftest import aleatorio, cli, escrever


@pytest.fixture
def com_versao(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> GerenciadorBackupVersionamento:
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(2048))
    gerenciador.criar_backup(modelo)
    return gerenciador


@pytest.mark.parametrize(
    ("chamada", "trecho"),
    [
        (lambda g, m: g.criar_backup(123), "argumento caminho"),
        (lambda g, m: g.criar_backup(None), "argumento caminho"),
        (lambda g, m: g.criar_backup(m, 3), "argumento tipo_mudanca"),
        (lambda g, m: g.criar_backup(m, "patch", b"desc"), "argumento descricao"),
        (lambda g, m: g.criar_backup(m, nome_modelo=7), "argumento nome_modelo"),
        (lambda g, m: g.criar_backup(m, forcar="sim"), "argumento forcar"),
        (lambda g, m: g.restaurar_backup("modelo.bin", versao=None), "versao"),
        (lambda g, m: g.restaurar_backup("modelo.bin", "1.0.0", 5), "destino"),
        (
            lambda g, m: g.restaurar_backup("modelo.bin", sobrescrever="sim"),
            "sobrescrever",
        ),
        (lambda g, m: g.restaurar_backup(None), "argumento modelo"),
        (lambda g, m: g.listar_versoes(42), "argumento modelo"),
        (lambda g, m: g.obter_versao("modelo.bin", 1.0), "argumento versao"),
        (lambda g, m: g.comparar_versoes("modelo.bin", None), "argumento versao"),
        (lambda g, m: g.fixar_versao(["modelo.bin"], "1.0.0"), "argumento modelo"),
    ],
)
def test_tipos_errados_na_api(
    com_versao: GerenciadorBackupVersionamento,
    tmp_path: Path,
    chamada: Any,
    trecho: str,
) -> None:
    modelo = tmp_path / "modelo.bin"
    with pytest.raises(ErroArgumento) as e:
        chamada(com_versao, modelo)
    assert trecho in str(e.value) and "esperado" in str(e.value)
    assert e.value.codigo_saida == 2
    assert [v["versao"] for v in com_versao.listar_versoes("modelo.bin")] == ["1.0.0"]


def test_nome_longo_demais_cli(tmp_path: Path) -> None:
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(2048))
    repo = tmp_path / "repo"
    r = cli("backup", "--base", str(repo), "--modelo", str(modelo), "--nome", "n" * 300)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "File name too long" not in r.stderr
    assert f"o limite é {LIMITE_NOME_MODELO} bytes" in r.stderr
    assert "--nome" in r.stderr
    assert not repo.exists()


def test_nome_longo_demais_api(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(2048))
    with pytest.raises(ErroArgumento, match="nome do modelo longo demais"):
        gerenciador.criar_backup(modelo, nome_modelo="ç" * 101)  # 202 bytes
    assert gerenciador.listar_modelos() == []
    # At the limit the name works end to end.
    nome = "n" * LIMITE_NOME_MODELO
    assert gerenciador.criar_backup(modelo, nome_modelo=nome) == "1.0.0"
    assert gerenciador.listar_versoes(nome)[0]["versao"] == "1.0.0"


@pytest.mark.parametrize(
    ("conteudo", "trecho"),
    [
        ('{"epocas": 1' + "0" * 400 + "}", "inteiro de 401 dígitos"),
        ('{"acertos_11": 1' + "0" * 400 + "}", "inteiro de 401 dígitos"),
        ('{"perda": 1e999}', "não é um número finito"),
        ('{"perda": NaN}', "NaN não é um número JSON válido"),
        ('{"perda": -Infinity}', "Infinity não é um número JSON válido"),
        ('{"perda": }', "linha 1, coluna 11: esperado um valor"),
        ("", "vazio"),
        ('{"perda": ' + "9" * 5000 + "}", "dígitos demais"),
    ],
)
def test_arquivo_de_metricas_ruim(tmp_path: Path, conteudo: str, trecho: str) -> None:
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(2048))
    metricas = tmp_path / "metricas.json"
    metricas.write_text(conteudo)
    repo = tmp_path / "repo"
    r = cli(
        "backup",
        "--base",
        str(repo),
        "--modelo",
        str(modelo),
        "--metricas",
        str(metricas),
    )
    assert r.returncode == 12, r.stderr
    assert "Traceback" not in r.stderr and "Expecting" not in r.stderr
    assert trecho in r.stderr and str(metricas) in r.stderr
    assert not repo.exists()


@pytest.mark.parametrize(
    "valor", [10**400, -(10**400), MAIOR_INTEIRO + 1, float("inf"), float("nan")]
)
def test_validar_metricas_numeros_enormes(valor: Any) -> None:
    with pytest.raises(ErroValidacao) as e:
        validar_metricas({"epocas": valor})
    assert "métrica 'epocas'" in str(e.value)
    assert len(str(e.value)) < 200


def test_validar_metricas_no_limite() -> None:
    assert validar_metricas({"epocas": MAIOR_INTEIRO}) == {"epocas": MAIOR_INTEIRO}


def test_espaco_insuficiente_fala_em_unidades_legiveis(tmp_path: Path) -> None:
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(2048))
    cfg = {"espaco_disco": {"aviso_mb": 0, "reserva_mb": 1024**3}}
    with (
        GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g,
        pytest.raises(ErroEspacoInsuficiente) as e,
    ):
        g.criar_backup(modelo)
    mensagem = str(e.value)
    assert "(precisa de 2.0 KB; livres " in mensagem
    assert "0 MB;" not in mensagem


def test_metricas_validas_chegam_ao_repositorio(tmp_path: Path) -> None:
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(2048))
    metricas = tmp_path / "metricas.json"
    metricas.write_text(json.dumps({"acertos_11": 1, "epocas": 30}))
    repo = tmp_path / "repo"
    r = cli(
        "backup",
        "--base",
        str(repo),
        "--modelo",
        str(modelo),
        "--metricas",
        str(metricas),
        "--json",
    )
    assert r.returncode == 0, r.stderr
    with GerenciadorBackupVersionamento(repo, {}) as g:
        assert g.obter_versao("modelo.bin")["metricas"] == {
            "acertos_11": 1.0,
            "epocas": 30,
        }


def test_argumento_recusado_emite_backup_falhou(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    """The daemon and integrations hear about a refused backup too."""
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(2048))
    eventos: list[tuple[str, dict[str, Any]]] = []
    gerenciador.inscrever(lambda evento, dados: eventos.append((evento, dados)))
    with pytest.raises(ErroArgumento):
        gerenciador.criar_backup(modelo, descricao="x" * 5000)
    gerenciador.eventos.esvaziar()  # subscribers run on their own threads
    assert [e for e, _ in eventos] == ["backup_iniciado", "backup_falhou"]
    assert eventos[1][1]["modelo"] == "modelo.bin"
    assert "limite" in eventos[1][1]["erro"]


def test_metrica_com_inteiro_alem_do_limite_de_conversao() -> None:
    with pytest.raises(ErroValidacao, match="milhares de dígitos"):
        validar_metricas({"epocas": 10**5000})
