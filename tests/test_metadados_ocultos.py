"""Encryption hides metadata: nothing in the repository names a model (issue 19).

A repository with encryption on goes through backups, a pin, an alias, retention,
a report, the audit log and checks; then every file (local) or object (S3 on a
real moto server), key names and bytes, is searched for the model's name, its
description, its SHA-256, its source path and its version strings. None may
appear. Listing, restoring, checking, status and the report keep working, from
the CLI and from the API.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.relatorios import gerar_relatorio

from .conftest import aleatorio, cli, escrever

# Letters outside a-f and version strings picked so that none occurs by chance
# in hex text or in the header's numbers.
NOME = "previsor_quina_zulu.bin"
DESCRICOES = ("treino semanal quinzena zulu", "reajuste rumo kilo", "poda tuvw")
VERSOES = ("1.0.0", "1.1.0", "1.2.0")
KiB = 1 << 10


@pytest.fixture(autouse=True)
def _nomes_chaveados(monkeypatch: pytest.MonkeyPatch) -> None:
    """New encrypted repositories hide names (even in the encrypted rerun)."""
    from backup_versionamento.seguranca import mestra

    monkeypatch.setattr(mestra, "NOMES_CHAVEADOS_NOVOS", True)


def _eu() -> str:
    from backup_versionamento.seguranca.acesso import usuario_atual

    return usuario_atual()


def _cfg(tmp_path: Path, base: str) -> dict[str, Any]:
    return {
        "diretorios": {"base": base},
        "validacao": {"modo": "desligado"},
        "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
        "retencao": {
            "por_quantidade": {"maximo_versoes_por_modelo": 2},
            "carencia_coleta_minutos": 0,
        },
        "seguranca": {
            "criptografia": {
                "habilitada": True,
                "chave_arquivo": str(tmp_path / "k" / "chave"),
            },
            "controle_acesso": {"habilitado": True, "usuarios_autorizados": [_eu()]},
        },
    }


def _proibidos(modelos: list[tuple[Path, bytes]]) -> dict[str, bytes]:
    """What must not appear anywhere in the repository, by what it is."""
    saida = {"nome": NOME.encode(), "nome sem extensão": NOME[:-4].encode()}
    for i, desc in enumerate(DESCRICOES):
        saida[f"descrição {i}"] = desc.encode()
    for v in (*VERSOES, "1.3.0"):
        saida[f"versão {v}"] = v.encode()
    for i, (origem, dados) in enumerate(modelos):
        sha = hashlib.sha256(dados).hexdigest()
        saida[f"sha256 {i}"] = sha.encode()
        saida[f"sha256 {i} (bytes)"] = bytes.fromhex(sha)
        saida[f"caminho {i}"] = str(origem).encode()
    saida["pasta de origem"] = str(modelos[0][0].parent).encode()
    return saida


def _procurar(objetos: dict[str, bytes], proibidos: dict[str, bytes]) -> list[str]:
    achados = []
    for chave, dados in objetos.items():
        for o_que, agulha in proibidos.items():
            if agulha in chave.encode() or agulha in dados:
                onde = "no nome" if agulha in chave.encode() else "no conteúdo"
                achados.append(f"{o_que} {onde} de {chave}")
    return achados


def _arquivos(raiz: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(raiz)): p.read_bytes() if p.is_file() else b""
        for p in sorted(raiz.rglob("*"))
    }


def _cli(cfg: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    r = cli(*args, "--config", str(cfg), "--json", env=env)
    assert r.returncode == 0, f"{args}: {r.stderr}{r.stdout}"
    return json.loads(r.stdout)


def _percorrer(
    tmp_path: Path, base: str, env: dict[str, str] | None = None
) -> list[tuple[Path, bytes]]:
    """Backups, pin, alias, retention, report, audit, checks: API and CLI."""
    cfg = _cfg(tmp_path, base)
    arq_cfg = tmp_path / "cfg.json"
    arq_cfg.write_text(json.dumps(cfg))
    origem = tmp_path / "treinos" / "quina_zulu" / NOME
    modelos = []
    with GerenciadorBackupVersionamento(config=cfg) as g:
        for i, desc in enumerate(DESCRICOES):
            dados = aleatorio(300 * KiB, i) + b"fim" * i
            escrever(origem, dados)
            modelos.append((origem, dados))
            assert g.criar_backup(origem, "minor", descricao=desc) == VERSOES[i]
        g.fixar_versao(NOME, "1.0.0")
        g.definir_alias(NOME, "producao", "1.1.0")
        assert g.listar_modelos() == [NOME]
        assert [v["versao"] for v in g.listar_versoes(NOME)] == list(VERSOES)
        assert g.restaurar_backup(NOME, "@producao", tmp_path / "r1")
        assert g.verificar_integridade()["ok"]
        assert g.status()["aliases"] == {NOME: {"producao": "1.1.0"}}
        arquivos = gerar_relatorio(g, formatos=("json", "html"))
        assert NOME in Path(arquivos["json"]).read_text()
    # Another machine (empty per-machine state): the names come from the sidecars.
    env_outra = {**(env or {}), "XDG_CACHE_HOME": str(tmp_path / "outra_maquina")}
    listado = _cli(arq_cfg, "listar", "--modelo", NOME, env=env_outra)
    assert [v["versao"] for v in listado] == list(VERSOES)
    assert [m["modelo"] for m in _cli(arq_cfg, "listar", env=env_outra)] == [NOME]
    # A new version from the other machine: the allocation sees the listing.
    escrever(origem, aleatorio(300 * KiB, 9))
    modelos.append((origem, origem.read_bytes()))
    r = _cli(
        arq_cfg, "backup", "--modelo", str(origem), "--tipo-mudanca", "minor",
        env=env_outra,
    )  # fmt: skip
    assert r["versao"] == "1.3.0"
    limpeza = _cli(arq_cfg, "limpeza", env=env)
    assert limpeza is not None
    restantes = [v["versao"] for v in _cli(arq_cfg, "listar", "--modelo", NOME)]
    assert "1.0.0" in restantes and "1.1.0" in restantes  # pinned, aliased
    assert "1.2.0" not in restantes  # past the cap: removed by retention
    destino = tmp_path / "r2"
    _cli(
        arq_cfg, "restaurar", "--modelo", NOME, "--versao", "1.0.0",
        "--destino", str(destino), env=env_outra,
    )  # fmt: skip
    assert (destino / NOME).read_bytes() == modelos[0][1]
    assert _cli(arq_cfg, "verificar", "--completa", env=env)["ok"]
    st = _cli(arq_cfg, "status", env=env_outra)
    assert st["modelos"] == 1 and st["aliases"] == {NOME: {"producao": "1.1.0"}}
    _cli(arq_cfg, "relatorio", env=env)
    assert _cli(arq_cfg, "auditoria", "verificar", env=env)["ok"]
    return modelos


def test_repositorio_local_cifrado_nao_revela_nomes(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    modelos = _percorrer(tmp_path, str(repo))
    assert (repo / "logs" / "auditoria.jsonl").is_file()  # the audit stays here
    achados = _procurar(_arquivos(repo), _proibidos(modelos))
    assert not achados, "\n".join(achados)


# --- S3 (moto in server mode) ---------------------------------------------------------


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    pytest.importorskip("moto.server")
    from .s3_servidor import servidor

    s = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", s.url)
    for k, v in s.ambiente().items():
        monkeypatch.setenv(k, v)
    yield s


def test_repositorio_s3_cifrado_nao_revela_nomes(tmp_path: Path, srv: Any) -> None:
    bucket = srv.novo_bucket()
    modelos = _percorrer(tmp_path, f"s3://{bucket}/equipe", env=srv.ambiente())
    cliente = srv.cliente()
    objetos = {}
    for pagina in cliente.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in pagina.get("Contents", []):
            corpo = cliente.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            objetos[o["Key"]] = corpo
    assert any(k.startswith("equipe/modelos/") for k in objetos)
    achados = _procurar(objetos, _proibidos(modelos))
    assert not achados, "\n".join(achados)


def test_sem_cifra_os_nomes_continuam_visiveis(tmp_path: Path) -> None:
    """The search finds what is there: without encryption the keys name models."""
    repo = tmp_path / "repo"
    origem = escrever(tmp_path / "src" / NOME, aleatorio(100 * KiB, 1))
    with GerenciadorBackupVersionamento(
        repo, {"validacao": {"modo": "desligado"}}
    ) as g:
        g.criar_backup(origem, "minor", descricao=DESCRICOES[0])
    achados = _procurar(_arquivos(repo), _proibidos([(origem, origem.read_bytes())]))
    assert any(a.startswith("nome no nome") for a in achados), achados
    assert any(a.startswith("descrição 0") for a in achados), achados


# --- migrar --esconder-nomes --------------------------------------------------------


def test_migrar_esconde_nomes_de_repositorio_cifrado_antigo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backup_versionamento.seguranca import mestra

    repo = tmp_path / "repo"
    cfg = _cfg(tmp_path, str(repo))
    arq_cfg = tmp_path / "cfg.json"
    arq_cfg.write_text(json.dumps(cfg))
    origem = tmp_path / "treinos" / "quina_zulu" / NOME
    modelos = []
    # A repository encrypted before keyed names existed: names in its keys.
    monkeypatch.setattr(mestra, "NOMES_CHAVEADOS_NOVOS", False)
    with GerenciadorBackupVersionamento(config=cfg) as g:
        for i, desc in enumerate(DESCRICOES):
            escrever(origem, aleatorio(200 * KiB, 20 + i))
            modelos.append((origem, origem.read_bytes()))
            g.criar_backup(origem, "minor", descricao=desc)
        g.fixar_versao(NOME, "1.0.0")
        g.definir_alias(NOME, "producao", "1.1.0")
        gerar_relatorio(g, formatos=("json", "html"))
    proibidos = _proibidos(modelos)
    proibidos.pop("versão 1.3.0")
    antes = _procurar(_arquivos(repo), proibidos)
    assert any(a.startswith("nome no nome de modelos/") for a in antes), antes

    r = cli("migrar", "--esconder-nomes", "--config", str(arq_cfg), "--json")
    assert r.returncode == 0, r.stderr
    rel = json.loads(r.stdout)
    # 3 sidecars, 1 pin, 1 alias entry; the journal, the log, the reports moved.
    assert rel["objetos_convertidos"] == 5 and rel["objetos_apagados"] == 5
    assert any(m.endswith("atividade.jsonl") for m in rel["movidos_para_estado"])
    assert rel["auditoria_com_nomes"] > 0  # old audit entries: documented limit
    arquivos = _arquivos(repo)
    del arquivos["logs/auditoria.jsonl"]
    achados = _procurar(arquivos, proibidos)
    assert not achados, "\n".join(achados)

    # Everything still reads, from a machine that never saw the names.
    env = {"XDG_CACHE_HOME": str(tmp_path / "outra_maquina")}
    listado = _cli(arq_cfg, "listar", "--modelo", NOME, env=env)
    assert [v["versao"] for v in listado] == list(VERSOES)
    assert [v["fixada"] for v in listado] == [True, False, False]
    st = _cli(arq_cfg, "status", env=env)
    assert st["aliases"] == {NOME: {"producao": "1.1.0"}}
    destino = tmp_path / "r"
    _cli(
        arq_cfg, "restaurar", "--modelo", NOME, "--versao", "@producao",
        "--destino", str(destino), env=env,
    )  # fmt: skip
    assert (destino / NOME).read_bytes() == modelos[1][1]
    assert _cli(arq_cfg, "verificar", "--completa", env=env)["ok"]
    assert _cli(arq_cfg, "auditoria", "verificar", env=env)["ok"]
    # Run again: nothing left to do.
    de_novo = _cli(arq_cfg, "migrar", "--esconder-nomes")
    assert de_novo["ja_escondidos"] and de_novo["objetos_convertidos"] == 0


class _Queda(Exception):
    """A process killed mid-step (raised from the backend)."""


@pytest.mark.parametrize("etapa", ["gemeos", "apagando"])
def test_migrar_esconder_nomes_retoma_depois_de_interrompido(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, etapa: str
) -> None:
    from backup_versionamento.armazenamento.migracao_nomes import esconder_nomes
    from backup_versionamento.seguranca import mestra

    cfg = _cfg(tmp_path, str(tmp_path / "repo"))
    origem = tmp_path / "src" / NOME
    monkeypatch.setattr(mestra, "NOMES_CHAVEADOS_NOVOS", False)
    with GerenciadorBackupVersionamento(config=cfg) as g:
        for i in range(2):
            escrever(origem, aleatorio(100 * KiB, 40 + i))
            g.criar_backup(origem, "minor", descricao=DESCRICOES[i])
        g.fixar_versao(NOME, "1.0.0")
        g.definir_alias(NOME, "producao", "1.1.0")
        backend = g.repo.backend
        # Killed at the 3rd twin written (before the commit point), or at the 3rd
        # clear name deleted (after it).
        metodo = "gravar" if etapa == "gemeos" else "apagar"
        original = getattr(backend, metodo)
        feitos = []

        def cair(chave: str, *args: Any, **kw: Any) -> Any:
            if chave.startswith("modelos/"):
                feitos.append(chave)
                if len(feitos) == 3:
                    raise _Queda(chave)
            return original(chave, *args, **kw)

        monkeypatch.setattr(backend, metodo, cair)
        with pytest.raises(_Queda):
            esconder_nomes(g.repo)
        monkeypatch.setattr(backend, metodo, original)
    # In between, every version, pin and alias still reads.
    with GerenciadorBackupVersionamento(config=cfg) as g:
        assert [v["versao"] for v in g.listar_versoes(NOME)] == ["1.0.0", "1.1.0"]
        assert g.aliases(NOME) == {"producao": "1.1.0"}
        assert g.verificar_integridade()["ok"]
        rel = esconder_nomes(g.repo)  # run again: finishes
        assert not rel["ja_escondidos"]
    with GerenciadorBackupVersionamento(config=cfg) as g:
        assert g.repo.nomes.ocultos
        versoes = g.listar_versoes(NOME)
        assert [v["versao"] for v in versoes] == ["1.0.0", "1.1.0"]
        assert [v["fixada"] for v in versoes] == [True, False]
        assert g.aliases(NOME) == {"producao": "1.1.0"}
        assert g.verificar_integridade()["ok"]
    chaves = [
        str(p.relative_to(tmp_path / "repo")) for p in (tmp_path / "repo").rglob("*")
    ]
    assert not [c for c in chaves if NOME in c or "1.0.0" in c or "producao" in c]


_MAQUINA = """
import hashlib, json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.relatorios import gerar_relatorio
cfg = json.loads(Path(sys.argv[2]).read_text())
n, pasta = sys.argv[3], Path(sys.argv[4])
saida = []
with GerenciadorBackupVersionamento(config=cfg) as g:
    for i in range(4):
        arq = pasta / f"m{n}_{i}" / "previsor_quina_zulu.bin"
        arq.parent.mkdir(parents=True)
        arq.write_bytes(f"maquina {n} rodada {i} ".encode() * 5000)
        versao = g.criar_backup(arq, "patch", descricao=f"m{n} r{i}")
        saida.append([versao, hashlib.sha256(arq.read_bytes()).hexdigest()])
