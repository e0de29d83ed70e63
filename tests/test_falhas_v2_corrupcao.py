"""Damage to a format 2 repository: lost fragments, broken pack trailers, sidecars
copied or edited. Found, named, contained; never the wrong model restored."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.backends import BackendLocal
from backup_versionamento.armazenamento.fragmento import decodificar_fragmento
from backup_versionamento.armazenamento.pacote import RODAPE, chave_pacote
from backup_versionamento.erros import ErroIntegridade, ErroRepositorio

from . import ajuda_cifra
from .ajuda_cifra import gravar_sidecar_json, ler_sidecar_json
from .ajuda_falhas import CFG, Esperado, MiB, conferir
from .conftest import aleatorio, cli, escrever

RECUSA_LUGAR = "copiado ou trocado|falha de autenticação"

CFG_UM = {**CFG, "performance": {"threads_backup": 1}}


@pytest.fixture
def tres(tmp_path: Path) -> Esperado:
    """m.bin 1.0.0 and 1.0.1 (disjoint), n.bin 1.0.0: one pack and fragment each."""
    base = tmp_path / "repo"
    esperado: Esperado = {}
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        for nome, semente in (("m.bin", 1), ("m.bin", 2), ("n.bin", 3)):
            dados = aleatorio(MiB + semente, semente)
            origem = escrever(tmp_path / "src" / nome, dados)
            esperado[(nome, g.criar_backup(origem, "patch"))] = dados
    return esperado


def _fragmentos(g: GerenciadorBackupVersionamento) -> dict[str, set[str]]:
    """fragment key -> chunk ids it lists."""
    saida = {}
    for info in g.backend.listar("indices/"):
        id_frag = info.chave.rsplit("/", 1)[1]
        locais = decodificar_fragmento(
            g.repo.codificador, id_frag, g.backend.ler(info.chave)
        )
        saida[info.chave] = set(locais)
    return saida


def _blocos(g: GerenciadorBackupVersionamento, modelo: str, versao: str) -> set[str]:
    return {i for i, _ in g.repo.ler_versao(modelo, versao).blocos()}


def _pacote_de(g: GerenciadorBackupVersionamento, modelo: str, versao: str) -> str:
    pacotes = {g.repo.objetos.localizar(i).pacote for i in _blocos(g, modelo, versao)}
    assert len(pacotes) == 1
    return pacotes.pop()


def test_fragmento_apagado_reconstruido_dos_pacotes(
    tmp_path: Path, tres: Esperado
) -> None:
    base = tmp_path / "repo"
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        blocos = _blocos(g, "m.bin", "1.0.1")
        (perdido,) = [k for k, v in _fragmentos(g).items() if blocos <= v]
    (base / perdido).unlink()
    antes = {p.name for p in (base / "indices").iterdir()}

    # The per-machine index knew the fragment: it notices it vanished and the
    # chunks are found again in the pack trailers.
    conferir(base, CFG_UM, tres, tmp_path / "r1")
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        novos = {
            k: v for k, v in _fragmentos(g).items() if k.rsplit("/")[-1] not in antes
        }
    assert len(novos) == 1, "nenhum fragmento de recuperação foi gravado"
    assert blocos <= next(iter(novos.values()))


def test_fragmento_apagado_em_repositorio_somente_leitura(
    tmp_path: Path, tres: Esperado, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read-only: recovered in this machine's cache only, nothing written."""
    base = tmp_path / "repo"
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        blocos = _blocos(g, "n.bin", "1.0.0")
        (perdido,) = [k for k, v in _fragmentos(g).items() if blocos <= v]
    (base / perdido).unlink()
    antes = sorted(p.name for p in (base / "indices").iterdir())
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "outra-maquina"))
    backend = BackendLocal(base, somente_leitura=True)
    with GerenciadorBackupVersionamento(base, CFG_UM, backend=backend) as g:
        conferir(base, CFG_UM, tres, tmp_path / "r", g=g)
    assert sorted(p.name for p in (base / "indices").iterdir()) == antes


