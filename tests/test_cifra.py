"""Encryption: AES-256-GCM blobs and sidecars, key objects, key files, passphrases."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import blake3
import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.blob import Codificador
from backup_versionamento.armazenamento.pacote import chave_pacote
from backup_versionamento.erros import (
    ErroCriptografia,
    ErroIntegridade,
    ErroObjetoCorrompido,
)

from .conftest import aleatorio, arvore_arquivos, cli, escrever
from .conftest import cfg_cifrado as _cfg

MiB = 1 << 20
MARCADOR = b"MARCADOR-LOTOFACIL-7f3a9c"


def _config_arquivo(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    arq = tmp_path / "config.json"
    arq.write_text(json.dumps(cfg))
    return arq


def _modelo(tmp_path: Path, nome: str = "m.bin", semente: int = 0) -> Path:
    return escrever(tmp_path / "src" / nome, aleatorio(3 * MiB, semente))


def _local(g: GerenciadorBackupVersionamento, versao: str = "1.0.0") -> Any:
    sc = g.repo.ler_versao("m.bin", versao)
    id_bloco = sc.blocos()[0][0]
    return id_bloco, g.repo.objetos.localizar(id_bloco)


def test_marcador_nunca_aparece_em_claro(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    texto = MARCADOR * 20000 + aleatorio(MiB, 1)  # compressible and not
    pasta = tmp_path / "src" / "pasta_modelo"
    escrever(pasta / "pesos.bin", texto)
    escrever(pasta / "config.txt", b"nome=" + MARCADOR + b"\n")
    arquivo = escrever(tmp_path / "src" / "m.bin", aleatorio(MiB, 2) + MARCADOR)
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        g.criar_backup(pasta, "patch", descricao="treino " + MARCADOR.decode())
        g.criar_backup(arquivo, "patch")
        g.restaurar_backup("pasta_modelo", "1.0.0", tmp_path / "r")
    assert (tmp_path / "r" / "pasta_modelo" / "pesos.bin").read_bytes() == texto
    arquivos = arvore_arquivos(repo)
    assert any(k.startswith("modelos/") for k in arquivos)
    assert any(k.startswith("pacotes/") for k in arquivos)
    for caminho, dados in arquivos.items():
        if caminho.startswith("logs/"):
            continue  # the activity journal and the log name models, not content
        assert MARCADOR not in dados, caminho
        assert MARCADOR.hex().encode() not in dados, caminho
    cab = json.loads((repo / "repositorio.json").read_text())
    assert cab["ids_chaveados"] is True
    assert cab["criptografia"]["algoritmo"] == "AES-256-GCM"


def test_ids_de_bloco_chaveados(tmp_path: Path) -> None:
    m = _modelo(tmp_path)
    with GerenciadorBackupVersionamento(tmp_path / "repo", _cfg(tmp_path)) as g:
        g.criar_backup(m, "patch")
        sc = g.repo.ler_versao("m.bin", "1.0.0")
    dados = m.read_bytes()
    ids = {i for i, _ in sc.blocos()}
    # No chunk id is the plain BLAKE3 of any prefix chunk: ids reveal nothing.
    primeiro_tamanho = sc.blocos()[0][1]
    assert blake3.blake3(dados[:primeiro_tamanho]).hexdigest() not in ids


@pytest.mark.parametrize("onde", ["cabecalho", "meio", "tag"])
def test_bit_invertido_e_recusado(tmp_path: Path, onde: str) -> None:
    m = _modelo(tmp_path)
    with GerenciadorBackupVersionamento(tmp_path / "repo", _cfg(tmp_path)) as g:
        g.criar_backup(m, "patch")
        id_bloco, loc = _local(g)
        arq = tmp_path / "repo" / chave_pacote(loc.pacote)
        pos = {
            "cabecalho": loc.deslocamento + 4,  # the plaintext length (in the AAD)
            "meio": loc.deslocamento + loc.tamanho // 2,
            "tag": loc.deslocamento + loc.tamanho - 1,
        }[onde]
        dados = bytearray(arq.read_bytes())
        dados[pos] ^= 0x01
        os.chmod(arq, 0o644)
        arq.write_bytes(bytes(dados))
        with pytest.raises(
            ErroObjetoCorrompido, match=r"falha de autenticação|corrompido"
        ):
            g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r")
        rel = g.verificar_integridade()
        assert not rel["ok"]
        assert any(p.get("objeto") == id_bloco for p in rel["problemas"])


def test_blob_truncado_e_recusado(tmp_path: Path) -> None:
    m = _modelo(tmp_path)
    with GerenciadorBackupVersionamento(tmp_path / "repo", _cfg(tmp_path)) as g:
        g.criar_backup(m, "patch")
        id_bloco, loc = _local(g)
        bruto = g.repo.backend.ler(chave_pacote(loc.pacote))
        blob = bruto[loc.deslocamento : loc.deslocamento + loc.tamanho]
        for corte in (1, 16, loc.tamanho - 20):
            with pytest.raises(ErroObjetoCorrompido):
                g.repo.codificador.decodificar_bloco(id_bloco, blob[:-corte])


def test_blob_trocado_entre_blocos_e_recusado(tmp_path: Path) -> None:
    m = _modelo(tmp_path)
    with GerenciadorBackupVersionamento(tmp_path / "repo", _cfg(tmp_path)) as g:
        g.criar_backup(m, "patch")
        sc = g.repo.ler_versao("m.bin", "1.0.0")
        (a, _), (b, _) = sc.blocos()[:2]
        la, lb = g.repo.objetos.localizar(a), g.repo.objetos.localizar(b)
        pacote = g.repo.backend.ler(chave_pacote(lb.pacote))
        blob_b = pacote[lb.deslocamento : lb.deslocamento + lb.tamanho]
        # B's blob presented as A: the AAD binds the chunk id, the tag fails.
        with pytest.raises(ErroObjetoCorrompido, match="falha de autenticação"):
            g.repo.codificador.decodificar_bloco(a, blob_b)
        # And for real: B's blob written over A's place in the pack (padded to
        # A's length, as an attacker would) is refused on restore.
        arq = tmp_path / "repo" / chave_pacote(la.pacote)
        dados = bytearray(arq.read_bytes())
        troca = (blob_b + bytes(la.tamanho))[: la.tamanho]
        dados[la.deslocamento : la.deslocamento + la.tamanho] = troca
        os.chmod(arq, 0o644)
        arq.write_bytes(bytes(dados))
        with pytest.raises(ErroObjetoCorrompido):
            g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r")


def test_blob_de_outro_repositorio_e_recusado(tmp_path: Path) -> None:
    m = _modelo(tmp_path)
    cfg = _cfg(tmp_path)  # the same key file for both repositories
    with GerenciadorBackupVersionamento(tmp_path / "a", cfg) as ga:
        ga.criar_backup(m, "patch")
        id_bloco, loc = _local(ga)
        sc_a = tmp_path / "a" / ga.repo.nomes.chave_sidecar("m.bin", "1.0.0")
        pacote = ga.repo.backend.ler(chave_pacote(loc.pacote))
        blob = pacote[loc.deslocamento : loc.deslocamento + loc.tamanho]
        assert ga.repo.codificador.decodificar_bloco(id_bloco, blob)  # fine at home
        # Same cipher (same data key) but another repository id: the AAD differs.
        outro = Codificador("0" * 32, cifra=ga.repo.codificador.cifra)
        with pytest.raises(ErroObjetoCorrompido, match="falha de autenticação"):
            outro.decodificar_bloco(id_bloco, blob)
    with GerenciadorBackupVersionamento(tmp_path / "b", cfg) as gb:
        gb.criar_backup(_modelo(tmp_path, semente=9), "patch")
        with pytest.raises(ErroObjetoCorrompido, match="falha de autenticação"):
            gb.repo.codificador.decodificar_bloco(id_bloco, blob)
        # A whole pack and sidecar copied from A into B: refused, nothing restored.
        destino = tmp_path / "b" / chave_pacote(loc.pacote)
        destino.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / "a" / chave_pacote(loc.pacote), destino)
        sc_b = tmp_path / "b" / gb.repo.nomes.chave_sidecar("m.bin", "1.0.1")
        shutil.copy(sc_a, sc_b)
        with pytest.raises(ErroIntegridade):
            gb.restaurar_backup("m.bin", "1.0.1", tmp_path / "r")
        assert not (tmp_path / "r").exists()


def test_sidecar_de_outro_modelo_e_recusado(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        g.criar_backup(_modelo(tmp_path, "a.bin"), "patch")
        g.criar_backup(_modelo(tmp_path, "b.bin", 1), "patch")
        chave_a = g.repo.nomes.chave_sidecar("a.bin", "1.0.0")
        chave_b = g.repo.nomes.chave_sidecar("b.bin", "1.0.0")
    shutil.copy(repo / chave_a, repo / chave_b)
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        with pytest.raises(ErroIntegridade, match="falha de autenticação"):
            g.restaurar_backup("b.bin", "1.0.0", tmp_path / "r")
        rel = g.verificar_integridade()
        assert rel["versoes_com_problema"] == ["b.bin 1.0.0"]
        assert [v["versao"] for v in g.listar_versoes("a.bin")] == ["1.0.0"]


def test_sidecar_cifrado_e_json_canonico_por_dentro(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        g.criar_backup(_modelo(tmp_path), "patch", descricao="ok")
        bruto = (repo / g.repo.nomes.chave_sidecar("m.bin", "1.0.0")).read_bytes()
        claro = g.repo.abrir_sidecar("m.bin", "1.0.0", bruto)
        sc = g.repo.ler_versao("m.bin", "1.0.0")
    assert not bruto.startswith(b"{")
    assert claro == sc.bytes_canonicos()


def test_senha_errada_e_senha_certa(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    cfg = _cfg(tmp_path, chave_arquivo=str(tmp_path / "nao_existe" / "chave"))
    monkeypatch.setenv("BACKUP_VERSIONAMENTO_SENHA", "senha boa e longa")
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(_modelo(tmp_path), "patch")
    assert not (tmp_path / "nao_existe").exists()  # passphrase only: no key file
    objetos = list((repo / "chaves").glob("*.json"))
    assert [json.loads(o.read_text())["tipo"] for o in objetos] == ["senha"]
    antes = arvore_arquivos(repo)
    arq_cfg = _config_arquivo(tmp_path, cfg)
    r = cli(
        "listar",
        "--base",
        str(repo),
        "--config",
        str(arq_cfg),
        env={"BACKUP_VERSIONAMENTO_SENHA": "senha errada!!"},
    )
    assert r.returncode == 16, r.stderr
    assert "chave errada" in r.stderr and "Traceback" not in r.stderr
    monkeypatch.setenv("BACKUP_VERSIONAMENTO_SENHA", "senha boa e longa")
    r = cli("listar", "--base", str(repo), "--config", str(arq_cfg))
    assert r.returncode == 0 and "m.bin" in r.stdout
    depois = arvore_arquivos(repo)
    assert {k: v for k, v in depois.items() if not k.startswith("logs/")} == {
        k: v for k, v in antes.items() if not k.startswith("logs/")
    }


def test_arquivo_de_chave_ausente(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BACKUP_VERSIONAMENTO_SENHA", raising=False)
    repo = tmp_path / "repo"
    cfg = _cfg(tmp_path)
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(_modelo(tmp_path), "patch")
    chave = tmp_path / "chaves" / "chave"
    assert oct(chave.stat().st_mode & 0o777) == "0o600"
    assert oct(chave.parent.stat().st_mode & 0o777) == "0o700"
    chave.rename(tmp_path / "guardada")
    antes = arvore_arquivos(repo)
    with pytest.raises(ErroCriptografia, match="nenhuma chave disponível") as e:
        GerenciadorBackupVersionamento(repo, cfg)
    assert str(chave) in str(e.value)
    r = cli(
        "backup",
        "--modelo",
        str(_modelo(tmp_path, semente=3)),
        "--base",
        str(repo),
        "--config",
        str(_config_arquivo(tmp_path, cfg)),
    )
    assert r.returncode == 16 and "Traceback" not in r.stderr
    assert arvore_arquivos(repo) == antes  # nothing written


def test_arquivo_de_chave_com_permissoes_frouxas_avisa(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        g.criar_backup(_modelo(tmp_path), "patch")
    chave = tmp_path / "chaves" / "chave"
    os.chmod(chave, 0o644)
    caplog.set_level(logging.WARNING)
    with GerenciadorBackupVersionamento(repo, _cfg(tmp_path)) as g:
        assert g.listar_versoes("m.bin")
    assert any("permissões frouxas" in r.getMessage() for r in caplog.records)


def test_chave_de_outro_repositorio_e_chave_errada(tmp_path: Path) -> None:
    with GerenciadorBackupVersionamento(tmp_path / "a", _cfg(tmp_path)) as g:
        g.criar_backup(_modelo(tmp_path), "patch")
    outra = _cfg(tmp_path, chave_arquivo=str(tmp_path / "outras" / "chave"))
    with GerenciadorBackupVersionamento(tmp_path / "b", outra) as g:
        g.criar_backup(_modelo(tmp_path), "patch")
    with pytest.raises(ErroCriptografia, match="chave errada"):
        GerenciadorBackupVersionamento(tmp_path / "a", outra)


def test_parametros_de_kdf_absurdos_recusados_rapido(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    cfg = _cfg(tmp_path, chave_arquivo=str(tmp_path / "nenhum"))
    monkeypatch.setenv("BACKUP_VERSIONAMENTO_SENHA", "senha boa e longa")
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(_modelo(tmp_path), "patch")
    (objeto,) = (repo / "chaves").glob("*.json")
    original = json.loads(objeto.read_text())
    for absurdo in ({"n": 2**40}, {"r": 10**6}, {"p": 10**6}, {"n": 3 * 2**14}):
        obj = json.loads(json.dumps(original))
        obj["kdf"].update(absurdo)
        objeto.write_text(json.dumps(obj))
        inicio = time.monotonic()
        with pytest.raises(ErroCriptografia, match="absurdos"):
            GerenciadorBackupVersionamento(repo, cfg)
        assert time.monotonic() - inicio < 1.0


def test_config_exige_cifra_em_repositorio_sem(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(
        repo, {"validacao": {"modo": "desligado"}}
    ) as g:
        if g.repo.cabecalho.get("criptografia"):
            pytest.skip("o repositório da suíte cifrada já nasce criptografado")
        g.criar_backup(_modelo(tmp_path), "patch")
    antes = arvore_arquivos(repo)
    with pytest.raises(ErroCriptografia, match="repositório novo") as e:
        GerenciadorBackupVersionamento(repo, _cfg(tmp_path))
    assert "não é criptografado" in str(e.value)
    assert arvore_arquivos(repo) == antes


def test_chaves_cli_adicionar_listar_reembrulhar_remover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BACKUP_VERSIONAMENTO_SENHA", raising=False)
    repo = tmp_path / "repo"
    cfg = _cfg(tmp_path)
    arq_cfg = str(_config_arquivo(tmp_path, cfg))
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.criar_backup(_modelo(tmp_path), "patch")
    pacotes = {
        k: v
        for k, v in arvore_arquivos(repo).items()
        if k.startswith(("pacotes", "indices", "modelos"))
    }
    base = ("--base", str(repo), "--config", arq_cfg)
    r = cli(
        "chaves",
        "adicionar",
        "--senha",
        *base,
        "--json",
        env={"BACKUP_VERSIONAMENTO_SENHA_NOVA": "uma senha nova longa"},
    )
    assert r.returncode == 0, r.stderr
    id_senha = json.loads(r.stdout)["id"]
    r = cli("chaves", "listar", *base, "--json")
    chaves = json.loads(r.stdout)
    assert sorted(c["tipo"] for c in chaves) == ["arquivo", "senha"]
    assert all("mestra_embrulhada" not in c for c in chaves)
    id_arquivo = next(c["id"] for c in chaves if c["tipo"] == "arquivo")
    # The passphrase alone opens the repository (key file moved away).
    (tmp_path / "chaves" / "chave").rename(tmp_path / "guardada")
    r = cli("listar", *base, env={"BACKUP_VERSIONAMENTO_SENHA": "uma senha nova longa"})
    assert r.returncode == 0, r.stderr
    (tmp_path / "guardada").rename(tmp_path / "chaves" / "chave")
    # Rewrap the key-file key under another key file; the old file stops working.
    novo = tmp_path / "nova" / "chave"
    r = cli(
        "chaves", "reembrulhar", id_arquivo, "--arquivo", str(novo), *base, "--json"
    )
    assert r.returncode == 0, r.stderr
    assert oct(novo.stat().st_mode & 0o777) == "0o600"
    r = cli("listar", *base)
    assert r.returncode == 16 and "chave errada" in r.stderr
    cfg_novo = _cfg(tmp_path, chave_arquivo=str(novo))
    base_novo = (
        "--base",
        str(repo),
        "--config",
        str(_config_arquivo(tmp_path, cfg_novo)),
    )
    assert cli("listar", *base_novo).returncode == 0
    # Remove the passphrase key; the last one is never removed.
    assert cli("chaves", "remover", id_senha, *base_novo).returncode == 0
    (ultima,) = json.loads(cli("chaves", "listar", *base_novo, "--json").stdout)
    r = cli("chaves", "remover", ultima["id"], *base_novo)
    assert r.returncode == 16 and "única" in r.stderr
    # Data never rewritten.
    depois = {
        k: v
        for k, v in arvore_arquivos(repo).items()
        if k.startswith(("pacotes", "indices", "modelos"))
    }
    assert depois == pacotes
    with GerenciadorBackupVersionamento(repo, cfg_novo) as g:
        g.restaurar_backup("m.bin", "1.0.0", tmp_path / "r")
    assert (tmp_path / "r" / "m.bin").read_bytes() == (
        tmp_path / "src" / "m.bin"
    ).read_bytes()


def test_chaves_criar_arquivo(tmp_path: Path) -> None:
    destino = tmp_path / "k" / "chave"
    r = cli("chaves", "criar", "--arquivo", str(destino))
    assert r.returncode == 0, r.stderr
    assert len(destino.read_bytes()) == 32
    r = cli("chaves", "criar", "--arquivo", str(destino))
    assert r.returncode == 16 and "não é sobrescrito" in r.stderr


def test_rodada_cifrada_da_suite_cifra_mesmo(
    gerenciador: GerenciadorBackupVersionamento,
) -> None:
    """The suites' second run (BACKUP_VERSIONAMENTO_TESTE_CIFRA=1) is encrypted."""
    from .ajuda_cifra import ligada

    cab = gerenciador.repo.cabecalho
    assert bool(cab.get("criptografia")) == ligada()
    assert (gerenciador.repo.codificador.cifra is not None) == ligada()
