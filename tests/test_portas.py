"""Feature x door: the same promise from the API, the CLI and the daemon.

One engine, three doors (docs/PORTAS.md). Each row of the matrix runs one
action through one door, for real (the CLI and the daemon as subprocesses, a
repository in a folder or in S3 on a loopback moto server, a real HTTP
receiver), then reads every place that action must leave a trace: the
activity journal, the audit log, the webhook receiver and /metrics.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroBackup
from backup_versionamento.integracoes import ler_atividade
from backup_versionamento.relatorios import gerar_relatorio
from backup_versionamento.relatorios.metricas_prometheus import gerar
from backup_versionamento.relatorios.painel import Painel
from backup_versionamento.seguranca.acesso import usuario_atual

from .ajuda_automacao import DaemonPrimeiroPlano, esperar, versoes
from .ajuda_cifra import gravar_sidecar_json, ler_sidecar_json
from .conftest import cli, escrever
from .s3_servidor import servidor
from .test_webhooks import Receptor

PORTAS = ("api", "cli", "daemon")
PREFIXO = "backup_versionamento_"
# Exit code of each failure (docs: README_BACKUP.md, "Códigos de saída").
SAIDA = {"versao_desconhecida": 6, "assinatura_invalida": 9, "arquivo_ausente": 4}


@pytest.fixture
def receptor() -> Iterator[Receptor]:
    r = Receptor()
    yield r
    r.fechar()


@pytest.fixture(params=["local", "s3"])
def base(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    if request.param == "local":
        return str(tmp_path / "repo")
    srv = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", srv.url)  # this process and children
    return f"s3://{srv.novo_bucket()}/repo"


def _config(
    tmp_path: Path,
    base: str,
    receptor: Receptor,
    assinatura: dict[str, Any] | None = None,
) -> dict[str, Any]:
    seguranca: dict[str, Any] = {
        # the audit log is kept when access control is on
        "controle_acesso": {
            "habilitado": True,
            "usuarios_autorizados": [usuario_atual()],
        }
    }
    if assinatura:
        seguranca["assinatura"] = assinatura
    return {
        "diretorios": {"base": base},
        "validacao": {"modo": "desligado"},
        "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
        "relatorios": {"painel_porta": 0},
        "integracao": {
            "webhook": {
                "habilitado": True,
                "url": receptor.url("/"),
                "eventos": ["backup_criado", "backup_falhou", "restauracao_falhou"],
            }
        },
        "backup_automatico": {
            "diretorios_monitorados": [str(tmp_path / "observada")],
            "periodo_silencio_segundos": 0.3,
        },
        "seguranca": seguranca,
    }


def _arquivo(tmp_path: Path, cfg: dict[str, Any]) -> Path:
    arquivo = tmp_path / "config_backup.json"
    arquivo.write_text(json.dumps(cfg), encoding="utf-8")
    return arquivo


def _rastros(cfg: dict[str, Any]) -> dict[str, Any]:
    """What the repository's machine-side records say (read with webhooks off)."""
    sem_webhook = {**cfg, "integracao": {}}
    with GerenciadorBackupVersionamento(config=sem_webhook) as g:
        diario = [e["evento"] for e in ler_atividade(g.pasta_logs)]
        auditoria_arq = Path(g.pasta_logs) / "auditoria.jsonl"
        auditoria = [
            (e["acao"], e["resultado"])
            for e in map(json.loads, auditoria_arq.read_text().splitlines())
        ]
        texto = gerar(Painel(g)).decode()
    metricas = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(texto)
        for s in fam.samples
    }
    return {"diario": diario, "auditoria": auditoria, "metricas": metricas}


def _webhooks(receptor: Receptor) -> list[str]:
    return [json.loads(p["corpo"])["evento"] for p in receptor.pedidos]


# -- backup_criado: every door, local and S3 ------------------------------------


