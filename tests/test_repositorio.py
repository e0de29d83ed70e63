"""Backup/restore roundtrips, dedup, semver through the API, listing speed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import (
    ErroArquivoNaoEncontrado,
    ErroRepositorio,
    ErroRestauracao,
    ErroTipoMudanca,
    ErroVersaoNaoEncontrada,
)
from tests.ajuda_cifra import gravar_sidecar_json, ler_sidecar_json

from .conftest import aleatorio, arvore_arquivos, escrever

MiB = 1024 * 1024


@pytest.mark.parametrize("tamanho", [0, 1, 1000, 300 * 1024, 9 * MiB + 7])
def test_roundtrip_byte_a_byte(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path, tamanho: int
) -> None:
    original = escrever(tmp_path / "src" / "modelo.h5", aleatorio(tamanho, tamanho))
    versao = gerenciador.criar_backup(
        original, tipo_mudanca="melhoria", descricao="Melhorias na arquitetura"
    )
    assert versao == "1.0.0"
    destino = gerenciador.restaurar_backup("modelo.h5", "1.0.0", tmp_path / "rest")
    assert Path(destino) == tmp_path / "rest" / "modelo.h5" or Path(destino).exists()
    assert Path(destino).read_bytes() == original.read_bytes()
    v = gerenciador.listar_versoes("modelo.h5")[0]
    assert v["tamanho"] == tamanho
    assert v["descricao"] == "Melhorias na arquitetura"
    assert v["tipo_mudanca"] == "melhoria"
    import hashlib

    assert v["sha256"] == hashlib.sha256(original.read_bytes()).hexdigest()
    if tamanho > 8 * MiB:  # multi-chunk
        sc = gerenciador.obter_versao("modelo.h5", "1.0.0")
        assert len(sc["entradas"][0]["blocos"]) > 2


def test_exemplos_do_manual_rodam(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    escrever(tmp_path / "modelo.h5", aleatorio(5000))
    gerenciador = GerenciadorBackupVersionamento("./backups")
    versao = gerenciador.criar_backup(
        "modelo.h5", tipo_mudanca="melhoria", descricao="Melhorias na arquitetura"
    )
    assert versao == "1.0.0"
    versoes = gerenciador.listar_versoes("modelo.h5")
    assert [v["versao"] for v in versoes] == ["1.0.0"]
    for campo in (
        "versao",
        "descricao",
        "tipo_mudanca",
        "criado_em",
        "tamanho",
        "tamanho_armazenado",
        "sha256",
        "metricas",
    ):
        assert campo in versoes[0]
    escrever(tmp_path / "modelo.h5", aleatorio(6000))
    assert gerenciador.criar_backup("modelo.h5", "correcao") == "1.0.1"
    caminho = gerenciador.restaurar_backup("modelo.h5", "1.0.0", "./restauracao/")
    assert Path(caminho).resolve() == (tmp_path / "restauracao" / "modelo.h5").resolve()
    assert Path(caminho).read_bytes() == aleatorio(5000)
    gerenciador.fechar()
    assert (tmp_path / "backups" / "repositorio.json").exists()
    log = (tmp_path / "backups" / "logs" / "backup_system.log").read_text()
    assert " - SistemaBackup - INFO - Backup criado: modelo.h5 -> 1.0.0" in log


def test_sequencia_semver_e_ultima(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    m = tmp_path / "m.pkl"
    seq = [
        ("melhoria", "1.0.0"),
        ("retreino", "1.1.0"),
        ("ajuste", "1.1.1"),
        ("arquitetura", "2.0.0"),
        ("patch", "2.0.1"),
        ("minor", "2.1.0"),
    ]
    for i, (tipo, esperado) in enumerate(seq):
        escrever(m, aleatorio(100, i))
        assert gerenciador.criar_backup(m, tipo) == esperado
    assert gerenciador.resolver_versao("m.pkl", "ultima") == "2.1.0"
    assert gerenciador.resolver_versao("m.pkl", "última") == "2.1.0"
    dest = gerenciador.restaurar_backup("m.pkl", "ultima", tmp_path / "r" / "x.pkl")
    assert Path(dest).read_bytes() == aleatorio(100, 5)


def test_conteudo_identico_nao_cria_versao(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path, repo: Path
) -> None:
    m = escrever(tmp_path / "m.pkl", aleatorio(50_000))
    assert gerenciador.criar_backup(m, "melhoria") == "1.0.0"
    antes = arvore_arquivos(repo / "objetos"), arvore_arquivos(repo / "modelos")
    assert gerenciador.criar_backup(m, "melhoria") == "1.0.0"
    assert (
        arvore_arquivos(repo / "objetos"),
        arvore_arquivos(repo / "modelos"),
    ) == antes
    assert gerenciador.criar_backup(m, "patch", forcar=True) == "1.0.1"
    v = gerenciador.listar_versoes("m.pkl")
    assert [x["tamanho_armazenado"] for x in v][1] == 0  # fully deduplicated


def test_tipo_desconhecido_nao_escreve_nada(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path, repo: Path
) -> None:
    m = escrever(tmp_path / "m.pkl", aleatorio(1000))
    antes = arvore_arquivos(repo / "objetos"), arvore_arquivos(repo / "modelos")
    with pytest.raises(ErroTipoMudanca):
        gerenciador.criar_backup(m, "talvez")
    with pytest.raises(ErroArquivoNaoEncontrado):
        gerenciador.criar_backup(tmp_path / "nao.h5", "patch")
    assert (
        arvore_arquivos(repo / "objetos"),
        arvore_arquivos(repo / "modelos"),
    ) == antes
    log = (repo / "logs" / "backup_system.log").read_text()
    assert "ERROR - Backup falhou: tipo de mudança desconhecido: 'talvez'" in log


def test_modelo_diretorio_savedmodel(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    sm = tmp_path / "meu_savedmodel"
    escrever(sm / "saved_model.pb", aleatorio(3000, 1))
    escrever(sm / "variables" / "variables.data-00000-of-00001", aleatorio(6 * MiB, 2))
    escrever(sm / "variables" / "variables.index", aleatorio(200, 3))
    (sm / "assets").mkdir()
    os.chmod(sm / "saved_model.pb", 0o600)
    assert gerenciador.criar_backup(sm, "melhoria") == "1.0.0"
    sc = gerenciador.obter_versao("meu_savedmodel")
    assert sc["tipo"] == "diretorio"
    assert {e["caminho"] for e in sc["entradas"]} == {
        "assets",
        "variables",
        "saved_model.pb",
        "variables/variables.index",
        "variables/variables.data-00000-of-00001",
    }
    dest = Path(gerenciador.restaurar_backup("meu_savedmodel", "1.0.0", tmp_path / "r"))
    assert arvore_arquivos(dest) == arvore_arquivos(sm)
    assert (dest / "assets").is_dir()
    assert (dest / "saved_model.pb").stat().st_mode & 0o777 == 0o600
    # Same content again: no new version; one file changed: a new one.
    assert gerenciador.criar_backup(sm, "patch") == "1.0.0"
    escrever(sm / "variables" / "variables.index", aleatorio(200, 4))
    assert gerenciador.criar_backup(sm, "retreino") == "1.1.0"


def test_modelo_sklearn_joblib_real(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    import joblib
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    x, y = rng.random((200, 25)), rng.integers(0, 2, 200)
    modelo = RandomForestClassifier(n_estimators=20, random_state=0).fit(x, y)
    arq = tmp_path / "rf.joblib"
    joblib.dump(modelo, arq)
    assert (
        gerenciador.criar_backup(arq, "melhoria", metricas={"acertos_13": 0.12})
        == "1.0.0"
    )
    v = gerenciador.listar_versoes("rf.joblib")[0]
    assert v["metricas"] == {"acertos_13": 0.12}
    # Pickled trees compress well: the store holds less than the file.
    assert v["tamanho_armazenado"] < v["tamanho"] * 0.8
    dest = gerenciador.restaurar_backup("rf.joblib", "1.0.0", tmp_path / "r")
    restaurado = joblib.load(dest)
    assert (restaurado.predict(x) == modelo.predict(x)).all()


def _variante(dados: bytes, semente: int) -> bytes:
    """10% changed in a few regions plus a 4 KiB insertion near the start."""
    import numpy as np

    rng = np.random.default_rng(semente)
    b = bytearray(dados)
    n = len(b)
    regiao = n // 40  # 4 regions x 2.5% = 10%
    for inicio in (n // 5, 2 * n // 5, 3 * n // 5, 4 * n // 5):
        b[inicio : inicio + regiao] = rng.bytes(regiao)
    return bytes(b[:4096] + rng.bytes(4096) + b[4096:])


def test_dedup_variante_ajustada(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    import numpy as np

    n = 64 * MiB
    v1 = np.random.default_rng(7).standard_normal(n // 4, dtype=np.float32).tobytes()
    m = escrever(tmp_path / "pesos.h5", v1)
    gerenciador.criar_backup(m, "melhoria")
    escrever(m, _variante(v1, 8))
    assert gerenciador.criar_backup(m, "retreino") == "1.1.0"
    v = gerenciador.listar_versoes("pesos.h5")
    adicionados = v[1]["tamanho_armazenado"]
    assert adicionados <= 0.15 * n, f"v2 acrescentou {adicionados / n:.1%} do arquivo"
    assert adicionados > 0.05 * n  # the 10% that changed really is stored
    dest = gerenciador.restaurar_backup("pesos.h5", "1.1.0", tmp_path / "r")
    assert Path(dest).read_bytes() == m.read_bytes()


def test_listar_10000_versoes_sem_ler_10000_arquivos(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    g = GerenciadorBackupVersionamento(repo, {})
    m = escrever(tmp_path / "m.pkl", b"base")
    g.criar_backup(m, "melhoria")
    modelo_sc = ler_sidecar_json(repo / "modelos" / "m.pkl" / "1.0.0.json")
    pasta = repo / "modelos" / "m.pkl"
    for i in range(1, 10_000):
        v = f"1.0.{i}"
        gravar_sidecar_json(pasta / f"{v}.json", {**modelo_sc, "versao": v})
    os.utime(pasta, ns=(0, 10**18))  # a settled folder, as after two seconds
    assert len(g.listar_versoes("m.pkl")) == 10_000  # builds the cache once
    g.fechar()

    abertos: list[str] = []

    def auditoria(evento: str, args: tuple) -> None:
        if evento == "open" and str(args[0]).endswith(".json"):
            abertos.append(str(args[0]))

    g = GerenciadorBackupVersionamento(repo, {})
    sys.addaudithook(auditoria)
    versoes = g.listar_versoes("m.pkl")
    assert len(versoes) == 10_000
    assert versoes[-1]["versao"] == "1.0.9999"
    assert [a for a in abertos if "modelos" in a] == []
    # A new backup is seen at once, still without re-reading the others (the
    # latest one is read once: its recorded source stat says "unchanged?").
    escrever(m, b"outro")
    assert g.criar_backup(m, "patch") == "1.0.10000"
    assert len(g.listar_versoes("m.pkl")) == 10_001
    relidos = [a for a in abertos if "/modelos/" in a]
    assert all(a.endswith(("1.0.10000.json", "1.0.9999.json")) for a in relidos)
    g.fechar()
    abertos.clear()


def test_indice_apagado_ou_danificado_e_reconstruido(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, {}) as g:
        for i in range(3):
            g.criar_backup(escrever(tmp_path / "m.pkl", aleatorio(10, i)), "minor")
        estado = g.pasta_estado
    # The per-machine caches: one damaged, the other deleted.
    (estado / "versoes.sqlite").write_bytes(b"isto nao e sqlite" * 100)
    for sufixo in ("-wal", "-shm"):
        (estado / f"versoes.sqlite{sufixo}").unlink(missing_ok=True)
        (estado / f"blocos.sqlite{sufixo}").unlink(missing_ok=True)
    (estado / "blocos.sqlite").unlink()
    with GerenciadorBackupVersionamento(repo, {}) as g:
        assert [v["versao"] for v in g.listar_versoes("m.pkl")] == [
            "1.0.0",
            "1.1.0",
            "1.2.0",
        ]
        r = g.restaurar_backup("m.pkl", "1.1.0", tmp_path / "r")
        assert Path(r).read_bytes() == aleatorio(10, 1)


def test_formato_desconhecido_e_erro_claro(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    GerenciadorBackupVersionamento(repo, {}).fechar()
    cab = json.loads((repo / "repositorio.json").read_text())
    (repo / "repositorio.json").write_text(json.dumps({**cab, "formato": 99}))
    with pytest.raises(ErroRepositorio, match="formato de repositório 99 desconhecido"):
        GerenciadorBackupVersionamento(repo, {})


def test_pasta_nao_vazia_nao_vira_repositorio(tmp_path: Path) -> None:
    escrever(tmp_path / "coisas" / "foto.jpg", b"x")
    with pytest.raises(ErroRepositorio, match="não está vazia"):
        GerenciadorBackupVersionamento(tmp_path / "coisas", {})
    assert sorted(p.name for p in (tmp_path / "coisas").iterdir()) == ["foto.jpg"]


def test_restauracao_grande_byte_a_byte_com_e_sem_sha256(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    # 20 MiB spans several read runs and two DESCARGA marks (the writeback
    # started along the way must not disturb what is written).
    dados = aleatorio(20 * 1024 * 1024 + 12345, 7)
    m = escrever(tmp_path / "grande.bin", dados)
    gerenciador.criar_backup(m, "patch")
    for conferir in (False, True):
        destino = tmp_path / f"r-{conferir}"
        caminho = gerenciador.restaurar_backup(
            "grande.bin", "1.0.0", destino, conferir_sha256=conferir
        )
        assert Path(caminho).read_bytes() == dados
        assert sorted(p.name for p in destino.iterdir()) == ["grande.bin"]


def test_restauracao_recusa_sobrescrever(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    m = escrever(tmp_path / "m.pkl", b"novo")
    gerenciador.criar_backup(m, "patch")
    alvo = escrever(tmp_path / "r" / "m.pkl", b"do usuario")
    with pytest.raises(ErroRestauracao, match="já existe"):
        gerenciador.restaurar_backup("m.pkl", "1.0.0", tmp_path / "r")
    assert alvo.read_bytes() == b"do usuario"
    gerenciador.restaurar_backup("m.pkl", "1.0.0", tmp_path / "r", sobrescrever=True)
    assert alvo.read_bytes() == b"novo"
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["m.pkl"]


@pytest.mark.parametrize(
    "caminho_ruim", ["/etc/passwd_restaurado", "../fora", "a/../../x"]
)
def test_restauracao_recusa_caminho_inseguro_do_sidecar(
    gerenciador: GerenciadorBackupVersionamento,
    tmp_path: Path,
    repo: Path,
    caminho_ruim: str,
) -> None:
    sm = tmp_path / "sm"
    escrever(sm / "a.bin", b"conteudo")
    gerenciador.criar_backup(sm, "patch")
    arq = repo / "modelos" / "sm" / "1.0.0.json"
    sc = ler_sidecar_json(arq)
    sc["entradas"][-1]["caminho"] = caminho_ruim
    gravar_sidecar_json(arq, sc)
    with pytest.raises(Exception, match="inseguro") as e:
        gerenciador.restaurar_backup("sm", "1.0.0", tmp_path / "dest")
    assert e.value.codigo_saida == 9  # type: ignore[attr-defined]
    assert not (tmp_path / "fora").exists()
    assert not Path("/etc/passwd_restaurado").exists()
    assert not (tmp_path / "dest" / "sm").exists()


def test_versao_inexistente(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    gerenciador.criar_backup(escrever(tmp_path / "m.pkl", b"x"), "patch")
    with pytest.raises(ErroVersaoNaoEncontrada, match=r"versão 9\.9\.9"):
        gerenciador.restaurar_backup("m.pkl", "9.9.9", tmp_path)
    with pytest.raises(ErroVersaoNaoEncontrada, match="não tem backups"):
        gerenciador.listar_versoes("outro.pkl")


def test_verificar_arquivo_modulo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backup_versionamento import verificar_integridade

    monkeypatch.chdir(tmp_path)
    escrever(tmp_path / "pesos.bin", b"pesos")
    escrever(tmp_path / "modelo.h5", b"nao sou hdf5")
    # No repository yet: still answers, and still validates the model format.
    r = verificar_integridade("pesos.bin")
    assert r["valido"] and r["versao_correspondente"] is None
    r = verificar_integridade("modelo.h5")
    assert not r["valido"] and "HDF5" in r["problemas"][0]
    with GerenciadorBackupVersionamento() as g:
        g.criar_backup("pesos.bin", "patch")
    r = verificar_integridade("pesos.bin")
    assert r["versao_correspondente"] == "1.0.0"
    assert r["sha256"] == __import__("hashlib").sha256(b"pesos").hexdigest()
    r = verificar_integridade("sumiu.h5")  # a diagnosis, not an exception
    assert not r["valido"] and "arquivo não encontrado" in r["problemas"][0]


def test_comparar_versoes(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    sm = tmp_path / "sm"
    base = aleatorio(4 * MiB, 1)
    escrever(sm / "pesos.bin", base)
    escrever(sm / "velho.txt", b"sai")
    gerenciador.criar_backup(sm, "melhoria", metricas={"acertos_13": 0.10, "x": 1})
    b = bytearray(base)
    b[MiB : MiB + 100_000] = aleatorio(100_000, 2)
    escrever(sm / "pesos.bin", bytes(b))
    (sm / "velho.txt").unlink()
    escrever(sm / "novo.txt", b"entra")
    gerenciador.criar_backup(sm, "retreino", metricas={"acertos_13": 0.25})
    r = gerenciador.comparar_versoes("sm", "1.0.0", "ultima")
    assert (r["a"], r["b"], r["identicas"]) == ("1.0.0", "1.1.0", False)
    assert r["arquivos"] == {
        "adicionados": ["novo.txt"],
        "removidos": ["velho.txt"],
        "alterados": ["pesos.bin"],
    }
    assert 100_000 < r["bytes_alterados"] < 2 * MiB  # only the touched region
    assert r["blocos"]["comuns"] > 0
    assert r["metricas"]["acertos_13"]["delta"] == pytest.approx(0.15)
    assert r["metricas"]["x"] == {"a": 1, "b": None, "delta": None}
    assert r["tamanho"]["delta"] == len(b"entra") - len(b"sai")


def test_eventos_para_quem_se_inscreve(
    gerenciador: GerenciadorBackupVersionamento, tmp_path: Path
) -> None:
    eventos: list[tuple[str, dict]] = []
    gerenciador.inscrever(lambda nome, dados: eventos.append((nome, dados)))

    def quebrado(nome: str, dados: dict) -> None:
        raise RuntimeError("ouvinte com defeito")

    gerenciador.inscrever(quebrado)  # must not break any backup
    m = escrever(tmp_path / "m.pkl", b"um")
    assert gerenciador.criar_backup(m, "patch") == "1.0.0"
    assert gerenciador.criar_backup(m, "patch") == "1.0.0"
    with pytest.raises(ErroArquivoNaoEncontrado):
        gerenciador.criar_backup(tmp_path / "sumiu.pkl", "patch")
    assert gerenciador.eventos.esvaziar(10)  # subscribers run on their own threads
    assert [nome for nome, _ in eventos] == [
        "backup_iniciado",
        "backup_criado",
        "backup_iniciado",
        "backup_ignorado",
        "backup_iniciado",
        "backup_falhou",
    ]
    assert eventos[1][1]["versao"] == "1.0.0" and eventos[1][1]["modelo"] == "m.pkl"
    assert "sumiu.pkl" in eventos[5][1]["erro"]


def test_modelo_inalterado_nao_e_lido_e_forcar_leitura_le(tmp_path: Path) -> None:
    """Issue 7, item 9: an unchanged model (size, mtime, inode, ctime) is
    recognised without reading a byte; forcar_leitura reads it anyway."""
    tamanho = 3 * 1024 * 1024
    m = escrever(tmp_path / "m.bin", aleatorio(tamanho, 7))
    cfg = {"validacao": {"modo": "desligado"}}
    with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
        lidos: list[int] = []
        assert g.criar_backup(m, "melhoria", progresso=lidos.append) == "1.0.0"
        assert sum(lidos) == tamanho  # the progress counts bytes read
        lidos.clear()
        r = g.criar_backup(m, progresso=lidos.append)
        assert (r.versao, r.nova_versao, lidos) == ("1.0.0", False, [])
        r = g.criar_backup(m, forcar_leitura=True, progresso=lidos.append)
        assert (r.versao, r.nova_versao) == ("1.0.0", False)
        assert sum(lidos) == tamanho
        # Same bytes rewritten: the stat changed, so it is read, and deduplicated.
        lidos.clear()
        escrever(m, aleatorio(tamanho, 7))
        r = g.criar_backup(m, progresso=lidos.append)
        assert (r.versao, r.nova_versao) == ("1.0.0", False)
        assert sum(lidos) == tamanho
