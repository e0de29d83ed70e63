"""S3: the repository in a bucket, shared by machines, and the mirror mode.

Everything talks to a real S3-compatible server (moto in server mode) bound to
127.0.0.1 on a free port; the CLI runs as real subprocesses. "Another machine"
is another process with its own per-machine state folder (XDG_CACHE_HOME), so
no flock on this machine serialises them.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto.server")

from backup_versionamento import GerenciadorBackupVersionamento, config
from backup_versionamento.armazenamento.backends import BackendComRetentativas
from backup_versionamento.armazenamento.backends.endereco import backend_para
from backup_versionamento.armazenamento.backends.reivindicacao import (
    BackendCriacaoSondada,
)
from backup_versionamento.armazenamento.backends.s3 import BackendS3
from backup_versionamento.armazenamento.trava_remota import (
    CHAVE_TRAVA_LIMPEZA,
    TravaRemota,
    ler_trava,
)
from backup_versionamento.erros import (
    ErroConfiguracao,
    ErroPermissao,
    ErroRepositorio,
    ErroTrava,
)

from .conftest import RAIZ, aleatorio, cli, escrever
from .s3_servidor import CREDENCIAIS, ServidorS3, porta_livre, servidor


@pytest.fixture
def srv(monkeypatch: pytest.MonkeyPatch) -> ServidorS3:
    s = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", s.url)  # in-process API calls too
    return s


@pytest.fixture
def base(srv: ServidorS3) -> str:
    return f"s3://{srv.novo_bucket()}/equipe/modelos"


def _cli(srv: ServidorS3, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {**srv.ambiente(), **kw.pop("env", {})}
    return cli(*args, env=env, **kw)


def _json(r: subprocess.CompletedProcess[str]) -> Any:
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _chaves(srv: ServidorS3, bucket: str) -> list[str]:
    pag = srv.cliente().get_paginator("list_objects_v2")
    return [
        o["Key"] for p in pag.paginate(Bucket=bucket) for o in p.get("Contents", [])
    ]


# --- configuration and addresses ----------------------------------------------------


def test_endereco_s3_mantido_na_config(tmp_path: Path) -> None:
    arq = tmp_path / "c.json"
    arq.write_text(json.dumps({"diretorios": {"base": "s3://balde-x/pre/fixo/"}}))
    cfg = config.carregar(arq)
    assert cfg["diretorios"]["base"] == "s3://balde-x/pre/fixo"
    assert cfg["diretorios"]["modelos"] == "s3://balde-x/pre/fixo/modelos"
    cfg = config.carregar(arq, base="s3://outro-balde")
    assert cfg["diretorios"]["base"] == "s3://outro-balde"
    arq.write_text(json.dumps({"diretorios": {"base": "s3://X_invalido/p"}}))
    with pytest.raises(ErroConfiguracao, match=r"diretorios\.base"):
        config.carregar(arq)
    arq.write_text(
        json.dumps({"integracao": {"cloud_storage": {"endpoint_url": "ftp://x"}}})
    )
    with pytest.raises(ErroConfiguracao, match="endpoint_url"):
        config.carregar(arq)


def test_backend_para_s3_usa_a_config(srv: ServidorS3) -> None:
    bucket = srv.novo_bucket()
    cfg = config.de_dicionario(
        {
            "integracao": {
                "cloud_storage": {"endpoint_url": srv.url, "regiao": "sa-east-1"}
            }
        }
    )
    b = backend_para(f"s3://{bucket}/a/b/", cfg)
    assert isinstance(b, BackendCriacaoSondada)
    assert isinstance(b.interno, BackendComRetentativas)
    assert b.descrever() == f"s3://{bucket}/a/b"
    assert b.exclusao_real is False and b.somente_leitura is False
    b.gravar("modelos/m/1.0.0.json", b"{}")
    assert _chaves(srv, bucket) == ["a/b/modelos/m/1.0.0.json"]


def test_multipart_e_intervalos(srv: ServidorS3) -> None:
    b = BackendS3(
        srv.bucket_compartilhado(),
        "multipart",
        endpoint_url=srv.url,
        limiar_multipart=5 << 20,
        tamanho_parte=5 << 20,
    )
    contar = b.contar_requisicoes()
    dados = os.urandom(12 << 20)
    assert b.gravar("pacotes/aa/grande", [dados[:1000], dados[1000:]])
    # create + 3 parts + complete: it went up in parts.
    assert contar() == 5
    assert (
        b.ler_intervalo("pacotes/aa/grande", (5 << 20) - 3, 10)
        == (dados[(5 << 20) - 3 : (5 << 20) + 7])
    )
    assert b.ler("pacotes/aa/grande") == dados
    # Exclusive create never goes multipart: a conditional single PUT.
    assert not b.gravar("pacotes/aa/grande", b"x", exclusivo=True)


# --- the whole repository in S3 ------------------------------------------------------


def test_ciclo_completo_pela_cli(srv: ServidorS3, base: str, tmp_path: Path) -> None:
    v1 = escrever(tmp_path / "modelo.bin", aleatorio(3_000_000, 1))
    r = _json(_cli(srv, "backup", "--base", base, "--modelo", str(v1), "--json"))
    assert r["versao"] == "1.0.0"
    v1_sha = _sha(v1)
    escrever(v1, aleatorio(3_000_000, 2))
    r = _json(
        _cli(
            srv,
            "backup",
            "--base",
            base,
            "--modelo",
            str(v1),
            "--tipo-mudanca",
            "minor",
            "--json",
        )
    )
    assert r["versao"] == "1.1.0"
    modelos = _json(_cli(srv, "listar", "--base", base, "--json"))
    assert [m["modelo"] for m in modelos] == ["modelo.bin"]
    versoes = _json(
        _cli(srv, "listar", "--base", base, "--modelo", "modelo.bin", "--json")
    )
    assert [v["versao"] for v in versoes] == ["1.0.0", "1.1.0"]
    destino = tmp_path / "restaurado"
    r = _cli(
        srv,
        "restaurar",
        "--base",
        base,
        "--modelo",
        "modelo.bin",
        "--versao",
        "1.0.0",
        "--destino",
        f"{destino}/",
    )
    assert r.returncode == 0, r.stderr
    assert _sha(destino / "modelo.bin") == v1_sha
    ver = _json(_cli(srv, "verificar", "--base", base, "--completa", "--json"))
    assert ver["ok"] is True and ver["versoes_verificadas"] == 2
    comp = _json(
        _cli(
            srv,
            "comparar",
            "--base",
            base,
            "--modelo",
            "modelo.bin",
            "--de",
            "1.0.0",
            "--para",
            "1.1.0",
            "--json",
        )
    )
    assert comp
    st = _json(_cli(srv, "status", "--base", base, "--json"))
    assert st["base"] == base and st["versoes"] == 2 and st["espaco_livre"] is None
    # Logs of an s3:// repository live in this machine's state folder.
    assert Path(st["log"]).is_file()
    assert not (Path.cwd() / "s3:").exists()
    lim = _json(_cli(srv, "limpeza", "--base", base, "--json"))
    assert lim["simulado"] is False
    bucket = base.split("/")[2]
    assert CHAVE_TRAVA_LIMPEZA not in {
        k.split("/", 2)[-1] for k in _chaves(srv, bucket)
    }
    assert any(k.startswith("equipe/modelos/pacotes/") for k in _chaves(srv, bucket))


def test_tres_maquinas_ao_mesmo_tempo(
    srv: ServidorS3, base: str, tmp_path: Path
) -> None:
    """Three processes, three state folders, one model: every version lands."""
    arquivos = [
        escrever(tmp_path / f"m{i}" / "modelo.bin", aleatorio(1_500_000, 10 + i))
        for i in range(3)
    ]
    processos = []
    for i, arq in enumerate(arquivos):
        env = {
            **os.environ,
            **srv.ambiente(),
            "XDG_CACHE_HOME": str(tmp_path / f"maquina{i}"),
        }
        processos.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(RAIZ / "inicializar_backup.py"),
                    "backup",
                    "--base",
                    base,
                    "--modelo",
                    str(arq),
                    "--json",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    prometidas = {}
    for arq, p in zip(arquivos, processos, strict=True):
        saida, erro = p.communicate(timeout=120)
        assert p.returncode == 0, erro
        prometidas[json.loads(saida)["versao"]] = _sha(arq)
    assert len(prometidas) == 3  # three distinct versions, none overwritten
    versoes = _json(
        _cli(srv, "listar", "--base", base, "--modelo", "modelo.bin", "--json")
    )
    assert sorted(v["versao"] for v in versoes) == sorted(prometidas)
    for versao, sha in prometidas.items():
        destino = tmp_path / "r" / versao
        r = _cli(
            srv,
            "restaurar",
            "--base",
            base,
            "--modelo",
            "modelo.bin",
            "--versao",
            versao,
            "--destino",
            f"{destino}/",
        )
        assert r.returncode == 0, r.stderr
        assert _sha(destino / "modelo.bin") == sha
    assert _json(_cli(srv, "verificar", "--base", base, "--json"))["ok"] is True


def test_publicacao_recalcula_quando_outra_maquina_toma_a_versao(
    srv: ServidorS3, base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version this machine computed is taken meanwhile: it takes the next."""
    arq = escrever(tmp_path / "m.bin", aleatorio(200_000, 3))
    g = GerenciadorBackupVersionamento(base, {})
    try:
        outra = backend_para(base)
        original = g.repo.publicar
        chamadas = []

        def publicar_depois_da_outra(sidecar: Any) -> bool:
            if not chamadas:  # another machine publishes that very version first
                outra.gravar(
                    f"modelos/m.bin/{sidecar.versao}.json",
                    sidecar.bytes_canonicos(),
                    exclusivo=True,
                )
            chamadas.append(sidecar.versao)
            return original(sidecar)

        monkeypatch.setattr(g.repo, "publicar", publicar_depois_da_outra)
        assert g.criar_backup(arq, "patch") == "1.0.1"
        assert chamadas == ["1.0.0", "1.0.1"]
    finally:
        g.fechar()


