"""The signing policy lives in the repository header: stripping a signature fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroConfiguracao, ErroIntegridade

from .conftest import aleatorio, cli, escrever

SEM_VALIDACAO = {"validacao": {"modo": "desligado"}}


@pytest.fixture
def par(tmp_path: Path) -> tuple[str, str]:
    r = cli("chaves", "gerar-assinatura", "--saida", str(tmp_path / "ass"), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    return d["chave_privada"], d["chave_publica"]


def _cfg(privada: str = "", publica: str = "", **extra: Any) -> dict[str, Any]:
    return {
        **SEM_VALIDACAO,
        "seguranca": {
            "assinatura": {
                "habilitada": True,
                "chave_privada": privada,
                "chave_publica": publica,
                "obrigatoria": False,
            },
            **extra,
        },
    }


def _arquivo(tmp_path: Path, cfg: dict[str, Any], nome: str = "cfg.json") -> str:
    arq = tmp_path / nome
    arq.write_text(json.dumps(cfg))
    return str(arq)


def _backup(tmp_path: Path, g: GerenciadorBackupVersionamento, semente: int) -> str:
    return g.criar_backup(
        escrever(tmp_path / "src" / "m.bin", aleatorio(200_000, semente)), "patch"
    )


def _despir(repo: Path, versao: str) -> None:
    """What an attacker with write access does: drop the signature, edit."""
    arq = repo / "modelos" / "m.bin" / f"{versao}.json"
    sc = json.loads(arq.read_text())
    sc["assinatura"] = None
    sc["descricao"] = "trocada pelo atacante"
    arq.write_text(json.dumps(sc, sort_keys=True, separators=(",", ":")))


def _cabecalho(repo: Path) -> dict[str, Any]:
    return json.loads((repo / "repositorio.json").read_text())


def test_assinatura_removida_e_recusada(tmp_path: Path, par: tuple[str, str]) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, SEM_VALIDACAO) as g:
        _backup(tmp_path, g, 0)  # 1.0.0: before signing was on
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        _backup(tmp_path, g, 1)  # 1.0.1: signed, registers the policy
        _backup(tmp_path, g, 2)  # 1.0.2
    politica = _cabecalho(repo)["politica_assinatura"]
    assert list(politica["anteriores"]) == ["m.bin/1.0.0"]
    _despir(repo, "1.0.2")

    cfg = _arquivo(tmp_path, _cfg(*par))
    r = cli("verificar", "--base", str(repo), "--config", cfg)
    assert r.returncode == 9, r.stdout + r.stderr
    assert "1.0.2" in r.stdout and "sem assinatura" in r.stdout
    r = cli(
        "restaurar", "--base", str(repo), "--config", cfg, "--modelo", "m.bin",
        "--versao", "1.0.2", "--destino", str(tmp_path / "r"),
    )  # fmt: skip
    assert r.returncode == 9 and "sem assinatura" in r.stderr, r.stderr
    assert not (tmp_path / "r").exists()
    # The machine's configuration cannot downgrade it: signatures off, still refused.
    sem = _arquivo(tmp_path, SEM_VALIDACAO, "sem.json")
    r = cli("verificar", "--base", str(repo), "--config", sem)
    assert r.returncode == 9
    with (
        GerenciadorBackupVersionamento(repo, SEM_VALIDACAO) as g,
        pytest.raises(ErroIntegridade, match="exige assinatura desde"),
    ):
        g.restaurar_backup("m.bin", "1.0.2", tmp_path / "r")
    # The version from before the policy still restores; editing it now fails.
    with GerenciadorBackupVersionamento(repo, SEM_VALIDACAO) as g:
        g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r0")
        # An explicit override, for one call.
        g.restaurar_backup(
            "m.bin", "1.0.2", tmp_path / "r2", aceitar_sem_assinatura=True
        )
        with pytest.raises(ErroIntegridade):
            g.restaurar_backup("m.bin", "1.0.2", tmp_path / "r3")
    r = cli(
        "restaurar", "--base", str(repo), "--config", cfg, "--modelo", "m.bin",
        "--versao", "1.0.2", "--destino", str(tmp_path / "r4"),
        "--aceitar-sem-assinatura",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    _despir(repo, "1.0.0")
    with (
        GerenciadorBackupVersionamento(repo, _cfg(*par)) as g,
        pytest.raises(ErroIntegridade, match="alterada depois"),
    ):
        g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r5")


def test_maquina_sem_chave_privada_nao_publica(
    tmp_path: Path, par: tuple[str, str]
) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        _backup(tmp_path, g, 0)
    with (
        GerenciadorBackupVersionamento(repo, SEM_VALIDACAO) as g,
        pytest.raises(ErroConfiguracao, match="exige versões assinadas"),
    ):
        _backup(tmp_path, g, 1)
    assert sorted(p.name for p in (repo / "modelos" / "m.bin").iterdir()) == [
        "1.0.0.json"
    ]


def test_politica_apagada_do_cabecalho_e_detectada(
    tmp_path: Path, par: tuple[str, str]
) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        _backup(tmp_path, g, 0)
        _backup(tmp_path, g, 1)
    cab = _cabecalho(repo)
    del cab["politica_assinatura"]
    (repo / "repositorio.json").write_text(json.dumps(cab))
    _despir(repo, "1.0.1")
    cfg = _arquivo(tmp_path, _cfg("", par[1]))
    r = cli("verificar", "--base", str(repo), "--config", cfg)
    assert r.returncode == 9
    assert "removido" in r.stdout
    r = cli(
        "restaurar", "--base", str(repo), "--config", cfg, "--modelo", "m.bin",
        "--versao", "1.0.1", "--destino", str(tmp_path / "r"),
    )  # fmt: skip
    assert r.returncode == 9 and "removido" in r.stderr, r.stderr
    # A signing machine does not re-register over it (that would bless 1.0.1).
    with (
        GerenciadorBackupVersionamento(repo, _cfg(*par)) as g,
        pytest.raises(ErroIntegridade, match="removido"),
    ):
        _backup(tmp_path, g, 2)
    assert "politica_assinatura" not in _cabecalho(repo)


def test_politica_editada_ou_de_outra_chave_e_recusada(
    tmp_path: Path, par: tuple[str, str]
) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        _backup(tmp_path, g, 0)
        _backup(tmp_path, g, 1)
    original = (repo / "repositorio.json").read_text()
    _despir(repo, "1.0.1")
    # Blessing the stripped version in the list breaks the record's signature.
    cab = json.loads(original)
    cab["politica_assinatura"]["anteriores"]["m.bin/1.0.1"] = "0" * 64
    (repo / "repositorio.json").write_text(json.dumps(cab))
    with GerenciadorBackupVersionamento(repo, SEM_VALIDACAO) as g:
        rel = g.verificar_integridade()
        assert not rel["ok"]
        assert "assinatura do registro inválida" in rel["problemas"][0]["mensagem"]
    # A record re-signed by the attacker's own key: refused where the key is pinned.
    outra = json.loads(
        cli(
            "chaves", "gerar-assinatura", "--saida", str(tmp_path / "o"), "--json"
        ).stdout
    )
    (repo / "repositorio.json").write_text(original)
    with GerenciadorBackupVersionamento(repo, _cfg("", outra["chave_publica"])) as g:
        rel = g.verificar_integridade()
        assert not rel["ok"]
        assert "outra chave" in rel["problemas"][0]["mensagem"]


def test_politica_autenticada_pela_chave_do_repositorio(
    tmp_path: Path, par: tuple[str, str]
) -> None:
    chave = str(tmp_path / "chave")
    cripto = {"criptografia": {"habilitada": True, "chave_arquivo": chave}}
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(*par, **cripto)) as g:
        _backup(tmp_path, g, 0)
    politica = _cabecalho(repo)["politica_assinatura"]
    assert len(politica["autenticacao"]) == 64
    # Without signing configured, the header's (authenticated) key checks versions.
    so_cifra = {**SEM_VALIDACAO, "seguranca": cripto}
    with GerenciadorBackupVersionamento(repo, so_cifra) as g:
        assert g.verificar_integridade()["ok"]
    # A record without the HMAC (made without the master key) is refused.
    cab = _cabecalho(repo)
    del cab["politica_assinatura"]["autenticacao"]
    (repo / "repositorio.json").write_text(json.dumps(cab))
    with GerenciadorBackupVersionamento(repo, so_cifra) as g:
        rel = g.verificar_integridade()
        assert not rel["ok"] and "HMAC" in rel["problemas"][0]["mensagem"]


def test_copia_recebe_a_politica_registrada_depois(
    tmp_path: Path, par: tuple[str, str]
) -> None:
    from backup_versionamento.armazenamento.backends.local import BackendLocal
    from backup_versionamento.armazenamento.sincronia import sincronizar

    repo, copia = tmp_path / "repo", tmp_path / "copia"
    with GerenciadorBackupVersionamento(repo, SEM_VALIDACAO) as g:
        _backup(tmp_path, g, 0)
    sincronizar(BackendLocal(repo), BackendLocal(copia))
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        _backup(tmp_path, g, 1)
    sincronizar(BackendLocal(repo), BackendLocal(copia))
    assert "politica_assinatura" in _cabecalho(copia)
    with GerenciadorBackupVersionamento(copia, _cfg("", par[1])) as g:
        assert g.verificar_integridade()["ok"]


def test_maquina_que_viu_a_politica_pega_o_despir_total(
    tmp_path: Path, par: tuple[str, str]
) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(*par)) as g:
        _backup(tmp_path, g, 0)
    cab = _cabecalho(repo)
    del cab["politica_assinatura"]
    (repo / "repositorio.json").write_text(json.dumps(cab))
    _despir(repo, "1.0.0")  # no signed version left to tell
    with GerenciadorBackupVersionamento(repo, SEM_VALIDACAO) as g:
        with pytest.raises(ErroIntegridade, match="já viu"):
            g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r")
        assert not g.verificar_integridade()["ok"]
