"""Lineage: a real git repository in tmp_path, real git processes."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from backup_versionamento.erros import ErroArquivoNaoEncontrado
from backup_versionamento.linhagem import coletar_linhagem


@pytest.fixture(autouse=True)
def git_isolado(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the user's git config out, and stop git from looking above tmp_path."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.resolve()))
    for nome in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(nome, "Teste")
    for nome in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(nome, "teste@example.invalid")


def git(pasta: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=pasta, check=True, capture_output=True, timeout=30
    )


def repositorio(raiz: Path, commit: bool = True) -> Path:
    raiz.mkdir()
    git(raiz, "init", "-q", "-b", "principal")
    (raiz / "treino.py").write_text("print('treino')\n")
    (raiz / "modelos").mkdir()
    (raiz / "modelos" / "modelo.pkl").write_bytes(b"\x80\x04N.")  # untracked
    if commit:
        git(raiz, "add", "treino.py")
        git(raiz, "commit", "-q", "-m", "primeiro")
    return raiz


def test_repositorio_limpo_depois_sujo(tmp_path: Path) -> None:
    raiz = repositorio(tmp_path / "projeto")
    modelo = raiz / "modelos" / "modelo.pkl"
    esperado = (raiz / ".git" / "refs" / "heads" / "principal").read_text().strip()

    info = coletar_linhagem(modelo)["git"]
    assert info == {
        "commit": esperado,
        "branch": "principal",
        "sujo": False,
        "raiz": str(raiz.resolve()),
    }
    assert len(esperado) == 40

    (raiz / "treino.py").write_text("print('treino 2')\n")
    assert coletar_linhagem(modelo)["git"]["sujo"] is True

    git(raiz, "add", "treino.py")  # staged but not committed is still dirty
    assert coletar_linhagem(modelo)["git"]["sujo"] is True

    git(raiz, "commit", "-q", "-m", "segundo")
    depois = coletar_linhagem(modelo)["git"]
    assert depois["sujo"] is False
    assert depois["commit"] != esperado


def test_modelo_em_pasta_e_head_destacado(tmp_path: Path) -> None:
    raiz = repositorio(tmp_path / "projeto")
    savedmodel = raiz / "modelos" / "saved_model"
    savedmodel.mkdir()
    git(raiz, "checkout", "-q", "--detach")
    info = coletar_linhagem(savedmodel)["git"]
    assert info["branch"] is None
    assert info["commit"] == (raiz / ".git" / "HEAD").read_text().strip()
    assert info["raiz"] == str(raiz.resolve())


def test_repositorio_sem_commits(tmp_path: Path) -> None:
    raiz = repositorio(tmp_path / "novo", commit=False)
    info = coletar_linhagem(raiz / "modelos" / "modelo.pkl")["git"]
    assert info == {
        "commit": None,
        "branch": "principal",
        "sujo": False,
        "raiz": str(raiz.resolve()),
    }


def test_fora_do_git(tmp_path: Path) -> None:
    pasta = tmp_path / "solto"
    pasta.mkdir()
    (pasta / "modelo.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    assert coletar_linhagem(pasta / "modelo.h5")["git"] is None


def test_ignora_git_dir_herdado(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outro = repositorio(tmp_path / "outro")
    pasta = tmp_path / "solto"
    pasta.mkdir()
    # With only GIT_DIR set, git would take the current folder as that repo's tree.
    monkeypatch.setenv("GIT_DIR", str(outro / ".git"))
    assert coletar_linhagem(pasta)["git"] is None


def test_sem_git_instalado(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raiz = repositorio(tmp_path / "projeto")
    vazio = tmp_path / "bin_vazio"
    vazio.mkdir()
    monkeypatch.setenv("PATH", str(vazio))
    linhagem = coletar_linhagem(raiz / "treino.py")
    assert linhagem["git"] is None
    assert linhagem["python"] == platform.python_version()


def test_ambiente_e_biblioteca(tmp_path: Path) -> None:
    arquivo = tmp_path / "modelo.pt"
    arquivo.write_bytes(b"PK")
    linhagem = coletar_linhagem(arquivo, "pytest")
    assert linhagem["python"] == platform.python_version()
    assert linhagem["host"] == socket.gethostname()
    assert isinstance(linhagem["usuario"], str) and linhagem["usuario"]
    assert linhagem["biblioteca"] == {
        "nome": "pytest",
        "distribuicao": "pytest",
        "versao": pytest.__version__,
    }
    assert coletar_linhagem(arquivo)["biblioteca"] is None


def test_apelidos_de_biblioteca(tmp_path: Path) -> None:
    assert coletar_linhagem(tmp_path, "sklearn")["biblioteca"] == {
        "nome": "sklearn",
        "distribuicao": "scikit-learn",
        "versao": metadata.version("scikit-learn"),
    }
    assert (
        coletar_linhagem(tmp_path, "PyTorch")["biblioteca"]["distribuicao"] == "torch"
    )
    assert coletar_linhagem(tmp_path, "biblioteca-que-nao-existe")["biblioteca"] == {
        "nome": "biblioteca-que-nao-existe",
        "distribuicao": None,
        "versao": None,
    }


def test_nao_importa_a_biblioteca_pesada(tmp_path: Path) -> None:
    codigo = (
        "import sys\n"
        "from pathlib import Path\n"
        "from backup_versionamento.linhagem import coletar_linhagem\n"
        f"b = coletar_linhagem(Path({str(tmp_path)!r}), 'torch')['biblioteca']\n"
        "assert b['versao'], b\n"
        "print('torch' in sys.modules)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", codigo],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_caminho_inexistente(tmp_path: Path) -> None:
    with pytest.raises(ErroArquivoNaoEncontrado) as e:
        coletar_linhagem(tmp_path / "nao_existe.pkl")
    assert "nao_existe.pkl" in str(e.value)