def _estragar_trailer(arquivo: Path, como: str) -> None:
    dados = bytearray(arquivo.read_bytes())
    n_trailer = int.from_bytes(dados[-RODAPE.size : -4], "little")
    inicio = len(dados) - RODAPE.size - n_trailer
    if como == "inverter":
        dados[inicio + n_trailer // 2] ^= 0x01
    else:
        del dados[inicio + n_trailer // 2 :]
    arquivo.write_bytes(bytes(dados))


@pytest.mark.parametrize("como", ["inverter", "truncar"])
def test_trailer_de_pacote_danificado(
    tmp_path: Path, tres: Esperado, como: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "repo"
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        pacote = _pacote_de(g, "n.bin", "1.0.0")
        blocos = _blocos(g, "n.bin", "1.0.0")
        (fragmento,) = [k for k, v in _fragmentos(g).items() if blocos <= v]
    _estragar_trailer(base / chave_pacote(pacote), como)

    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        rel = g.verificar_integridade()
        assert not rel["ok"]
        assert rel["versoes_com_problema"] == ["n.bin 1.0.0"], rel["problemas"]
        assert all(pacote in p["mensagem"] for p in rel["problemas"]), rel["problemas"]
        # The chunks themselves are intact: every version still restores.
        for (modelo, versao), dados in tres.items():
            dest = g.restaurar_backup(modelo, versao, tmp_path / f"a-{modelo}-{versao}")
            assert Path(dest).read_bytes() == dados

    # Without its fragment the trailer is the only map (on a machine whose
    # cache never saw the fragment): a clear error naming the pack; the other
    # versions are untouched.
    (base / fragmento).unlink()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "outra-maquina"))
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        destino = tmp_path / "n"
        destino.mkdir()
        with pytest.raises(ErroIntegridade, match=pacote):
            g.restaurar_backup("n.bin", "1.0.0", destino)
        assert list(destino.iterdir()) == []
        rel = g.verificar_integridade()
        assert rel["versoes_com_problema"] == ["n.bin 1.0.0"], rel["problemas"]
        for modelo, versao in (("m.bin", "1.0.0"), ("m.bin", "1.0.1")):
            dest = g.restaurar_backup(modelo, versao, tmp_path / f"b-{modelo}-{versao}")
            assert Path(dest).read_bytes() == tres[(modelo, versao)]


def _sem_traceback(r: object) -> None:
    texto = getattr(r, "stdout", "") + getattr(r, "stderr", "")
    assert "Traceback" not in texto, texto


@pytest.mark.parametrize(
    ("de", "para"),
    [
        pytest.param(
            "modelos/b.bin/1.0.0.json", "modelos/a.bin/1.0.0.json", id="outro-modelo"
        ),
        pytest.param(
            "modelos/a.bin/1.0.0.json", "modelos/a.bin/1.1.0.json", id="outra-versao"
        ),
    ],
)
def test_sidecar_copiado_e_recusado(tmp_path: Path, de: str, para: str) -> None:
    base = tmp_path / "repo"
    a = aleatorio(300_000, 1)
    b = aleatorio(300_000, 2)
    with GerenciadorBackupVersionamento(base, CFG) as g:
        g.criar_backup(escrever(tmp_path / "src" / "a.bin", a), "patch")
        g.criar_backup(escrever(tmp_path / "src" / "b.bin", b), "patch")
    (base / para).write_bytes((base / de).read_bytes())
    modelo, versao = para.split("/")[1], para.split("/")[2].removesuffix(".json")

    with GerenciadorBackupVersionamento(base, CFG) as g:
        rel = g.verificar_integridade()
        assert not rel["ok"]
        assert rel["versoes_com_problema"] == [f"{modelo} {versao}"]
        # Encrypted (the suites' second run): the sidecar's AAD names its place.
        assert re.search(RECUSA_LUGAR, rel["problemas"][0]["mensagem"])
        (tmp_path / "r1").mkdir()
        with pytest.raises(ErroIntegridade, match=RECUSA_LUGAR):
            g.restaurar_backup(modelo, versao, tmp_path / "r1")
        assert list((tmp_path / "r1").iterdir()) == []
        # The listing never shows the impostor, so "latest" is the real one.
        assert [v["versao"] for v in g.listar_versoes("b.bin")] == ["1.0.0"]
        if modelo == "a.bin" and versao == "1.1.0":
            assert [v["versao"] for v in g.listar_versoes("a.bin")] == ["1.0.0"]
            dest = g.restaurar_backup("a.bin", "ultima", tmp_path / "ult")
            assert Path(dest).read_bytes() == a

    (tmp_path / "r2").mkdir()
    r = cli(
        "restaurar",
        "--base",
        str(base),
        "--modelo",
        modelo,
        "--versao",
        versao,
        "--destino",
        str(tmp_path / "r2"),
    )
    assert r.returncode == 9, r.stderr
    assert re.search(RECUSA_LUGAR, r.stderr)
    _sem_traceback(r)
    assert list((tmp_path / "r2").iterdir()) == []
    r = cli("verificar", "--base", str(base))
    assert r.returncode == 9, r.stdout + r.stderr
    assert f"{modelo} {versao}" in r.stdout
    _sem_traceback(r)
    # The real b.bin is fine.
    (tmp_path / "r3").mkdir()
    r = cli(
        "restaurar",
        "--base",
        str(base),
        "--modelo",
        "b.bin",
        "--destino",
        str(tmp_path / "r3"),
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r3" / "b.bin").read_bytes() == b


def test_sidecar_de_pasta_sem_uma_entrada_e_recusado(tmp_path: Path) -> None:
    base = tmp_path / "repo"
    pasta = tmp_path / "src" / "modelo_pasta"
    for i in range(3):
        escrever(pasta / f"parte{i}.bin", aleatorio(50_000, i))
    with GerenciadorBackupVersionamento(base, CFG) as g:
        assert g.criar_backup(pasta, "patch") == "1.0.0"
    chave = base / "modelos" / "modelo_pasta" / "1.0.0.json"
    sc = ler_sidecar_json(chave)
    (removida,) = [e for e in sc["entradas"] if e["caminho"].endswith("parte1.bin")]
    sc["entradas"].remove(removida)
    sc["tamanho"] -= removida["tamanho"]  # sizes add up: only the digest can tell
    gravar_sidecar_json(chave, sc)
    with GerenciadorBackupVersionamento(base, CFG) as g:
        rel = g.verificar_integridade()
        assert rel["versoes_com_problema"] == ["modelo_pasta 1.0.0"]
        assert "SHA-256 do modelo não confere" in rel["problemas"][0]["mensagem"]
        (tmp_path / "r").mkdir()
        with pytest.raises(ErroIntegridade, match="SHA-256 do modelo não confere"):
            g.restaurar_backup("modelo_pasta", "1.0.0", tmp_path / "r")
    assert list((tmp_path / "r").iterdir()) == []


# -- this machine's caches: never the truth -----------------------------------------


def _estado(base: Path) -> Path:
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        return g.repo.pasta_estado


def _sql(arquivo: Path, *comandos: str) -> None:
    conn = sqlite3.connect(arquivo, isolation_level=None)
    try:
        for c in comandos:
            conn.execute(c)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _virar_paginas(arquivo: Path) -> None:
    """Flip bytes all over the pages after the first (the header page stays)."""
    _sql(arquivo)  # WAL folded into the file
    b = bytearray(arquivo.read_bytes())
    for i in range(4096 + 50, len(b), 97):
        b[i] ^= 0x5A
    arquivo.write_bytes(bytes(b))


def _dano_cache(estado: Path, dano: str) -> None:
    blocos, versoes = estado / "blocos.sqlite", estado / "versoes.sqlite"
    if dano == "paginas-blocos":
        _virar_paginas(blocos)
    elif dano == "paginas-versoes":
        _virar_paginas(versoes)
    elif dano == "cabecalho":
        for arq in (blocos, versoes):
            _sql(arq)
            arq.write_bytes(b"\x00" * 64 + arq.read_bytes()[64:])
    elif dano == "deslocamento":
        _sql(blocos, "UPDATE blocos SET deslocamento = deslocamento + 1")
    elif dano == "id-bloco":
        _sql(blocos, "UPDATE blocos SET id = randomblob(32)")
    elif dano == "resumo":
        _sql(
            versoes,
            # json.dumps writes '"sha256": "<hex>"'
            'UPDATE versoes SET resumo = replace(resumo, \'"sha256": "\', '
            '\'"sha256": "00\')',
        )
    elif dano == "versao-linha":  # a row that names a version never stored
        _sql(versoes, "UPDATE versoes SET versao = '9.9.9' WHERE versao = '1.0.0'")
    elif dano == "travas":
        if (estado / "travas").is_dir():
            shutil.rmtree(estado / "travas")
        (estado / "travas").write_text("não sou uma pasta")


@pytest.mark.parametrize(
    "dano",
    [
        "paginas-blocos",
        "paginas-versoes",
        "cabecalho",
        "deslocamento",
        "id-bloco",
        "resumo",
        "versao-linha",
        "travas",
    ],
)
def test_cache_danificado_reconstruido(
    tmp_path: Path, tres: Esperado, dano: str
) -> None:
    base = tmp_path / "repo"
    estado = _estado(base)
    shas = {
        v: hashlib.sha256(d).hexdigest() for (m, v), d in tres.items() if m == "m.bin"
    }
    _dano_cache(estado, dano)
    # The CLI lists the right SHA-256, restores and verifies: no traceback, no
    # false alarm about the repository.
    r = cli("listar", "--base", str(base), "--modelo", "m.bin", "--json")
    assert r.returncode == 0, r.stderr
    assert {v["versao"]: v["sha256"] for v in json.loads(r.stdout)} == shas
    _dano_cache(estado, dano)
    r = cli(
        "restaurar", "--base", str(base), "--modelo", "m.bin", "--versao", "1.0.1",
        "--destino", str(tmp_path / "r") + "/",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r" / "m.bin").read_bytes() == tres[("m.bin", "1.0.1")]
    _dano_cache(estado, dano)
    r = cli("verificar", "--base", str(base))
    assert r.returncode == 0, r.stdout + r.stderr
    # A backup on the damaged cache works and what it wrote restores.
    _dano_cache(estado, dano)
    novo = aleatorio(MiB, 9)
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        v = g.criar_backup(escrever(tmp_path / "src" / "m.bin", novo), "patch")
    conferir(base, CFG_UM, {**tres, ("m.bin", v): novo}, tmp_path / "c")


def test_linha_fantasma_no_cache_nao_gera_versao_irrestauravel(
    tmp_path: Path, tres: Esperado
) -> None:
    # The cache claims the single chunk of a file never stored: dedup must
    # check the claim against the pack before a new version relies on it.
    base = tmp_path / "repo"
    dados = aleatorio(20_000, 77)  # under the chunker's minimum: one chunk
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        id_bloco = g.repo.codificador.id_bloco(memoryview(dados))
        pacote = _pacote_de(g, "m.bin", "1.0.0")
        estado = g.repo.pasta_estado
    _sql(
        estado / "blocos.sqlite",
        "INSERT INTO blocos SELECT x'" + id_bloco + "', n, 0, 100, 0, 20000 "
        "FROM pacotes WHERE id = x'" + pacote + "'",
    )
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        v = g.criar_backup(escrever(tmp_path / "src" / "f.bin", dados), "patch")
    conferir(base, CFG_UM, {**tres, ("f.bin", v): dados}, tmp_path / "c")


def _danificar_pacote(arq: Path, dano: str, outro: Path) -> None:
    if dano == "apagado":
        arq.unlink()
    elif dano == "truncado":
        arq.write_bytes(arq.read_bytes()[: arq.stat().st_size // 2])
    elif dano == "vazio":
        arq.write_bytes(b"")
    elif dano == "pasta":
        arq.unlink()
        arq.mkdir()
    elif dano == "trocado":  # another pack's bytes under this name
        arq.write_bytes(outro.read_bytes())
    elif dano == "trailer":
        b = bytearray(arq.read_bytes())
        b[-RODAPE.size - 10] ^= 0x01
        arq.write_bytes(bytes(b))


@pytest.mark.parametrize(
    "dano", ["apagado", "truncado", "vazio", "pasta", "trocado", "trailer"]
)
def test_backup_depois_de_pacote_danificado_grava_de_novo(
    tmp_path: Path, tres: Esperado, dano: str
) -> None:
    # Backing the same content up again is how a user repairs: dedup must not
    # reuse chunks whose pack is gone, and the new version must restore.
    base = tmp_path / "repo"
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        arq = base / chave_pacote(_pacote_de(g, "m.bin", "1.0.1"))
        outro = base / chave_pacote(_pacote_de(g, "n.bin", "1.0.0"))
    _danificar_pacote(arq, dano, outro)
    dados = tres[("m.bin", "1.0.1")]
    if dano == "pasta" and not ajuda_cifra.ligada():
        # The same chunks make the same pack, whose key a folder holds: a clear
        # refusal that says what to do, and doing it repairs. (Encrypted, fresh
        # nonces give the new pack another name: nothing in the way.)
        origem = escrever(tmp_path / "src" / "m.bin", dados)
        with (
            GerenciadorBackupVersionamento(base, CFG_UM) as g,
            pytest.raises(ErroRepositorio, match="remova o que ocupa"),
        ):
            g.criar_backup(origem, "patch", forcar=True)
        arq.rmdir()
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        v = g.criar_backup(
            escrever(tmp_path / "src" / "m.bin", dados), "patch", forcar=True
        )
        novos = g.obter_versao("m.bin", v)["tamanho_armazenado"]
        assert novos > 0, "nada regravado: blocos do pacote perdido"
    # The new version and the old one (same chunks, now stored again) restore.
    conferir(base, CFG_UM, {**tres, ("m.bin", v): dados}, tmp_path / "c")


@pytest.mark.parametrize("dano", ["apagado", "pasta-vazia", "pasta-com-arquivo"])
def test_verificar_acusa_sidecar_sumido(
    tmp_path: Path, tres: Esperado, dano: str
) -> None:
    # This machine listed m.bin 1.0.1 (the backup did): its vanishing is damage.
    base = tmp_path / "repo"
    sc = base / "modelos" / "m.bin" / "1.0.1.json"
    sc.unlink()
    if dano != "apagado":
        sc.mkdir()
        if dano == "pasta-com-arquivo":
            (sc / "x").write_text("?")
    r = cli("verificar", "--base", str(base))
    assert r.returncode == 9, r.stdout + r.stderr
    assert "m.bin 1.0.1" in r.stdout and "Traceback" not in r.stderr
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        v = g.verificar_integridade()
        # Reported once (a folder in place is reported every time).
        assert v["ok"] == (dano != "pasta-com-arquivo"), v
        del tres[("m.bin", "1.0.1")]
        for (modelo, versao), dados in tres.items():
            dest = g.restaurar_backup(modelo, versao, tmp_path / "r" / versao / modelo)
            assert Path(dest).read_bytes() == dados


@pytest.mark.parametrize("conteudo", ["vazia", "com-arquivo"])
def test_fragmento_virou_pasta_nao_derruba_comandos(
    tmp_path: Path, tres: Esperado, conteudo: str
) -> None:
    # The recovery fragment rebuilt from the packs has the same content, hence
    # the same key, as the lost one: a folder there must not end in EISDIR.
    base = tmp_path / "repo"
    frag = next((base / "indices").iterdir())
    frag.unlink()
    frag.mkdir()
    if conteudo == "com-arquivo":
        (frag / "x").write_bytes(b"?")  # listed as a key under it: unreadable
    estado = _estado(base)
    comandos = [
        ["restaurar", "--modelo", "m.bin", "--versao", "1.0.1",
         "--destino", str(tmp_path / "r") + "/"],
        ["verificar", "--completa"],
        ["limpeza"],
    ]  # fmt: skip
    for args in comandos:
        shutil.rmtree(estado)  # a fresh machine: the index comes from the repo
        r = cli(*args, "--base", str(base))
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        if args[0] == "verificar" and conteudo == "com-arquivo":
            # Reported, not fatal: no data at risk.
            assert "Aviso:" in r.stdout and f"indices/{frag.name}" in r.stdout
    assert (tmp_path / "r" / "m.bin").read_bytes() == tres[("m.bin", "1.0.1")]
    shutil.rmtree(estado)
    conferir(base, CFG_UM, tres, tmp_path / "c")


def test_verificar_pacote_truncado_nao_diz_legivel(
    tmp_path: Path, tres: Esperado
) -> None:
    base = tmp_path / "repo"
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        arq = base / chave_pacote(_pacote_de(g, "m.bin", "1.0.1"))
    arq.write_bytes(arq.read_bytes()[: arq.stat().st_size // 2])
    r = cli("verificar", "--base", str(base))
    assert r.returncode == 9
    assert "seguem legíveis" not in r.stdout
    assert "ilegíveis" in r.stdout


def test_cabecalho_de_outro_formato_sai_com_8(tmp_path: Path, tres: Esperado) -> None:
    base = tmp_path / "repo"
    cab = json.loads((base / "repositorio.json").read_text())
    cab["hash_bloco"] = "sha256"
    (base / "repositorio.json").write_text(json.dumps(cab))
    r = cli(
        "restaurar", "--base", str(base), "--modelo", "m.bin",
        "--destino", str(tmp_path / "r") + "/",
    )  # fmt: skip
    assert r.returncode == 8
    assert "hash_bloco" in r.stderr and "outro formato" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_recusa_de_zstd_em_portugues(tmp_path: Path, tres: Esperado) -> None:
    # A compressed blob whose payload is garbage: the refusal is ours, in
    # Portuguese, without zstd's English text.
    from backup_versionamento.armazenamento.blob import CABECALHO, FLAG_ZSTD

    with GerenciadorBackupVersionamento(base := tmp_path / "repo", CFG_UM) as g:
        cod = g.repo.codificador
        bruto = CABECALHO.pack(1, FLAG_ZSTD, 0, 100) + b"\x01" * 40
        with pytest.raises(ErroIntegridade) as e:
            cod.decodificar_bloco("ab" * 32, bruto)
    # Encrypted: refused earlier (no encryption flag), in Portuguese too.
    esperado = "o zstd os recusou" if cod.cifra is None else "sem criptografia"
    assert esperado in str(e.value)
    assert "Unknown" not in str(e.value) and "error" not in str(e.value).lower()
    assert base.exists()


def test_bloco_danificado_reparado_por_novo_backup(
    tmp_path: Path, tres: Esperado
) -> None:
    # A flipped byte inside a chunk (the trailer intact): found by verificar,
    # then backing the same content up again stores it anew and every version
    # that uses it restores, here and on a fresh machine.
    base = tmp_path / "repo"
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        id_bloco = g.repo.ler_versao("m.bin", "1.0.1").blocos()[0][0]
        loc = g.repo.objetos.localizar(id_bloco)
        estado = g.repo.pasta_estado
    arq = base / chave_pacote(loc.pacote)
    b = bytearray(arq.read_bytes())
    b[loc.deslocamento + loc.tamanho // 2] ^= 0x10
    arq.write_bytes(bytes(b))
    assert cli("verificar", "--base", str(base)).returncode == 9
    dados = tres[("m.bin", "1.0.1")]
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        v = g.criar_backup(
            escrever(tmp_path / "src" / "m.bin", dados), "patch", forcar=True
        )
        assert g.obter_versao("m.bin", v)["tamanho_armazenado"] > 0
    esperado = {**tres, ("m.bin", v): dados}
    conferir(base, CFG_UM, esperado, tmp_path / "c")
    shutil.rmtree(estado)
    with GerenciadorBackupVersionamento(base, CFG_UM) as g:
        for (modelo, versao), conteudo in esperado.items():
            dest = g.restaurar_backup(modelo, versao, tmp_path / "f" / versao / modelo)
            assert Path(dest).read_bytes() == conteudo
