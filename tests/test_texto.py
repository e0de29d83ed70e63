"""User strings shown safely in tables and logs; description limit; Portuguese
plurals and JSON messages; `comparar` readable."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento, registro
from backup_versionamento.argumentos import LIMITE_DESCRICAO
from backup_versionamento.erros import ErroArgumento
from backup_versionamento.texto import decodificar_json, plural, seguro

from .conftest import aleatorio, arvore_arquivos, cli, escrever

ESC = "\x1b"
MALICIOSA = f"linha1\nFALSO - INFO - forjada {ESC}[2J{ESC}]0;titulo\x07 fim\u202e"


@pytest.mark.parametrize(
    ("entrada", "saida"),
    [
        ("texto comum, com acentos: ação é só", "texto comum, com acentos: ação é só"),
        (f"{ESC}[31mvermelho{ESC}[0m", "\\x1b[31mvermelho\\x1b[0m"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("sino\x07 del\x7f c1\x9b", "sino\\x07 del\\x7f c1\\x9b"),
        ("bidi \u202e e \u2066", "bidi \\u202e e \\u2066"),
        ("sep \u2028 par \u2029", "sep \\u2028 par \\u2029"),
        ("emoji 😀 e 日本", "emoji 😀 e 日本"),
        (Path("/tmp/x\ny"), "/tmp/x\\ny"),
    ],
)
def test_seguro(entrada: object, saida: str) -> None:
    assert seguro(entrada) == saida
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in seguro(entrada))


def test_plural() -> None:
    assert plural(1, "objeto") == "1 objeto"
    assert plural(0, "objeto") == "0 objetos"
    assert plural(1, "versão", "versões") == "1 versão"
    assert plural(2, "versão", "versões") == "2 versões"


def test_decodificar_json_em_portugues() -> None:
    with pytest.raises(ValueError, match="linha 2, coluna 7: esperado um valor"):
        decodificar_json('{"a": 1,\n "b": }')
    with pytest.raises(ValueError, match="NaN não é um número JSON válido"):
        decodificar_json('{"a": NaN}')
    with pytest.raises(ValueError, match="vazio"):
        decodificar_json("  \n")
    assert decodificar_json('{"a": [1, 2.5]}') == {"a": [1, 2.5]}


# --- the CLI and the log ------------------------------------------------------------


def _backup(tmp_path: Path, *extra: str) -> tuple[Path, Path]:
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(4096))
    repo = tmp_path / "repo"
    r = cli("backup", "--base", str(repo), "--modelo", str(modelo), *extra)
    assert r.returncode == 0, r.stderr
    return modelo, repo


def test_descricao_com_controles_sai_escapada_no_terminal_e_no_log(
    tmp_path: Path,
) -> None:
    _, repo = _backup(tmp_path, "--descricao", MALICIOSA)
    r = cli("listar", "--base", str(repo), "--modelo", "modelo.bin")
    assert r.returncode == 0, r.stderr
    assert ESC not in r.stdout and "\x07" not in r.stdout and "\u202e" not in r.stdout
    assert "linha1\\nFALSO - INFO - forjada \\x1b[2J\\x1b]0;titulo\\x07" in r.stdout
    assert len(r.stdout.strip().splitlines()) == 2  # header + one version
    # --json keeps the exact text for scripts.
    dados = json.loads(
        cli("listar", "--base", str(repo), "--modelo", "modelo.bin", "--json").stdout
    )
    assert dados[0]["descricao"] == MALICIOSA
    # A log line carrying the description stays one escaped line.
    with GerenciadorBackupVersionamento(repo, {}):
        logging.getLogger(registro.NOME_LOGGER).info("Descrição: %s", MALICIOSA)
    log = (repo / "logs" / "backup_system.log").read_text(encoding="utf-8")
    assert ESC not in log and "\u202e" not in log
    assert "Descrição: linha1\\nFALSO - INFO - forjada \\x1b[2J" in log
    assert all(" - SistemaBackup - " in linha for linha in log.splitlines())


@pytest.mark.parametrize("nome", [f"m{ESC}[1m.bin", "a\nb.bin", "x\u202e.bin"])
def test_nome_de_modelo_com_controle_recusado(tmp_path: Path, nome: str) -> None:
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(4096))
    repo = tmp_path / "repo"
    r = cli("backup", "--base", str(repo), "--modelo", str(modelo), "--nome", nome)
    assert r.returncode == 2, r.stderr
    assert "caractere de controle" in r.stderr and ESC not in r.stderr
    assert not repo.exists()


def test_descricao_longa_recusada_sem_escrever_nada(tmp_path: Path) -> None:
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(4096))
    repo = tmp_path / "repo"
    longa = "x" * (LIMITE_DESCRICAO + 1)
    r = cli(
        "backup", "--base", str(repo), "--modelo", str(modelo), "--descricao", longa
    )
    assert r.returncode == ErroArgumento.codigo_saida == 2
    assert f"o limite é {LIMITE_DESCRICAO}" in r.stderr
    assert "Traceback" not in r.stderr
    assert not repo.exists()
    # Through the API on an existing repository: nothing is added.
    with GerenciadorBackupVersionamento(repo, {}) as g:
        antes = arvore_arquivos(repo)
        with pytest.raises(ErroArgumento, match="limite"):
            g.criar_backup(modelo, descricao=longa)
        assert g.listar_modelos() == []
    # Only the logs: the spec's log and the activity journal (docs/EVENTOS.md).
    novos = arvore_arquivos(repo).keys() - antes.keys()
    assert novos <= {"logs/backup_system.log", "logs/atividade.jsonl"}
    # Exactly at the limit is fine.
    r = cli(
        "backup",
        "--base",
        str(repo),
        "--modelo",
        str(modelo),
        "--descricao",
        "y" * LIMITE_DESCRICAO,
    )
    assert r.returncode == 0, r.stderr


def test_erro_com_nome_de_arquivo_malicioso_sai_escapado(tmp_path: Path) -> None:
    r = cli("backup", "--base", str(tmp_path / "r"), "--modelo", f"nao{ESC}[2Jexiste")
    assert r.returncode == 4
    assert ESC not in r.stderr and "nao\\x1b[2Jexiste" in r.stderr


def test_plurais_na_saida(tmp_path: Path) -> None:
    _, repo = _backup(tmp_path)
    r = cli("verificar", "--base", str(repo))
    assert r.returncode == 0, r.stderr
    assert "1 versão, 1 bloco," in r.stdout
    assert "versões" not in r.stdout and "blocos" not in r.stdout
    r = cli("status", "--base", str(repo))
    assert r.returncode == 0, r.stderr
    assert " em 1 pacote" in r.stdout and "1 pacotes" not in r.stdout
    r = cli("limpeza", "--base", str(repo), "--simular")
    assert r.returncode == 0, r.stderr
    assert "0 versões seriam removidas, 1 mantida." in r.stdout
    assert "versão(ões)" not in r.stdout


def test_comparar_legivel(tmp_path: Path) -> None:
    modelo = escrever(tmp_path / "modelo.bin", aleatorio(4096))
    repo = tmp_path / "repo"
    metricas = tmp_path / "m.json"
    metricas.write_text(json.dumps({"acertos_11": 0.1}))
    r = cli(
        "backup",
        "--base",
        str(repo),
        "--modelo",
        str(modelo),
        "--metricas",
        str(metricas),
    )
    assert r.returncode == 0, r.stderr
    escrever(modelo, aleatorio(4096, 1))
    metricas.write_text(json.dumps({"acertos_11": 0.2, "acertos_13": 0.01}))
    r = cli(
        "backup",
        "--base",
        str(repo),
        "--modelo",
        str(modelo),
        "--metricas",
        str(metricas),
    )
    assert r.returncode == 0, r.stderr
    r = cli("comparar", "--base", str(repo), "--modelo", "modelo.bin", "--de", "1.0.0")
    assert r.returncode == 0, r.stderr
    assert "None" not in r.stdout and "{" not in r.stdout
    assert "acertos_13: ausente -> 0.01" in r.stdout
    assert "acertos_11: 0.1 -> 0.2 (+0.1)" in r.stdout


def test_comparar_camadas_sem_dicionarios_crus() -> None:
    from backup_versionamento.cli.comparar import _texto

    r = {
        "modelo": "rede.keras",
        "a": "1.0.0",
        "b": "2.0.0",
        "identicas": False,
        "tamanho": {"a": 10, "b": 20, "delta": 10},
        "blocos": {"comuns": 1, "novos_em_b": 1},
        "bytes_alterados": 10,
        "arquivos": {"adicionados": [], "removidos": [], "alterados": []},
        "metricas": {"perda": {"a": 0.5, "b": None, "delta": None}},
        "arquitetura": {
            "resumo": "1 camada(s) adicionada(s) (Dense)",
            "camadas_adicionadas": [
                {"posicao": 2, "nome": "dense_9", "classe": "Dense", "formas": [[3, 1]]}
            ],
            "camadas_removidas": [],
            "camadas_alteradas": [
                {
                    "posicao_anterior": 0,
                    "posicao_atual": 0,
                    "nome": "dense",
                    "classe": "Dense",
                    "mudancas": {"units": {"antes": 3, "depois": 4}},
                }
            ],
            "parametros_alterados": {"max_depth": {"antes": 3, "depois": None}},
            "parametros_adicionados": {"eta": 0.3},
            "parametros_removidos": {},
        },
    }
    texto = _texto(r)
    assert "{'" not in texto and "None" not in texto
    assert "perda: 0.5 -> ausente" in texto
    assert "camada adicionada: dense_9 (Dense, posição 2, formas [[3, 1]])" in texto
    assert "camada alterada: dense: units 3 -> 4" in texto
    assert "parâmetro alterado: max_depth 3 -> ausente" in texto
    assert "parâmetro adicionado: eta = 0.3" in texto


def test_mascarar_url() -> None:
    from backup_versionamento.texto import mascarar_url

    assert (
        mascarar_url("https://u:p@h/x?token=t&a=1#f")
        == "https://u:***@h/x?token=***&a=1#f"
    )
    assert mascarar_url("http://h:9000/x") == "http://h:9000/x"
    assert mascarar_url("s3://bucket/p") == "s3://bucket/p"
    assert mascarar_url("ssh://git@github.com/r") == "ssh://git@github.com/r"
    assert mascarar_url("h/?X-Amz-Signature=abc") == "h/?X-Amz-Signature=***"
