"""Model awareness through the facade and the CLI, with real model files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroValidacao

from . import modelos_reais as mr
from .conftest import cli, cli_json


def test_auto_keras_major_minor_patch_pela_cli(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    arq = tmp_path / "rede.keras"
    modelo = mr.keras_modelo((3,))
    modelo.save(arq)

    def backup(descricao: str) -> dict:
        return cli_json(
            "backup",
            "--base",
            repo,
            "--modelo",
            str(arq),
            "--tipo-mudanca",
            "auto",
            "--descricao",
            descricao,
        )

    assert backup("inicial")["versao"] == "1.0.0"
    mr.treinar_um_passo(modelo)
    modelo.save(arq)
    r = backup("retreino")
    assert r["versao"] == "1.1.0", r["mudanca"]
    assert r["mudanca"]["incremento"] == "minor"
    modelo.save(arq)  # same weights, new file bytes (save metadata)
    r = backup("re-save")
    assert r["versao"] == "1.1.1", r["mudanca"]
    maior = mr.keras_modelo((3, 5))
    maior.save(arq)
    r = backup("camada nova")
    assert r["versao"] == "2.0.0"
    assert "arquitetura mudou" in r["mudanca"]["motivo"]
    # The reason is stored and printed; comparar names the new layer.
    versoes = cli_json("listar", "--base", repo, "--modelo", "rede.keras")
    assert versoes[-1]["mudanca"]["incremento"] == "major"
    assert all(v["validacao"]["valido"] for v in versoes)
    comp = cli_json(
        "comparar",
        "--base",
        repo,
        "--modelo",
        "rede.keras",
        "--de",
        "1.1.1",
        "--para",
        "2.0.0",
    )
    assert comp["arquitetura"]["camadas_adicionadas"]
    texto = cli("comparar", "--base", repo, "--modelo", "rede.keras", "--de", "1.1.1")
    assert "camada adicionada" in texto.stdout


def test_auto_sklearn_pela_api(tmp_path: Path) -> None:
    arq = tmp_path / "floresta.joblib"
    with GerenciadorBackupVersionamento(tmp_path / "repo", {}) as g:
        mr.salvar_joblib(mr.floresta(5, 0), arq)
        assert g.criar_backup(arq, "auto") == "1.0.0"
        mr.salvar_joblib(mr.floresta(5, 1), arq)  # refit on other data
        assert g.criar_backup(arq, "auto") == "1.1.0"
        mr.salvar_joblib(mr.floresta(9, 1), arq)  # new hyperparameter
        assert g.criar_backup(arq, "auto") == "2.0.0"
        sc = g.obter_versao("floresta.joblib", "2.0.0")
        assert sc["mudanca"]["incremento"] == "major"
        assert sc["validacao"]["carregamento"]["ok"] is True
        assert sc["linhagem"]["biblioteca"]["versao"]


def test_auto_usa_versao_anterior_sem_inspecao(tmp_path: Path) -> None:
    # v1 made with an explicit type keeps no description: auto restores and inspects it.
    arq = tmp_path / "floresta.joblib"
    with GerenciadorBackupVersionamento(tmp_path / "repo", {}) as g:
        mr.salvar_joblib(mr.floresta(5, 0), arq)
        assert g.criar_backup(arq, "melhoria") == "1.0.0"
        assert g.obter_versao("floresta.joblib", "1.0.0")["inspecao"] is None
        mr.salvar_joblib(mr.floresta(5, 2), arq)
        assert g.criar_backup(arq, "auto") == "1.1.0"
    assert not list((tmp_path / "repo").glob(".inspecao-*"))


def test_pickle_malicioso_nunca_executa(tmp_path: Path) -> None:
    marcador = tmp_path / "PWNED"
    arq = mr.pickle_malicioso(tmp_path / "modelo.pkl", marcador)
    repo = str(tmp_path / "repo")
    # Default mode "avisar": stored as bytes, flagged, never loaded.
    r = cli_json(
        "backup", "--base", repo, "--modelo", str(arq), "--tipo-mudanca", "auto"
    )
    assert r["versao"] == "1.0.0" and not r["validacao"]["valido"]
    assert any("posix" in p or "system" in p for p in r["validacao"]["problemas"])
    versoes = cli_json("listar", "--base", repo, "--modelo", "modelo.pkl")
    assert versoes[0]["validacao"]["valido"] is False
    assert (
        "[validação falhou]"
        in cli("listar", "--base", repo, "--modelo", "modelo.pkl").stdout
    )
    assert cli("verificar", "--base", repo, "--arquivo", str(arq)).returncode == 12
    r = cli("verificar", "--base", repo, "--completa")
    assert r.returncode == 0  # the bytes are intact; the warning names the version
    assert "validação do modelo falha: modelo.pkl 1.0.0" in r.stdout
    r = cli(
        "restaurar",
        "--base",
        repo,
        "--modelo",
        "modelo.pkl",
        "--validar",
        "--destino",
        str(tmp_path / "r") + "/",
    )
    assert r.returncode == 12 and "FALHOU" in r.stdout
    cli("comparar", "--base", repo, "--modelo", "modelo.pkl", "--de", "1.0.0")
    # Mode "bloquear": refused, nothing written.
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps(
            {
                "diretorios": {"base": str(tmp_path / "repo2")},
                "validacao": {"modo": "bloquear"},
            }
        )
    )
    r = cli("backup", "--config", str(cfg), "--modelo", str(arq))
    assert r.returncode == 12 and "nada foi gravado" in r.stderr
    assert not list((tmp_path / "repo2").glob("modelos/*"))
    from backup_versionamento import verificar_integridade

    assert not verificar_integridade(arq, tmp_path / "repo")["valido"]
    assert not marcador.exists()


def test_modo_bloquear_pela_api(tmp_path: Path) -> None:
    ruim = mr.truncar(mr.salvar_joblib(mr.floresta(3), tmp_path / "f.joblib"))
    with GerenciadorBackupVersionamento(
        tmp_path / "repo", {"validacao": {"modo": "bloquear"}}
    ) as g:
        with pytest.raises(ErroValidacao, match=r"f\.joblib"):
            g.criar_backup(ruim, "patch")
        assert g.listar_modelos() == []
        bom = mr.salvar_joblib(mr.floresta(3), tmp_path / "g.joblib")
        assert g.criar_backup(bom, "patch") == "1.0.0"


def test_linhagem_git_no_sidecar(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    subprocess.run(["git", "init", "-q", str(proj)], check=True)
    (proj / "treino.py").write_text("print('treino')\n")
    subprocess.run(["git", "-C", str(proj), "add", "."], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(proj),
            "-c",
            "user.email=a@b.c",
            "-c",
            "user.name=t",
            "commit",
            "-qm",
            "c1",
        ],
        check=True,
    )
    commit = subprocess.run(
        ["git", "-C", str(proj), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    arq = mr.salvar_joblib(mr.floresta(3), proj / "m.joblib")
    with GerenciadorBackupVersionamento(tmp_path / "repo", {}) as g:
        g.criar_backup(arq, "melhoria")
        lin = g.listar_versoes("m.joblib")[0]["linhagem"]
    assert lin["git"]["commit"] == commit
    assert lin["git"]["sujo"] is False
    assert lin["python"]