# --- the collection lock object -----------------------------------------------------


def test_trava_de_limpeza_compartilhada(
    srv: ServidorS3, base: str, tmp_path: Path
) -> None:
    arq = escrever(tmp_path / "m.bin", aleatorio(100_000, 4))
    r = _cli(srv, "backup", "--base", base, "--modelo", str(arq))
    assert r.returncode == 0, r.stderr
    backend = backend_para(base)
    # Another machine's collection is running: limpeza refuses (exit 11).
    viva = TravaRemota(backend, renovacao_s=0.1)
    viva.adquirir()
    try:
        r = _cli(srv, "limpeza", "--base", base)
        assert r.returncode == 11, r.stderr
        assert "limpeza em andamento" in r.stderr
        time.sleep(0.3)  # refreshed meanwhile: still ours and live
        dados = ler_trava(backend)
        assert dados is not None and dados["id"] == viva.id and not dados["expirada"]
    finally:
        viva.liberar()
    assert ler_trava(backend) is None
    # A collector that died: its lock expires; reported, never broken silently.
    morta = TravaRemota(backend, validade_s=-1)
    morta.adquirir()
    morta._parar.set()
    r = _cli(srv, "limpeza", "--base", base)
    assert r.returncode == 11
    assert "expirada" in r.stderr and "--quebrar-trava" in r.stderr
    assert ler_trava(backend) is not None
    # A backup still works (no collection runs) and says so in the log.
    escrever(arq, aleatorio(100_000, 5))
    assert _cli(srv, "backup", "--base", base, "--modelo", str(arq)).returncode == 0
    r = _json(_cli(srv, "limpeza", "--base", base, "--quebrar-trava", "--json"))
    assert r["trava_removida"] is True and r["trava"]["pid"] == os.getpid()
    assert ler_trava(backend) is None
    assert _cli(srv, "limpeza", "--base", base).returncode == 0