@pytest.mark.parametrize("porta", PORTAS)
def test_backup_criado_deixa_rastro_em_todo_lugar(
    porta: str, base: str, tmp_path: Path, receptor: Receptor
) -> None:
    cfg = _config(tmp_path, base, receptor)
    arquivo = _arquivo(tmp_path, cfg)
    modelo = tmp_path / "observada" / "m.pkl"
    if porta == "api":
        escrever(modelo, b"um")
        with GerenciadorBackupVersionamento(config=cfg) as g:
            g.criar_backup(modelo, "patch")
    elif porta == "cli":
        escrever(modelo, b"um")
        r = cli("backup", "--config", str(arquivo), "--modelo", str(modelo))
        assert r.returncode == 0, r.stderr
    else:
        (tmp_path / "observada").mkdir()
        daemon = DaemonPrimeiroPlano(arquivo)
        try:
            escrever(modelo, b"um")
            esperar(lambda: versoes(arquivo, "m.pkl"), 60, mensagem="versão do daemon")
        finally:
            assert daemon.parar() == 0
    # Delivered before the process (or the `with`) ended: no waiting here.
    assert "backup_criado" in _webhooks(receptor)
    r = _rastros(cfg)
    assert "backup_criado" in r["diario"]
    assert ("backup_criado", "sucesso") in r["auditoria"]
    duracao = (PREFIXO + "backup_duracao_segundos_count", (("modelo", "m.pkl"),))
    assert r["metricas"][duracao] == 1
    soma = (PREFIXO + "backup_duracao_segundos_sum", (("modelo", "m.pkl"),))
    assert r["metricas"][soma] > 0


# -- failures: every door that can ask for them --------------------------------


def _repositorio_com_versao(
    tmp_path: Path, cfg: dict[str, Any], extra: dict[str, Any] | None = None
) -> None:
    modelo = escrever(tmp_path / "m.pkl", b"um")
    with GerenciadorBackupVersionamento(config={**cfg, **(extra or {})}) as g:
        g.criar_backup(modelo, "patch")


def _assinatura(tmp_path: Path) -> dict[str, Any]:
    r = cli("chaves", "gerar-assinatura", "--saida", str(tmp_path / "ass"), "--json")
    assert r.returncode == 0, r.stderr
    par = json.loads(r.stdout)
    return {
        "habilitada": True,
        "chave_privada": par["chave_privada"],
        "chave_publica": par["chave_publica"],
    }


def _estragar_assinatura(base: str) -> None:
    """A sidecar edited after it was signed (in the folder or in the bucket)."""
    if base.startswith("s3://"):
        bucket, prefixo = base[len("s3://") :].split("/", 1)
        cliente = servidor().cliente()
        chave = f"{prefixo}/modelos/m.pkl/1.0.0.json"
        sc = json.loads(cliente.get_object(Bucket=bucket, Key=chave)["Body"].read())
        sc["descricao"] = "editada depois"
        cliente.put_object(Bucket=bucket, Key=chave, Body=json.dumps(sc).encode())
        return
    arquivo = Path(base) / "modelos" / "m.pkl" / "1.0.0.json"
    sidecar = ler_sidecar_json(arquivo)
    sidecar["descricao"] = "editada depois"
    gravar_sidecar_json(arquivo, sidecar)


@pytest.mark.parametrize("falha", ["versao_desconhecida", "assinatura_invalida"])
@pytest.mark.parametrize("porta", ["api", "cli"])
def test_restauracao_recusada_emite_restauracao_falhou(
    porta: str, falha: str, base: str, tmp_path: Path, receptor: Receptor
) -> None:
    assinatura = _assinatura(tmp_path) if falha == "assinatura_invalida" else None
    cfg = _config(tmp_path, base, receptor, assinatura)
    _repositorio_com_versao(tmp_path, cfg, {"integracao": {}})
    versao = "9.9.9"
    if falha == "assinatura_invalida":
        _estragar_assinatura(base)
        versao = "1.0.0"
    destino = tmp_path / "destino"
    if porta == "api":
        with GerenciadorBackupVersionamento(config=cfg) as g:
            with pytest.raises(ErroBackup) as e:
                g.restaurar_backup("m.pkl", versao, destino)
            assert e.value.codigo_saida == SAIDA[falha]
    else:
        r = cli(
            "restaurar",
            "--config",
            str(_arquivo(tmp_path, cfg)),
            "--modelo",
            "m.pkl",
            "--versao",
            versao,
            "--destino",
            str(destino),
        )
        assert r.returncode == SAIDA[falha], r.stderr
        assert "Traceback" not in r.stderr
    assert not destino.exists()
    assert _webhooks(receptor) == ["restauracao_falhou"]
    r = _rastros(cfg)
    assert "restauracao_falhou" in r["diario"]
    assert ("restauracao_falhou", "falha") in r["auditoria"]
    restauracoes = (PREFIXO + "restauracoes_total", (("resultado", "falha"),))
    assert r["metricas"][restauracoes] == 1