print(json.dumps(saida))
"""


def test_tres_maquinas_publicam_com_nomes_chaveados_sem_perder_versao(
    tmp_path: Path,
) -> None:
    """Keyed keys are deterministic: concurrent machines still get one version each."""
    import os
    import sys

    from .conftest import RAIZ

    cfg = _cfg(tmp_path, str(tmp_path / "repo"))
    cfg["seguranca"]["controle_acesso"]["habilitado"] = False
    arq_cfg = tmp_path / "cfg.json"
    arq_cfg.write_text(json.dumps(cfg))
    with GerenciadorBackupVersionamento(config=cfg) as g:  # one key file for all
        assert g.repo.nomes.ocultos
    procs = []
    for n in range(3):
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / f"maquina{n}")}
        args = [str(RAIZ), str(arq_cfg), str(n), str(tmp_path / "src")]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", _MAQUINA, *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    prometidas: dict[str, str] = {}
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        for versao, sha in json.loads(out):
            assert versao not in prometidas, f"{versao} dada a duas máquinas"
            prometidas[versao] = sha
    assert len(prometidas) == 12
    with GerenciadorBackupVersionamento(config=cfg) as g:
        listadas = {v["versao"]: v["sha256"] for v in g.listar_versoes(NOME)}
        assert listadas == prometidas
        assert g.verificar_integridade()["ok"]
