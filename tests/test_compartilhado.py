"""A repository shared by several machines never loses a promised version.

The stress test: three "machines" (separate processes, separate per-machine
state folders) back up in a loop, with content that often reuses chunks only
removed versions had used, while a fourth runs `limpeza` in a loop with grace 0.
At the end `verificar --completa` passes, every version still there restores
byte for byte as promised, and every promised version that is gone was removed
by retention. Short in `make test`; BACKUP_VERSIONAMENTO_ESTRESSE_S=150 (seconds
per run) for the long version.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.backends import BackendLocal
from backup_versionamento.armazenamento.backends.reivindicacao import (
    BackendCriacaoSondada,
    BackendSemCondicional,
)
from backup_versionamento.armazenamento.trava_remota import Concessao, TravaRemota

from .ajuda_estresse import CFG
from .conftest import RAIZ, cli, cli_json
from .s3_servidor import ServidorS3, servidor

DURACAO_S = float(os.environ.get("BACKUP_VERSIONAMENTO_ESTRESSE_S", "8"))
MODELOS = ["a.bin", "b.bin"]


def _rodar_maquinas(
    base: str, pasta: Path, env: dict[str, str]
) -> list[dict[str, Any]]:
    """Start 3 backup machines and 1 collector; return every line they wrote."""
    procs = []
    saidas = []
    for n, papel in enumerate(["backup", "backup", "backup", "limpeza"]):
        cache = pasta / f"maquina{n}" / "cache"
        cache.mkdir(parents=True)
        saida = pasta / f"maquina{n}" / "saida.jsonl"
        saidas.append(saida)
        extra = [str(n + 1), *MODELOS] if papel == "backup" else []
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(RAIZ / "tests" / "ajuda_estresse.py"),
                    papel,
                    base,
                    str(saida),
                    str(DURACAO_S),
                    *extra,
                ],
                env={**os.environ, **env, "XDG_CACHE_HOME": str(cache)},
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        for p in procs[:3]:
            _, err = p.communicate(timeout=DURACAO_S + 600)
            assert p.returncode == 0, err
    finally:
        (pasta / "parar").touch()  # the collector stops after the backups
    _, err = procs[3].communicate(timeout=600)
    assert procs[3].returncode == 0, err
    linhas = []
    for s in saidas:
        linhas += [json.loads(x) for x in s.read_text().splitlines() if x]
    return linhas


def _conferir(base: str, linhas: list[dict[str, Any]], destino: Path) -> None:
    prometidas: dict[tuple[str, str], str] = {}
    novas: list[tuple[str, str]] = []
    removidas: set[tuple[str, str]] = set()
    for ln in linhas:
        if ln["tipo"] == "versao":
            chave = (ln["modelo"], ln["versao"])
            # One version number, one content: never two backups told the same.
            assert prometidas.setdefault(chave, ln["sha256"]) == ln["sha256"], ln
            if ln["nova"]:
                novas.append(chave)
        elif ln["tipo"] == "limpeza":
            removidas.update(tuple(r.split(" ", 1)) for r in ln["removidas"])
    assert len(novas) == len(set(novas)), "duas máquinas receberam a mesma versão"
    assert novas, [ln for ln in linhas if ln["tipo"] == "erro"][:5]
    # The collector really removed versions while the backups ran.
    assert removidas, [ln for ln in linhas if ln["tipo"] == "erro"][:5]
    erros = [ln["erro"] for ln in linhas if ln["tipo"] == "erro"]
    print(f"{len(novas)} versões, {len(removidas)} removidas, erros: {erros[:5]}")
    with GerenciadorBackupVersionamento(base, CFG) as g:
        rel = g.verificar_integridade(completa=True)
        assert rel["ok"], rel["problemas"][:5]
        presentes = {
            (m, v["versao"]) for m in g.listar_modelos() for v in g.listar_versoes(m)
        }
        # Gone only by retention's decision, never lost.
        assert set(prometidas) - presentes <= removidas
        for modelo, versao in sorted(presentes):
            assert (modelo, versao) in prometidas, (modelo, versao)
            alvo = destino / modelo / versao / modelo
            g.restaurar_backup(modelo, versao, alvo)
            sha = hashlib.sha256(alvo.read_bytes()).hexdigest()
            assert sha == prometidas[(modelo, versao)], (modelo, versao)


def test_estresse_local_tres_maquinas_e_limpeza(tmp_path: Path) -> None:
    base = str(tmp_path / "repo")
    linhas = _rodar_maquinas(base, tmp_path, {})
    _conferir(base, linhas, tmp_path / "restaurado")


def test_estresse_s3_tres_maquinas_e_limpeza(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv: ServidorS3 = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", srv.url)
    base = f"s3://{srv.novo_bucket()}/equipe"
    linhas = _rodar_maquinas(base, tmp_path, srv.ambiente())
    _conferir(base, linhas, tmp_path / "restaurado")


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])


# --- the lease protocol, piece by piece (local repository, real CLI) --------------


def _concessao(repo: Path, host: str, pid: int, expira_em: float) -> Path:
    arq = repo / "travas" / "concessoes" / f"{uuid.uuid4().hex}.json"
    arq.parent.mkdir(parents=True, exist_ok=True)
    arq.write_text(
        json.dumps(
            {
                "id": arq.stem,
                "dono": "ana",
                "host": host,
                "pid": pid,
                "criada_em": "2026-01-01T00:00:00Z",
                "expira_em": "?",
                "expira_em_s": expira_em,
            }
        )
    )
    return arq


def test_limpeza_nao_apaga_com_backup_em_andamento(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"retencao": {"espera_backups_minutos": 0}}))
    arq = tmp_path / "m.bin"
    arq.write_bytes(os.urandom(50_000))
    assert cli("backup", "--base", str(repo), "--modelo", str(arq)).returncode == 0
    comum = ["--base", str(repo), "--config", str(cfg)]
    # A backup of another machine holds a live lease: nothing is deleted.
    viva = _concessao(repo, "outra-maquina", 4242, time.time() + 300)
    r = cli("limpeza", *comum)
    assert r.returncode == 11, r.stderr
    assert "backup(s) em andamento" in r.stderr and "outra-maquina" in r.stderr
    assert "Traceback" not in r.stderr
    st = cli_json("status", "--base", str(repo))
    assert [(c["host"], c["expirada"]) for c in st["concessoes"]] == [
        ("outra-maquina", False)
    ]
    assert "Backup:             em andamento, ana@outra-maquina" in (
        cli("status", "--base", str(repo)).stdout
    )
    # That backup died: its lease expires, the cleanup says what to do.
    viva.unlink()
    _concessao(repo, "outra-maquina", 4242, time.time() - 1)
    r = cli("limpeza", *comum)
    assert r.returncode == 11
    assert "concessão expirada" in r.stderr and "--quebrar-trava" in r.stderr
    assert "EXPIRADA" in cli("status", "--base", str(repo)).stdout
    r = cli("limpeza", *comum, "--quebrar-trava", "--json")
    assert r.returncode == 0, r.stderr
    removidas = json.loads(r.stdout)["concessoes_removidas"]
    assert [c["host"] for c in removidas] == ["outra-maquina"]
    assert cli("limpeza", *comum).returncode == 0
    # A lease of this host whose process is gone is removed on sight.
    morto = subprocess.Popen([sys.executable, "-c", "pass"])
    morto.wait()
    lixo = _concessao(repo, socket.gethostname(), morto.pid, time.time() + 300)
    assert cli("limpeza", *comum).returncode == 0
    assert not lixo.exists()


def test_limpeza_espera_o_backup_terminar(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    arq = tmp_path / "m.bin"
    arq.write_bytes(os.urandom(50_000))
    assert cli("backup", "--base", str(repo), "--modelo", str(arq)).returncode == 0
    concessao = Concessao(BackendLocal(repo), renovacao_s=0.1)
    concessao.adquirir()
    soltar = threading.Timer(1.5, concessao.liberar)
    soltar.name = "backup-teste-soltar"
    inicio = time.monotonic()
    soltar.start()
    try:
        r = cli("limpeza", "--base", str(repo), "--json")
    finally:
        soltar.join()
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - inicio >= 1.5  # it waited for the lease


def test_backup_espera_limpeza_de_outro_processo(tmp_path: Path) -> None:
    """A collection of another state folder holds the lock: the backup waits
    before writing or reusing anything, then publishes."""
    repo = tmp_path / "repo"
    arq = tmp_path / "m.bin"
    arq.write_bytes(os.urandom(50_000))
    assert cli("backup", "--base", str(repo), "--modelo", str(arq)).returncode == 0
    arq.write_bytes(os.urandom(50_000))
    trava = TravaRemota(BackendLocal(repo), renovacao_s=0.1)
    trava.adquirir()
    proc = subprocess.Popen(
        [
            *(sys.executable, str(RAIZ / "inicializar_backup.py"), "backup"),
            *("--base", str(repo), "--modelo", str(arq)),
        ],
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "outra")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)
        assert proc.poll() is None
        assert not (repo / "modelos" / "m.bin" / "1.0.1.json").exists()
        assert not list((repo / "travas" / "concessoes").glob("*.json"))
    finally:
        trava.liberar()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert (repo / "modelos" / "m.bin" / "1.0.1.json").exists()
    assert not list((repo / "travas" / "concessoes").glob("*.json"))


# --- a store that ignores conditional writes ------------------------------------


def _publicar_em_paralelo(
    tmp_path: Path, fabrica: Any, por_maquina: int = 4
) -> list[tuple[str, str]]:
    """Two "machines" back up one model at once; every (version, sha256) told."""
    repo = tmp_path / "repo"
    contadas: list[tuple[str, str]] = []
    erros: list[BaseException] = []
    largada = threading.Barrier(2)

    def maquina(n: int) -> None:
        cfg = {**CFG, "diretorios": {"estado": str(tmp_path / f"estado{n}")}}
        try:
            with GerenciadorBackupVersionamento(repo, cfg, backend=fabrica(repo)) as g:
                largada.wait()
                for i in range(por_maquina):
                    dados = os.urandom(30_000)
                    arq = tmp_path / f"origem{n}" / "m.bin"
                    arq.parent.mkdir(exist_ok=True)
                    arq.write_bytes(dados)
                    v = g.criar_backup(arq, "patch", descricao=f"{n}-{i}")
                    contadas.append((v, hashlib.sha256(dados).hexdigest()))
        except BaseException as e:
            erros.append(e)

    threads = [
        threading.Thread(target=maquina, args=(n,), name=f"backup-teste-maq{n}")
        for n in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not erros, erros
    return contadas


def test_servidor_sem_escrita_condicional_nunca_perde_versao(tmp_path: Path) -> None:
    """The store overwrites on If-None-Match: probed, then claims publish."""
    contadas = _publicar_em_paralelo(
        tmp_path,
        lambda repo: BackendCriacaoSondada(
            BackendSemCondicional(BackendLocal(repo)),
            cache=tmp_path / "sondas.json",
        ),
    )
    versoes = [v for v, _ in contadas]
    assert len(versoes) == 8 and len(set(versoes)) == 8, sorted(versoes)
    assert json.loads((tmp_path / "sondas.json").read_text()) == {
        str(tmp_path / "repo"): False
    }
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        assert len(g.listar_versoes("m.bin")) == 8
        for v, sha in contadas:
            alvo = g.restaurar_backup("m.bin", v, tmp_path / "r" / v / "m.bin")
            assert hashlib.sha256(Path(alvo).read_bytes()).hexdigest() == sha


# --- per-machine state keyed by repository id and location ----------------------


def test_copia_do_repositorio_nao_divide_o_estado(tmp_path: Path) -> None:
    """`cp -a` keeps the id: `parar --base copia` must not stop the original's
    daemon, and the copy's caches come from the copy."""
    orig, copia = tmp_path / "orig", tmp_path / "copia"
    arq = tmp_path / "m.bin"
    arq.write_bytes(os.urandom(60_000))
    assert cli("backup", "--base", str(orig), "--modelo", str(arq)).returncode == 0
    subprocess.run(["cp", "-a", str(orig), str(copia)], check=True)
    with (
        GerenciadorBackupVersionamento(orig, CFG) as a,
        GerenciadorBackupVersionamento(copia, CFG) as b,
    ):
        assert a.repo.id == b.repo.id
        assert a.repo.pasta_estado != b.repo.pasta_estado
        pid_orig = a.repo.pasta_estado / "daemon.pid"
    # A stand-in for the original's daemon: holds its PID file like the daemon.
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[2]);"
            "from backup_versionamento.automacao.arquivo_pid import ArquivoPid;"
            "ArquivoPid(__import__('pathlib').Path(sys.argv[1])).adquirir();"
            "print('ok', flush=True); time.sleep(60)",
            str(pid_orig),
            str(RAIZ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert daemon.stdout is not None and daemon.stdout.readline() == "ok\n"
        r = cli("parar", "--base", str(copia))
        assert r.returncode != 0 and "nenhum daemon" in r.stderr, r.stderr
        assert daemon.poll() is None  # the original's daemon still runs
    finally:
        daemon.kill()
        daemon.wait()
    # The original moves on; the copy lists and restores only what it holds.
    arq.write_bytes(os.urandom(60_000))
    assert cli("backup", "--base", str(orig), "--modelo", str(arq)).returncode == 0
    versoes = cli_json("listar", "--base", str(copia), "--modelo", "m.bin")
    assert [v["versao"] for v in versoes] == ["1.0.0"], versoes
    assert cli("verificar", "--base", str(copia), "--completa").returncode == 0


# --- complete mirrors --------------------------------------------------------------


def _chaves_bucket(srv: ServidorS3, bucket: str) -> list[str]:
    pag = srv.cliente().get_paginator("list_objects_v2")
    return sorted(
        o["Key"] for p in pag.paginate(Bucket=bucket) for o in p.get("Contents", [])
    )


def test_espelho_cifrado_e_assinado_abre_numa_maquina_nova(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the bucket and the key file (plus the public key): opens, verifies
    and restores byte for byte."""
    srv = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", srv.url)
    bucket = srv.novo_bucket()
    r = cli("chaves", "gerar-assinatura", "--saida", str(tmp_path / "ass"), "--json")
    assert r.returncode == 0, r.stderr
    par = json.loads(r.stdout)
    chave = tmp_path / "chaves" / "chave"
    seguranca = {
        "criptografia": {"habilitada": True, "chave_arquivo": str(chave)},
        "assinatura": {
            "habilitada": True,
            "chave_privada": par["chave_privada"],
            "chave_publica": par["chave_publica"],
        },
    }
    nuvem = {"bucket": bucket, "prefixo": "espelho", "endpoint_url": srv.url}
    cfg = {
        **CFG,
        "seguranca": seguranca,
        "integracao": {"cloud_storage": {**nuvem, "habilitado": True}},
    }
    arq = tmp_path / "m.bin"
    dados = [os.urandom(300_000), os.urandom(300_000)]
    with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
        for d in dados:
            arq.write_bytes(d)
            g.criar_backup(arq, "patch")
        g.fixar_versao("m.bin", "1.0.0")
        assert g.eventos.esvaziar(30)
        fixada = g.repo.nomes.chave_fixada("m.bin", "1.0.0")  # keyed ids (cifrado)
    no_bucket = _chaves_bucket(srv, bucket)
    assert any(k.startswith("espelho/chaves/") for k in no_bucket), no_bucket
    assert f"espelho/{fixada}" in no_bucket
    # A new machine: empty state, the key file and the public key only.
    nova = {
        **CFG,
        "seguranca": {
            "criptografia": seguranca["criptografia"],
            "assinatura": {
                "habilitada": True,
                "chave_publica": par["chave_publica"],
                "obrigatoria": True,
            },
        },
    }
    arq_cfg = tmp_path / "nova.json"
    arq_cfg.write_text(json.dumps(nova))
    env = {**srv.ambiente(), "XDG_CACHE_HOME": str(tmp_path / "nova_cache")}
    base = ["--base", f"s3://{bucket}/espelho", "--config", str(arq_cfg)]
    r = cli("verificar", *base, "--completa", env=env)
    assert r.returncode == 0, r.stderr
    for versao, d in zip(("1.0.0", "1.0.1"), dados, strict=True):
        destino = tmp_path / "restaurado" / versao / "m.bin"
        r = cli(
            "restaurar",
            *base,
            "--modelo",
            "m.bin",
            "--versao",
            versao,
            "--destino",
            str(destino),
            "--conferir-sha256",
            env=env,
        )
        assert r.returncode == 0, r.stderr
        assert destino.read_bytes() == d


def test_sincronizar_apagar_propaga_a_limpeza(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", srv.url)
    bucket = srv.novo_bucket()
    remoto = f"s3://{bucket}/copia"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(CFG))  # keeps 2 versions, grace 0
    repo = tmp_path / "repo"
    comum = ["--base", str(repo), "--config", str(cfg)]
    env = srv.ambiente()
    arq = tmp_path / "m.bin"
    for _ in range(4):
        arq.write_bytes(os.urandom(200_000))
        assert cli("backup", *comum, "--modelo", str(arq), env=env).returncode == 0
    r = cli("sincronizar", *comum, "--remoto", remoto, env=env)
    assert r.returncode == 0, r.stderr
    assert cli("limpeza", *comum, env=env).returncode == 0
    # Additive by default: what limpeza removed here stays in the bucket.
    r = cli("sincronizar", *comum, "--remoto", remoto, "--json", env=env)
    assert json.loads(r.stdout)["objetos_apagados"] == 0
    assert "copia/modelos/m.bin/1.0.0.json" in _chaves_bucket(srv, bucket)
    r = cli("sincronizar", *comum, "--remoto", remoto, "--apagar", "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["objetos_apagados"] >= 2
    no_bucket = _chaves_bucket(srv, bucket)
    sidecars = [k for k in no_bucket if k.endswith(".json") and "/modelos/" in k]
    ficaram = sorted(
        f"copia/{p.relative_to(repo)}" for p in (repo / "modelos").rglob("*.json")
    )
    assert sidecars == ficaram and "copia/modelos/m.bin/1.0.0.json" not in ficaram
    pacotes = {k.removeprefix("copia/") for k in no_bucket if "/pacotes/" in k}
    locais = {
        str(p.relative_to(repo)) for p in (repo / "pacotes").rglob("*") if p.is_file()
    }
    assert pacotes == locais
    assert not [k for k in no_bucket if "/travas/concessoes/" in k]
    r = cli("verificar", "--base", remoto, "--completa", env=env)
    assert r.returncode == 0, r.stderr


def test_limpeza_com_trava_quebrada_para_antes_de_apagar(tmp_path: Path) -> None:
    """Someone ran --quebrar-trava on a live collection: it stops before
    deleting any pack (backups may be writing again), and loses nothing."""
    from backup_versionamento.armazenamento.backends import BackendComFalhas
    from backup_versionamento.erros import ErroTrava

    repo = tmp_path / "repo"
    backend = BackendComFalhas(BackendLocal(repo))
    arq = tmp_path / "m.bin"
    with GerenciadorBackupVersionamento(repo, CFG, backend=backend) as g:
        for _ in range(4):
            arq.write_bytes(os.urandom(200_000))
            g.criar_backup(arq, "patch")
        pacotes = sorted((repo / "pacotes").rglob("*"))

        def quebrar(chave: str) -> None:
            if chave.startswith("modelos/"):  # retention runs: the lock vanishes
                (repo / "travas" / "limpeza.json").unlink(missing_ok=True)

        backend.antes_de_apagar(quebrar)
        with pytest.raises(ErroTrava, match="durante a limpeza"):
            g.limpeza()
        backend.antes_de_apagar(None)
        assert sorted((repo / "pacotes").rglob("*")) == pacotes
        assert g.verificar_integridade(completa=True)["ok"]
        r = g.limpeza()  # the next run finishes the job
        assert r["pacotes_removidos"] + r["pacotes_reempacotados"] > 0