@pytest.mark.parametrize("porta", ["api", "cli"])
def test_backup_de_arquivo_ausente_emite_backup_falhou(
    porta: str, base: str, tmp_path: Path, receptor: Receptor
) -> None:
    cfg = _config(tmp_path, base, receptor)
    _repositorio_com_versao(tmp_path, cfg, {"integracao": {}})
    ausente = tmp_path / "sumiu.pkl"
    if porta == "api":
        with GerenciadorBackupVersionamento(config=cfg) as g:
            with pytest.raises(ErroBackup) as e:
                g.criar_backup(ausente, "patch")
            assert e.value.codigo_saida == SAIDA["arquivo_ausente"]
    else:
        r = cli(
            "backup", "--config", str(_arquivo(tmp_path, cfg)), "--modelo", str(ausente)
        )
        assert r.returncode == SAIDA["arquivo_ausente"], r.stderr
        assert "sumiu.pkl" in r.stderr and "Traceback" not in r.stderr
    assert _webhooks(receptor) == ["backup_falhou"]
    r = _rastros(cfg)
    assert "backup_falhou" in r["diario"]
    assert ("backup_falhou", "falha") in r["auditoria"]
    falhas = (PREFIXO + "falhas_backup_total", (("modelo", "sumiu.pkl"),))
    assert r["metricas"][falhas] == 1


def test_backup_de_arquivo_ausente_sem_repositorio_nao_cria_nada(
    tmp_path: Path, receptor: Receptor
) -> None:
    cfg = _config(tmp_path, str(tmp_path / "repo"), receptor)
    r = cli(
        "backup",
        "--config",
        str(_arquivo(tmp_path, cfg)),
        "--modelo",
        str(tmp_path / "sumiu.pkl"),
    )
    assert r.returncode == SAIDA["arquivo_ausente"], r.stderr
    assert not (tmp_path / "repo").exists()


# -- access control: a denied action writes nothing ----------------------------


@pytest.mark.parametrize("porta", ["api", "cli"])
def test_usuario_negado_nao_cria_repositorio(
    porta: str, tmp_path: Path, receptor: Receptor
) -> None:
    cfg = _config(tmp_path, str(tmp_path / "repo"), receptor)
    cfg["seguranca"]["controle_acesso"]["usuarios_autorizados"] = ["outra_pessoa"]
    modelo = escrever(tmp_path / "m.pkl", b"um")
    if porta == "api":
        with (
            pytest.raises(ErroBackup) as e,
            GerenciadorBackupVersionamento(config=cfg) as g,
        ):
            g.criar_backup(modelo, "patch")
        assert e.value.codigo_saida == 17
    else:
        r = cli(
            "backup", "--config", str(_arquivo(tmp_path, cfg)), "--modelo", str(modelo)
        )
        assert r.returncode == 17, r.stderr
        assert "acesso negado" in r.stderr and "Traceback" not in r.stderr
    repo = tmp_path / "repo"
    # No repository, no keys, no logs: nothing at all (also with encryption on).
    assert not repo.exists() or not any(repo.iterdir()), list(repo.rglob("*"))
    # In an existing repository the same denial is audited and writes no version.
    permitido = {**cfg, "seguranca": {}}
    _repositorio_com_versao(tmp_path, permitido, {"integracao": {}})
    escrever(modelo, b"dois")
    with (
        pytest.raises(ErroBackup),
        GerenciadorBackupVersionamento(config=cfg) as g,
    ):
        g.criar_backup(modelo, "patch")
    with GerenciadorBackupVersionamento(config=permitido) as g:
        assert [v["versao"] for v in g.listar_versoes("m.pkl")] == ["1.0.0"]
    entradas = (repo / "logs" / "auditoria.jsonl").read_text().splitlines()
    assert [json.loads(x)["resultado"] for x in entradas][-1] == "negado"


# -- the daemon watches only what is configured --------------------------------