def test_trava_remota_exclusiva(srv: ServidorS3, base: str) -> None:
    backend = backend_para(base)
    a = TravaRemota(backend)
    a.adquirir()
    with pytest.raises(ErroTrava, match="em andamento"):
        TravaRemota(backend).adquirir()
    a.liberar()
    b = TravaRemota(backend)
    b.adquirir()
    a.liberar()  # not a's anymore: b's lock stays
    assert ler_trava(backend)["id"] == b.id  # type: ignore[index]
    b.liberar()


# --- mirror mode ---------------------------------------------------------------


def test_espelho_envia_e_maquina_nova_restaura(srv: ServidorS3, tmp_path: Path) -> None:
    bucket = srv.novo_bucket()
    cfg = {
        "integracao": {
            "cloud_storage": {
                "habilitado": True,
                "bucket": bucket,
                "prefixo": "espelho",
                "endpoint_url": srv.url,
            }
        }
    }
    arq = escrever(tmp_path / "modelo.bin", aleatorio(2_000_000, 6))
    shas = []
    with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
        for semente in (6, 7):
            escrever(arq, aleatorio(2_000_000, semente))
            g.criar_backup(arq, "patch")
            shas.append(_sha(arq))
        g.fixar_versao("modelo.bin", "1.0.0")
        assert g.eventos.esvaziar(30)
        espelho = g.status()["integracoes"]["espelho"]
        assert espelho["destino"] == f"s3://{bucket}/espelho"
        assert espelho["ultimo_sucesso"] and not espelho["ultimo_erro"]
    chaves = _chaves(srv, bucket)
    assert "espelho/repositorio.json" in chaves
    assert "espelho/modelos/modelo.bin/1.0.0.fixada" in chaves
    assert not any("/logs/" in k for k in chaves)
    # A new machine with only the bucket and the keys: pull, then restore.
    nova = tmp_path / "maquina_nova"
    env = {"XDG_CACHE_HOME": str(nova / "cache")}
    r = _cli(
        srv,
        "sincronizar",
        "--receber",
        "--remoto",
        f"s3://{bucket}/espelho",
        "--base",
        str(nova / "repo"),
        "--json",
        env=env,
    )
    r_json = _json(r)
    assert r_json["objetos_copiados"] > 0
    for versao, sha in zip(("1.0.0", "1.0.1"), shas, strict=True):
        r = _cli(
            srv,
            "restaurar",
            "--base",
            str(nova / "repo"),
            "--modelo",
            "modelo.bin",
            "--versao",
            versao,
            "--destino",
            f"{nova}/r{versao}/",
            env=env,
        )
        assert r.returncode == 0, r.stderr
        assert _sha(nova / f"r{versao}" / "modelo.bin") == sha
    # Or straight from the bucket, no local copy at all.
    env = {"XDG_CACHE_HOME": str(nova / "cache2")}
    r = _cli(
        srv,
        "restaurar",
        "--base",
        f"s3://{bucket}/espelho",
        "--modelo",
        "modelo.bin",
        "--destino",
        f"{nova}/direto/",
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert _sha(nova / "direto" / "modelo.bin") == shas[1]
    # Nothing left to send: the listings agree.
    r = _json(
        _cli(
            srv,
            "sincronizar",
            "--base",
            str(tmp_path / "repo"),
            "--remoto",
            f"s3://{bucket}/espelho",
            "--simular",
            "--json",
        )
    )
    assert r["objetos_a_copiar"] == 0


def test_espelho_com_falha_nao_falha_o_backup(tmp_path: Path) -> None:
    cfg = {
        "integracao": {
            "cloud_storage": {
                "habilitado": True,
                "bucket": "balde-fora",
                "endpoint_url": f"http://127.0.0.1:{porta_livre()}",
            }
        }
    }
    arq = escrever(tmp_path / "m.bin", aleatorio(100_000, 8))
    import backup_versionamento.integracoes.espelho as espelho

    antes = espelho.ESPERA_INICIAL_S
    espelho.ESPERA_INICIAL_S = 0.01
    try:
        with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
            assert g.criar_backup(arq, "patch") == "1.0.0"
            assert g.eventos.esvaziar(30)
            st = g.status()["integracoes"]["espelho"]
    finally:
        espelho.ESPERA_INICIAL_S = antes
    assert st["ultimo_erro"] and "inacessível" in st["ultimo_erro"]["mensagem"]
    assert st["ultimo_sucesso"] is None


# --- failures: clear errors, nothing half-made -------------------------------------


@pytest.fixture
def servidor_proprio() -> Iterator[ServidorS3]:
    """A server of this test alone: it gets stopped and restarted."""
    s = ServidorS3().iniciar()
    yield s
    s.parar()


def test_servidor_cai_no_meio_do_envio(
    servidor_proprio: ServidorS3, tmp_path: Path
) -> None:
    srv = servidor_proprio
    bucket = srv.novo_bucket()
    base = f"s3://{bucket}/repo"
    arq = escrever(tmp_path / "grande.bin", aleatorio(48_000_000, 9))
    env = {**os.environ, **srv.ambiente()}
    p = subprocess.Popen(
        [
            sys.executable,
            str(RAIZ / "inicializar_backup.py"),
            "backup",
            "--base",
            base,
            "--modelo",
            str(arq),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cliente = srv.cliente()
    limite = time.monotonic() + 60
    while time.monotonic() < limite:  # stop once the first pack landed
        r = cliente.list_objects_v2(Bucket=bucket, Prefix="repo/pacotes/")
        if r.get("KeyCount", 0) > 0 or p.poll() is not None:
            break
        time.sleep(0.02)
    srv.parar()
    _saida, erro = p.communicate(timeout=120)
    assert p.returncode == 8, erro
    assert "inacessível" in erro and "Traceback" not in erro
    srv.iniciar()  # same port, same data (moto keeps its state in the process)
    assert not [k for k in _chaves(srv, bucket) if k.startswith("repo/modelos/")]
    r = cli(
        "backup", "--base", base, "--modelo", str(arq), "--json", env=srv.ambiente()
    )
    assert _json(r)["versao"] == "1.0.0"
    destino = tmp_path / "r"
    r = cli(
        "restaurar",
        "--base",
        base,
        "--modelo",
        "grande.bin",
        "--destino",
        f"{destino}/",
        env=srv.ambiente(),
    )
    assert r.returncode == 0, r.stderr
    assert _sha(destino / "grande.bin") == _sha(arq)


def _nada_local(pasta: Path, cache: Path) -> None:
    assert sorted(p.name for p in pasta.iterdir()) == ["m.bin"]
    assert not cache.exists() or not any(cache.rglob("*.sqlite"))


def test_bucket_inexistente(srv: ServidorS3, tmp_path: Path) -> None:
    arq = escrever(tmp_path / "m.bin", b"x" * 1000)
    r = _cli(
        srv,
        "backup",
        "--base",
        "s3://nao-existe-mesmo/p",
        "--modelo",
        str(arq),
        cwd=tmp_path,
    )
    assert r.returncode == 8, r.stderr
    assert "não existe" in r.stderr and "Traceback" not in r.stderr
    _nada_local(tmp_path, Path(os.environ["XDG_CACHE_HOME"]))


def test_endpoint_inacessivel(srv: ServidorS3, tmp_path: Path) -> None:
    arq = escrever(tmp_path / "m.bin", b"x" * 1000)
    url = f"http://127.0.0.1:{porta_livre()}"  # a closed port
    inicio = time.monotonic()
    r = cli(
        "backup",
        "--base",
        "s3://balde-qualquer/p",
        "--modelo",
        str(arq),
        cwd=tmp_path,
        env={**CREDENCIAIS, "AWS_ENDPOINT_URL": url},
    )
    assert r.returncode == 8, r.stderr
    assert "inacessível" in r.stderr and url in r.stderr
    assert time.monotonic() - inicio < 30
    _nada_local(tmp_path, Path(os.environ["XDG_CACHE_HOME"]))


def test_credenciais_erradas(tmp_path: Path) -> None:
    """A server that checks signatures (moto with auth on): the key is refused."""
    porta = porta_livre()
    servidor_auth = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(porta)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", porta), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{porta}"
        # The one unauthenticated action creates the bucket.
        import boto3

        boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(
            Bucket="balde-auth"
        )
        with pytest.raises(ErroPermissao, match="credenciais AWS recusadas"):
            BackendS3("balde-auth", "p", endpoint_url=url).ler("repositorio.json")
        arq = escrever(tmp_path / "m.bin", b"x" * 1000)
        env = {
            **CREDENCIAIS,
            "AWS_ENDPOINT_URL": url,
            "AWS_SECRET_ACCESS_KEY": "errada",
        }
        r = cli(
            "backup",
            "--base",
            "s3://balde-auth/p",
            "--modelo",
            str(arq),
            cwd=tmp_path,
            env=env,
        )
        assert r.returncode == 5, r.stderr
        assert "credenciais AWS recusadas" in r.stderr
        assert "errada" not in r.stderr + r.stdout  # secrets never printed
        _nada_local(tmp_path, Path(os.environ["XDG_CACHE_HOME"]))
    finally:
        servidor_auth.terminate()
        servidor_auth.wait(10)


def test_erros_permanentes_nao_sao_repetidos(srv: ServidorS3) -> None:
    b = BackendS3("nao-existe-tambem", "p", endpoint_url=srv.url)
    contar = b.contar_requisicoes()
    with pytest.raises(ErroRepositorio, match="não existe") as e:
        BackendComRetentativas(b).ler("repositorio.json")
    assert not isinstance(e.value, ErroPermissao)
    assert contar() == 1


def test_daemon_num_repositorio_s3(srv: ServidorS3, base: str, tmp_path: Path) -> None:
    """The daemon backs up a watched folder into s3:// and stops cleanly."""
    from .ajuda_automacao import escrever_config

    pasta = escrever(tmp_path / "modelos" / "inicial.pkl", b"x" * 500).parent
    t = time.time() - 3600
    os.utime(pasta / "inicial.pkl", (t, t))
    cfg = escrever_config(tmp_path, [pasta], {"diretorios": {"base": base}})
    r = _cli(srv, "iniciar", "--config", str(cfg), "--daemon", "--json")
    assert r.returncode == 0, r.stderr
    try:
        limite = time.monotonic() + 30
        versoes: list[Any] = []
        while time.monotonic() < limite and not versoes:
            r = _cli(
                srv, "listar", "--config", str(cfg), "--modelo", "inicial.pkl", "--json"
            )
            versoes = json.loads(r.stdout) if r.returncode == 0 else []
            time.sleep(0.2)
        assert [v["versao"] for v in versoes] == ["1.0.0"]
        st = _json(_cli(srv, "status", "--config", str(cfg), "--json"))
        assert st["daemon"]["rodando"] is True
    finally:
        parada = _cli(srv, "parar", "--config", str(cfg))
    assert parada.returncode == 0, parada.stderr


def test_backup_espera_limpeza_de_outra_maquina(
    srv: ServidorS3, base: str, tmp_path: Path
) -> None:
    """A live collection lock holds a backup before it publishes its version."""
    import threading

    arq = escrever(tmp_path / "m.bin", aleatorio(100_000, 11))
    backend = backend_para(base)
    with GerenciadorBackupVersionamento(base, {}) as g:
        trava = TravaRemota(backend)
        trava.adquirir()
        resultado: list[str] = []
        t = threading.Thread(
            target=lambda: resultado.append(g.criar_backup(arq, "patch")),
            name="backup-teste-espera",
        )
        t.start()
        try:
            time.sleep(1.5)
            assert t.is_alive() and not resultado
            assert not [
                c
                for c in _chaves(srv, base.split("/")[2])
                if ".json" in c and "/modelos/m.bin/" in c
            ]
        finally:
            trava.liberar()
        t.join(30)
    assert resultado == ["1.0.0"]


def test_limpeza_de_outra_maquina_durante_o_backup(
    srv: ServidorS3, base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collection that ran while we wrote removed packs we deduplicated against:
    the backup notices before publishing, publishes nothing and says to retry."""
    from backup_versionamento.armazenamento.trava_remota import CHAVE_ULTIMA_LIMPEZA

    x = aleatorio(600_000, 12)
    arq = escrever(tmp_path / "m.bin", x)
    backend = backend_para(base)
    with GerenciadorBackupVersionamento(base, {}) as g:
        g.criar_backup(arq, "patch")
        pacotes_x = [i.chave for i in backend.listar("pacotes/")]
        outro = escrever(tmp_path / "outro.bin", x)  # same bytes: all dedup hits
        original = g._backup._gravar_conteudo

        def gravar_e_outra_maquina_limpa(*a: Any, **k: Any) -> Any:
            conteudo = original(*a, **k)
            # Meanwhile, on another machine: 1.0.0 removed, its packs collected.
            backend.apagar("modelos/m.bin/1.0.0.json")
            for chave in pacotes_x:
                backend.apagar(chave)
            backend.gravar(CHAVE_ULTIMA_LIMPEZA, b'{"id": "outra", "expira_em_s": 0}')
            return conteudo

        monkeypatch.setattr(g._backup, "_gravar_conteudo", gravar_e_outra_maquina_limpa)
        with pytest.raises(ErroRepositorio, match="rode o backup de novo"):
            g.criar_backup(outro, "patch")
        assert not backend.existe("modelos/outro.bin/1.0.0.json")
        monkeypatch.undo()
        # The retry writes the chunks again and publishes a restorable version.
        assert g.criar_backup(outro, "patch") == "1.0.0"
        destino = g.restaurar_backup("outro.bin", "1.0.0", tmp_path / "r" / "outro.bin")
        assert Path(destino).read_bytes() == x


def test_limpeza_cancela_envios_em_partes_abandonados(srv: ServidorS3) -> None:
    b = BackendS3(srv.bucket_compartilhado(), "abandonados", endpoint_url=srv.url)
    cliente = srv.cliente()
    envio = cliente.create_multipart_upload(
        Bucket=b.bucket, Key="abandonados/pacotes/aa/morto"
    )
    cliente.upload_part(
        Bucket=b.bucket,
        Key="abandonados/pacotes/aa/morto",
        UploadId=envio["UploadId"],
        PartNumber=1,
        Body=b"x" * 1000,
    )
    # moto reports every upload as initiated in 2010, so the age limit (young
    # uploads may belong to a live writer) cannot be exercised here.
    assert BackendComRetentativas(b).limpar_temporarios(0) == (1, 0)
    restantes = cliente.list_multipart_uploads(Bucket=b.bucket, Prefix="abandonados/")
    assert not restantes.get("Uploads")
    assert [i.chave for i in b.listar("")] == []  # never visible as an object


def test_sincronizar_recusa_bucket_de_outro_repositorio(
    srv: ServidorS3, tmp_path: Path
) -> None:
    bucket = srv.novo_bucket()
    arq = escrever(tmp_path / "m.bin", aleatorio(50_000, 13))
    for nome in ("a", "b"):
        with GerenciadorBackupVersionamento(tmp_path / nome, {}) as g:
            g.criar_backup(arq, "patch")
    remoto = f"s3://{bucket}/p"
    r = _cli(srv, "sincronizar", "--base", str(tmp_path / "a"), "--remoto", remoto)
    assert r.returncode == 0, r.stderr
    antes = _chaves(srv, bucket)
    r = _cli(srv, "sincronizar", "--base", str(tmp_path / "b"), "--remoto", remoto)
    assert r.returncode == 8
    assert "já guarda outro repositório" in r.stderr
    assert _chaves(srv, bucket) == antes


def test_limpeza_diz_o_que_a_carencia_segurou(
    srv: ServidorS3, base: str, tmp_path: Path
) -> None:
    """Issue 12, item 15: a collection that freed nothing because of the grace
    period says what it kept, why, and the option that changes it."""
    m = tmp_path / "m.bin"
    for i in range(2):
        m.write_bytes(os.urandom(300_000) + bytes([i]))
        assert _cli(srv, "backup", "--base", base, "--modelo", str(m)).returncode == 0
    cfg = tmp_path / "cfg.json"
    cfg.write_text(
        json.dumps({"retencao": {"por_quantidade": {"maximo_versoes_por_modelo": 1}}})
    )
    r = _cli(srv, "limpeza", "--base", base, "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "1 versão removida" in r.stdout
    assert "pela carência de 60 min" in r.stdout
    assert "retencao.carencia_coleta_minutos" in r.stdout
