"""Damage the repository on purpose: every fault is found and contained."""

from __future__ import annotations

from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.pacote import Local, chave_pacote
from backup_versionamento.erros import ErroIntegridade, ErroObjetoCorrompido
from tests.ajuda_cifra import gravar_sidecar_json, ler_sidecar_json

from .conftest import aleatorio, cli, cli_json, escrever

MiB = 1024 * 1024


@pytest.fixture
def tres_versoes(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> dict[str, bytes]:
    """Three versions of one model with disjoint content, plus another model."""
    conteudos = {}
    m = tmp_path / "src" / "m.h5"
    for i, tipo in enumerate(["melhoria", "retreino", "retreino"]):
        dados = aleatorio(2 * MiB + i, 100 + i)
        escrever(m, dados)
        conteudos[gerenciador.criar_backup(m, tipo)] = dados
    gerenciador.criar_backup(
        escrever(tmp_path / "src" / "outro.pkl", b"outro" * 999), "patch"
    )
    return conteudos


def _um_bloco(g: GerenciadorBackupVersionamento, versao: str) -> tuple[str, Local]:
    sc = g.obter_versao("m.h5", versao)
    id_bloco = sc["entradas"][0]["blocos"][1][0]
    return id_bloco, g.repo.objetos.localizar(id_bloco)


def _pacote(g: GerenciadorBackupVersionamento, loc: Local) -> Path:
    return g.base / chave_pacote(loc.pacote)


def _trocar_dois_blocos(sidecar: Path) -> None:
    """Swap the first two chunks of a sidecar's list: each chunk stays intact."""
    dados = ler_sidecar_json(sidecar)
    blocos = dados["entradas"][0]["blocos"]
    blocos[0], blocos[1] = blocos[1], blocos[0]
    gravar_sidecar_json(sidecar, dados)


def _flip(p: Path, loc: Local) -> None:
    b = bytearray(p.read_bytes())
    b[loc.deslocamento + loc.tamanho // 2] ^= 0x40
    p.write_bytes(bytes(b))


def _truncar(p: Path, loc: Local) -> None:
    p.write_bytes(p.read_bytes()[: loc.deslocamento + loc.tamanho // 2])


def _apagar(p: Path, loc: Local) -> None:
    p.unlink()


@pytest.mark.parametrize(
    "dano", [_flip, _truncar, _apagar], ids=["byte-trocado", "truncado", "apagado"]
)
def test_objeto_danificado(
    gerenciador: GerenciadorBackupVersionamento,
    tmp_path: Path,
    tres_versoes: dict[str, bytes],
    dano,
) -> None:
    id_bloco, loc = _um_bloco(gerenciador, "1.1.0")
    dano(_pacote(gerenciador, loc), loc)
    rel = gerenciador.verificar_integridade()
    assert not rel["ok"]
    assert rel["versoes_com_problema"] == ["m.h5 1.1.0"]
    assert id_bloco in {p["objeto"] for p in rel["problemas"]}
    destino = tmp_path / "dest"
    destino.mkdir()
    with pytest.raises(ErroObjetoCorrompido) as e:
        gerenciador.restaurar_backup("m.h5", "1.1.0", destino)
    assert e.value.objeto in {p["objeto"] for p in rel["problemas"]}
    assert list(destino.iterdir()) == []  # untouched, no temp file left
    # Every other version still lists and restores byte for byte.
    assert [v["versao"] for v in gerenciador.listar_versoes("m.h5")] == [
        "1.0.0",
        "1.1.0",
        "1.2.0",
    ]
    for versao in ("1.0.0", "1.2.0"):
        dest = gerenciador.restaurar_backup("m.h5", versao, tmp_path / versao)
        assert Path(dest).read_bytes() == tres_versoes[versao]
    assert (
        Path(
            gerenciador.restaurar_backup("outro.pkl", "1.0.0", tmp_path / "o")
        ).read_bytes()
        == b"outro" * 999
    )


def test_sidecar_corrompido(
    gerenciador: GerenciadorBackupVersionamento,
    tmp_path: Path,
    tres_versoes: dict[str, bytes],
    repo: Path,
) -> None:
    sc = repo / "modelos" / "m.h5" / "1.0.0.json"
    sc.write_bytes(sc.read_bytes()[:200])
    rel = gerenciador.verificar_integridade()
    assert not rel["ok"]
    assert rel["versoes_com_problema"] == ["m.h5 1.0.0"]
    assert rel["problemas"][0]["tipo"] == "metadado"
    with pytest.raises(ErroIntegridade, match=r"1\.0\.0\.json"):
        gerenciador.restaurar_backup("m.h5", "1.0.0", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with GerenciadorBackupVersionamento(repo, {}) as g2:  # fresh cache
        assert [v["versao"] for v in g2.listar_versoes("m.h5")] == ["1.1.0", "1.2.0"]
        for versao in ("1.1.0", "1.2.0"):
            dest = g2.restaurar_backup("m.h5", versao, tmp_path / versao)
            assert Path(dest).read_bytes() == tres_versoes[versao]


def test_sidecar_adulterado_tamanho(
    gerenciador: GerenciadorBackupVersionamento,
    tres_versoes: dict[str, bytes],
    repo: Path,
) -> None:
    sc = repo / "modelos" / "m.h5" / "1.2.0.json"
    dados = ler_sidecar_json(sc)
    dados["entradas"][0]["blocos"][0][1] += 1
    gravar_sidecar_json(sc, dados)
    rel = gerenciador.verificar_integridade()
    assert rel["versoes_com_problema"] == ["m.h5 1.2.0"]


def test_verificacao_completa_acha_bloco_trocado(
    gerenciador: GerenciadorBackupVersionamento,
    tres_versoes: dict[str, bytes],
    repo: Path,
) -> None:
    # A sidecar whose chunk list is valid but in the wrong order: each object is
    # fine, only rebuilding the file and checking SHA-256 can tell.
    _trocar_dois_blocos(repo / "modelos" / "m.h5" / "1.0.0.json")
    assert gerenciador.verificar_integridade()["ok"]
    rel = gerenciador.verificar_integridade(completa=True)
    assert rel["versoes_com_problema"] == ["m.h5 1.0.0"]
    assert rel["problemas"][0]["tipo"] == "conteudo"


def test_conferir_sha256_acha_lista_de_blocos_trocada(
    gerenciador: GerenciadorBackupVersionamento,
    tres_versoes: dict[str, bytes],
    repo: Path,
    tmp_path: Path,
) -> None:
    # Each chunk is fine, only their order in the sidecar is wrong: the chunk
    # checks cannot see it, the end-to-end SHA-256 does.
    _trocar_dois_blocos(repo / "modelos" / "m.h5" / "1.0.0.json")
    destino = tmp_path / "conferido"
    with pytest.raises(ErroIntegridade, match="SHA-256 do arquivo restaurado"):
        gerenciador.restaurar_backup("m.h5", "1.0.0", destino, conferir_sha256=True)
    assert not destino.exists() or not any(destino.iterdir())
    r = cli(
        "restaurar",
        "--base",
        str(repo),
        "--modelo",
        "m.h5",
        "--versao",
        "1.0.0",
        "--destino",
        str(destino) + "/",
        "--conferir-sha256",
    )
    assert r.returncode == 9
    assert "SHA-256 do arquivo restaurado não confere" in r.stderr
    assert not any(destino.iterdir())
    # An intact version restores with the flag, and says what was checked.
    r = cli_json(
        "restaurar",
        "--base",
        str(repo),
        "--modelo",
        "m.h5",
        "--versao",
        "1.1.0",
        "--destino",
        str(tmp_path / "ok") + "/",
        "--conferir-sha256",
    )
    assert r["sha256_conferido"] is True
    assert Path(r["caminho"]).read_bytes() == tres_versoes["1.1.0"]


def test_cli_verificar_sai_com_9(
    tmp_path: Path,
    tres_versoes: dict[str, bytes],
    gerenciador: GerenciadorBackupVersionamento,
    repo: Path,
) -> None:
    assert cli("verificar", "--base", str(repo)).returncode == 0
    _, loc = _um_bloco(gerenciador, "1.2.0")
    _flip(_pacote(gerenciador, loc), loc)
    r = cli("verificar", "--base", str(repo))
    assert r.returncode == 9
    assert "m.h5 1.2.0" in r.stdout
    r = cli(
        "restaurar",
        "--base",
        str(repo),
        "--modelo",
        "m.h5",
        "--versao",
        "1.2.0",
        "--destino",
        str(tmp_path / "d") + "/",
    )
    assert r.returncode == 9
    # Encrypted (the suite's second run): the AEAD tag fails before the hash.
    assert "conteúdo não confere" in r.stderr or "falha de autenticação" in r.stderr
    assert "Traceback" not in r.stderr


def _outra_versao_com_tamanhos(sidecar: Path) -> None:
    """Point 1.0.0 at 1.1.0's chunks, sizes fixed: a consistent, wrong list."""
    outra = ler_sidecar_json(sidecar.with_name("1.1.0.json"))
    dados = ler_sidecar_json(sidecar)
    ent = dados["entradas"][0]
    ent["blocos"] = outra["entradas"][0]["blocos"]
    ent["tamanho"] = dados["tamanho"] = sum(n for _, n in ent["blocos"])
    gravar_sidecar_json(sidecar, dados)


def _sha256_editado(sidecar: Path) -> None:
    """Edit the recorded SHA-256 consistently (entry and model)."""
    dados = ler_sidecar_json(sidecar)
    novo = "ab" * 32
    dados["entradas"][0]["sha256"] = dados["sha256"] = novo
    gravar_sidecar_json(sidecar, dados)


def _sem_conferencia(sidecar: Path) -> None:
    """A version written before the BLAKE3 check existed, then swapped."""
    dados = ler_sidecar_json(sidecar)
    del dados["entradas"][0]["conferencia"]
    gravar_sidecar_json(sidecar, dados)
    _trocar_dois_blocos(sidecar)


@pytest.mark.parametrize(
    "dano",
    [_trocar_dois_blocos, _outra_versao_com_tamanhos, _sha256_editado],
    ids=["blocos-trocados", "blocos-de-outra-versao", "sha256-editado"],
)
def test_restauracao_padrao_confere_de_ponta_a_ponta(
    gerenciador: GerenciadorBackupVersionamento,
    tres_versoes: dict[str, bytes],
    repo: Path,
    tmp_path: Path,
    dano,
) -> None:
    # A sidecar edited consistently passes every structural check; only the
    # whole-file BLAKE3 recorded at backup, checked on every restore, sees it.
    sc = repo / "modelos" / "m.h5" / "1.0.0.json"
    assert ler_sidecar_json(sc)["entradas"][0]["conferencia"]
    dano(sc)
    destino = tmp_path / "d"
    with pytest.raises(ErroIntegridade, match="conferência BLAKE3"):
        gerenciador.restaurar_backup("m.h5", "1.0.0", destino)
    assert not destino.exists() or not any(destino.iterdir())
    r = cli(
        "restaurar",
        "--base",
        str(repo),
        "--modelo",
        "m.h5",
        "--versao",
        "1.0.0",
        "--destino",
        str(destino) + "/",
    )
    assert r.returncode == 9, r.stderr
    assert "não confere" in r.stderr and "Traceback" not in r.stderr
    assert not any(destino.iterdir())
    rel = gerenciador.verificar_integridade(completa=True)
    assert rel["versoes_com_problema"] == ["m.h5 1.0.0"]
    # The other versions are intact and restore by default.
    for versao in ("1.1.0", "1.2.0"):
        dest = gerenciador.restaurar_backup("m.h5", versao, tmp_path / versao)
        assert Path(dest).read_bytes() == tres_versoes[versao]


def test_versao_antiga_sem_conferencia_usa_sha256(
    gerenciador: GerenciadorBackupVersionamento,
    tres_versoes: dict[str, bytes],
    repo: Path,
    tmp_path: Path,
) -> None:
    # Without a recorded BLAKE3 the default restore falls back to the SHA-256.
    intacta = repo / "modelos" / "m.h5" / "1.1.0.json"
    dados = ler_sidecar_json(intacta)
    del dados["entradas"][0]["conferencia"]
    gravar_sidecar_json(intacta, dados)
    dest = gerenciador.restaurar_backup("m.h5", "1.1.0", tmp_path / "ok")
    assert Path(dest).read_bytes() == tres_versoes["1.1.0"]
    _sem_conferencia(repo / "modelos" / "m.h5" / "1.0.0.json")
    with pytest.raises(ErroIntegridade, match="SHA-256 do arquivo restaurado"):
        gerenciador.restaurar_backup("m.h5", "1.0.0", tmp_path / "d")


def test_pasta_com_entradas_trocadas_recusada_por_padrao(
    gerenciador: GerenciadorBackupVersionamento, repo: Path, tmp_path: Path
) -> None:
    # Two files' contents swapped in a folder model's sidecar (blocks, size and
    # SHA-256 moved together, the model's SHA-256 recomputed): every structural
    # check passes; the BLAKE3 check binds each content to its path.
    from backup_versionamento.armazenamento.sidecar import Entrada, digest_diretorio

    pasta = tmp_path / "modelo"
    escrever(pasta / "a.bin", aleatorio(300_000, 1))
    escrever(pasta / "b.bin", aleatorio(200_000, 2))
    versao = gerenciador.criar_backup(pasta, "patch")
    sc = repo / "modelos" / "modelo" / f"{versao}.json"
    dados = ler_sidecar_json(sc)
    a, b = (e for e in dados["entradas"] if e["tipo"] == "arquivo")
    for campo in ("blocos", "tamanho", "sha256"):
        a[campo], b[campo] = b[campo], a[campo]
    dados["sha256"] = digest_diretorio(
        [
            Entrada(e["caminho"], e["tipo"], 0, sha256=e.get("sha256", ""))
            for e in dados["entradas"]
        ]
    )
    gravar_sidecar_json(sc, dados)
    with pytest.raises(ErroIntegridade, match="conferência BLAKE3"):
        gerenciador.restaurar_backup("modelo", versao, tmp_path / "r")
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_sidecar_antigo_sem_conferencia_mantem_bytes_canonicos(
    gerenciador: GerenciadorBackupVersionamento,
    tres_versoes: dict[str, bytes],
    repo: Path,
) -> None:
    # A signature covers the canonical bytes: reading a sidecar written before
    # `conferencia` existed and writing it back must give the same bytes.
    import json

    from backup_versionamento.armazenamento.sidecar import Sidecar

    dados = ler_sidecar_json(repo / "modelos" / "m.h5" / "1.0.0.json")
    del dados["entradas"][0]["conferencia"]
    canonico = json.dumps(
        dados, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    sc = Sidecar.ler(canonico, modelo="m.h5", versao="1.0.0", origem="teste")
    assert sc.entradas[0].conferencia == ""
    assert sc.bytes_canonicos() == canonico