def test_daemon_nao_guarda_arquivos_da_pasta_mae_de_monitorada_ausente(
    tmp_path: Path, receptor: Receptor
) -> None:
    projeto = tmp_path / "projeto"
    monitorada = projeto / "modelo"  # does not exist when the daemon starts
    projeto.mkdir()
    cfg = _config(tmp_path, str(tmp_path / "repo"), receptor)
    cfg["backup_automatico"]["diretorios_monitorados"] = [str(monitorada)]
    arquivo = _arquivo(tmp_path, cfg)
    daemon = DaemonPrimeiroPlano(arquivo)
    try:
        escrever(projeto / "fora.pkl", b"na pasta mae")
        monitorada.mkdir()
        escrever(monitorada / "dentro.pkl", b"na monitorada")
        esperar(lambda: versoes(arquivo, "dentro.pkl"), 60, mensagem="dentro.pkl")
        escrever(projeto / "fora.pkl", b"de novo")  # after the folder appeared
        escrever(monitorada / "depois.pkl", b"depois")
        esperar(lambda: versoes(arquivo, "depois.pkl"), 60, mensagem="depois.pkl")
    finally:
        assert daemon.parar() == 0
    assert versoes(arquivo, "fora.pkl") == []


# -- reports on an object store --------------------------------------------------


@pytest.mark.parametrize("porta", PORTAS)
def test_relatorio_de_repositorio_no_s3(
    porta: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", srv.url)
    base = f"s3://{srv.novo_bucket()}/repo"
    cfg = {"diretorios": {"base": base}, "validacao": {"modo": "desligado"}}
    with GerenciadorBackupVersionamento(config=cfg) as g:
        g.criar_backup(escrever(tmp_path / "m.pkl", b"um"), "patch")
    saida = tmp_path / "relatorios"
    if porta == "api":
        with GerenciadorBackupVersionamento(config=cfg) as g:
            gerar_relatorio(g, saida, formatos=("json", "html"))
    elif porta == "daemon":  # the daemon's daily job, as the scheduler calls it
        from backup_versionamento.relatorios import extras_do_daemon, pasta_padrao

        diario = {**cfg, "relatorios": {"painel_porta": 0}}
        with GerenciadorBackupVersionamento(config=diario) as g:
            tarefa = extras_do_daemon(g).relatorio
            assert tarefa is not None
            tarefa()
            saida = pasta_padrao(g)
    else:
        r = cli(
            "relatorio",
            "--base",
            base,
            "--saida",
            str(saida),
            "--formatos",
            "json,html",
            env=srv.ambiente(),
        )
        assert r.returncode == 0, r.stderr
    dados = json.loads((saida / "relatorio_diario.json").read_text())
    assert dados["repositorio"]["espaco_livre"] is None
    assert dados["crescimento"]["projecao"]["disco"] is None
    html = (saida / "relatorio_diario.html").read_text()
    assert "não se aplica (armazenamento de objetos)" in html


# -- a damaged version is shown as damaged by every door --------------------------


def _virar_um_byte(arquivo: Path) -> None:
    """One bit of a quote past the middle ('"' becomes '#'): never valid JSON."""
    dados = bytearray(arquivo.read_bytes())
    aspas = dados.find(b'"', len(dados) // 2)
    dados[aspas if aspas >= 0 else len(dados) // 2] ^= 0x01
    arquivo.write_bytes(bytes(dados))


def test_versao_danificada_aparece_como_danificada(tmp_path: Path) -> None:
    base = tmp_path / "repo"
    cfg = {"diretorios": {"base": str(base)}, "validacao": {"modo": "desligado"}}
    arquivo = _arquivo(tmp_path, cfg)
    with GerenciadorBackupVersionamento(config=cfg) as g:
        for conteudo in (b"um", b"dois"):
            g.criar_backup(escrever(tmp_path / "m.pkl", conteudo), "patch")
        g.criar_backup(escrever(tmp_path / "so.pkl", b"unica"), "patch")
        g.listar_versoes("m.pkl")  # the machine's cache knows both versions
    _virar_um_byte(base / "modelos" / "m.pkl" / "1.0.1.json")
    _virar_um_byte(base / "modelos" / "so.pkl" / "1.0.0.json")
    esperadas = [("m.pkl", "1.0.1"), ("so.pkl", "1.0.0")]

    with GerenciadorBackupVersionamento(config=cfg) as g:
        danificadas = [(d["modelo"], d["versao"]) for d in g.versoes_danificadas()]
        assert danificadas == esperadas
        st = g.status()
        assert [(d["modelo"], d["versao"]) for d in st["versoes_danificadas"]] == (
            esperadas
        )
        assert "so.pkl" in g.listar_modelos()
        from backup_versionamento.relatorios.painel import escrever_painel

        painel = escrever_painel(g, tmp_path / "painel.html").read_text()
    assert "DANIFICADA" in painel and "m.pkl 1.0.1" in painel

    def conferir_saida(r: Any) -> None:
        assert r.returncode == 9, r.stdout + r.stderr
        assert "Traceback" not in r.stderr
        assert "m.pkl 1.0.1" in r.stderr and "verificar" in r.stderr

    r = cli("listar", "--config", str(arquivo))
    conferir_saida(r)
    assert "m.pkl" in r.stdout and "so.pkl 1.0.0: DANIFICADA" in r.stdout
    r = cli("listar", "--config", str(arquivo), "--modelo", "m.pkl")
    conferir_saida(r)
    assert "1.0.0" in r.stdout and "m.pkl 1.0.1: DANIFICADA" in r.stdout
    r = cli("listar", "--config", str(arquivo), "--modelo", "m.pkl", "--json")
    conferir_saida(r)
    assert [v["versao"] for v in json.loads(r.stdout)] == ["1.0.0"]
    r = cli("status", "--config", str(arquivo))
    conferir_saida(r)
    assert "2 DANIFICADA(S)" in r.stdout
    saida = tmp_path / "relatorios"
    r = cli(
        "relatorio",
        "--config",
        str(arquivo),
        "--saida",
        str(saida),
        "--formatos",
        "json,html",
    )
    conferir_saida(r)
    dados = json.loads((saida / "relatorio_diario.json").read_text())
    assert [
        (d["modelo"], d["versao"]) for d in dados["repositorio"]["versoes_danificadas"]
    ] == esperadas
    assert "DANIFICADA" in (saida / "relatorio_diario.html").read_text()


# -- git integration: a commit per version, and none of the user's hooks ----------


def _git(pasta: Path, *args: str) -> str:
    r = subprocess.run(
        ["git", *args], cwd=pasta, check=True, capture_output=True, timeout=30
    )
    return r.stdout.decode().strip()


@pytest.mark.parametrize("porta", PORTAS)
def test_git_sem_hooks_em_toda_porta(
    porta: str, tmp_path: Path, receptor: Receptor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.resolve()))
    for nome in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(nome, "Teste")
    for nome in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(nome, "teste@example.invalid")
    projeto = tmp_path / "projeto"
    observada = projeto / "observada"
    observada.mkdir(parents=True)
    _git(projeto, "init", "-q", "-b", "principal")
    escrever(projeto / "treino.py", b"print(1)\n")
    _git(projeto, "add", "treino.py")
    _git(projeto, "commit", "-q", "-m", "primeiro")
    rastro = tmp_path / "hooks_rodaram.txt"
    for nome in ("reference-transaction", "post-index-change", "post-commit"):
        gancho = projeto / ".git" / "hooks" / nome
        gancho.write_text(f"#!/bin/sh\necho {nome} >> '{rastro}'\n")
        gancho.chmod(0o755)
    cfg = _config(tmp_path, str(tmp_path / "repo"), receptor)
    cfg["integracao"]["git"] = {"habilitada": True}
    cfg["backup_automatico"]["diretorios_monitorados"] = [str(observada)]
    arquivo = _arquivo(tmp_path, cfg)
    modelo = observada / "m.pkl"
    if porta == "api":
        escrever(modelo, b"um")
        with GerenciadorBackupVersionamento(config=cfg) as g:
            g.criar_backup(modelo, "patch")
    elif porta == "cli":
        escrever(modelo, b"um")
        r = cli("backup", "--config", str(arquivo), "--modelo", str(modelo))
        assert r.returncode == 0, r.stderr
    else:
        daemon = DaemonPrimeiroPlano(arquivo)
        try:
            escrever(modelo, b"um")
            esperar(lambda: versoes(arquivo, "m.pkl"), 60, mensagem="versão do daemon")
        finally:
            assert daemon.parar() == 0
    assert _git(projeto, "rev-list", "--count", "backups") == "1"
    assert not rastro.exists(), rastro.read_text()
