"""Aliases: a registry of named versions with an append-only, authenticated history.

Real repositories (local folder and a moto S3 server on loopback), the CLI as a
real subprocess, real git for the integration.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import pwd
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.aliases import chave_entrada
from backup_versionamento.erros import (
    ErroAcessoNegado,
    ErroArgumento,
    ErroConfiguracao,
    ErroIntegridade,
    ErroVersaoNaoEncontrada,
)
from backup_versionamento.integracoes import ler_atividade
from backup_versionamento.politica.retencao import PoliticaRetencao, aplicar_politica
from backup_versionamento.relatorios import gerar_relatorio

from . import ajuda_cifra
from .conftest import RAIZ, aleatorio, cli, cli_json, escrever

# The CLI as tests/conftest.py runs it (through the hook in the encrypted rerun).
PROGRAMA = "tests/ajuda_cifra.py" if ajuda_cifra.ligada() else "inicializar_backup.py"

CFG: dict[str, Any] = {
    "validacao": {"modo": "desligado"},
    "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
}


def _tres_versoes(tmp_path: Path, g: GerenciadorBackupVersionamento) -> Path:
    m = tmp_path / "src" / "m.h5"
    for i, tipo in enumerate(("patch", "minor", "minor")):
        escrever(m, aleatorio(50_000, i))
        g.criar_backup(m, tipo)
    return m


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# --- API ------------------------------------------------------------------------


def test_api_definir_resolver_historico_remover(tmp_path: Path) -> None:
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        m = _tres_versoes(tmp_path, g)  # 1.0.0, 1.1.0, 1.2.0 (this one on disk)
        assert g.aliases("m.h5") == {}
        assert g.definir_alias("m.h5", "producao", "1.1.0", motivo="validado") == (
            "1.1.0"
        )
        assert g.definir_alias("m.h5", "candidato", "ultima") == "1.2.0"
        assert g.definir_alias("m.h5", "producao", "@candidato", "promovido") == (
            "1.2.0"
        )
        assert g.aliases("m.h5") == {"producao": "1.2.0", "candidato": "1.2.0"}
        # Setting it to where it already points writes nothing new.
        g.definir_alias("m.h5", "producao", "1.2.0")
        hist = g.historico_alias("m.h5", "producao")
        assert [(h["versao_anterior"], h["versao"], h["motivo"]) for h in hist] == [
            (None, "1.1.0", "validado"),
            ("1.1.0", "1.2.0", "promovido"),
        ]
        for h in hist:
            assert h["usuario"] and h["host"] and h["criado_em"].endswith("Z")
            assert h["acao"] == "definir" and h["assinada"] is False

        # @alias wherever a version is taken.
        out = g.restaurar_backup("m.h5", "@producao", tmp_path / "out")
        assert _sha(Path(out)) == _sha(m)
        assert g.obter_versao("m.h5", "@producao")["versao"] == "1.2.0"
        comp = g.comparar_versoes("m.h5", "1.0.0", "@producao")
        assert comp["b"] == "1.2.0"
        assert g.fixar_versao("m.h5", "@candidato") == "1.2.0"

        assert g.remover_alias("m.h5", "producao", "rollback") == "1.2.0"
        assert g.aliases("m.h5") == {"candidato": "1.2.0"}
        ultima = g.historico_alias("m.h5", "producao")[-1]
        assert (ultima["acao"], ultima["versao"], ultima["versao_anterior"]) == (
            "remover",
            None,
            "1.2.0",
        )
        with pytest.raises(ErroVersaoNaoEncontrada, match=r"@producao .* removido"):
            g.restaurar_backup("m.h5", "@producao", tmp_path / "out2")
        assert not (tmp_path / "out2").exists()
        listagem = {a["alias"]: a for a in g.listar_aliases("m.h5")}
        assert listagem["producao"]["versao"] is None
        assert len(listagem["producao"]["historico"]) == 3


def test_api_recusa_o_que_nao_existe_e_nomes_invalidos(tmp_path: Path) -> None:
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        _tres_versoes(tmp_path, g)
        for ruim in ("prod ução", "", "a/b", "@x", "..", "x" * 65, 3):
            with pytest.raises(ErroArgumento, match="alias"):
                g.definir_alias("m.h5", ruim, "1.0.0")  # type: ignore[arg-type]
        with pytest.raises(ErroVersaoNaoEncontrada, match=r"versão 9\.9\.9"):
            g.definir_alias("m.h5", "producao", "9.9.9")
        with pytest.raises(ErroVersaoNaoEncontrada, match=r"@nada .*não existe"):
            g.restaurar_backup("m.h5", "@nada", tmp_path / "out")
        with pytest.raises(ErroArgumento, match="não aponta"):
            g.remover_alias("m.h5", "producao")
        with pytest.raises(ErroVersaoNaoEncontrada, match="não tem o alias"):
            g.historico_alias("m.h5", "producao")
        with pytest.raises(ErroArgumento, match="motivo"):
            g.definir_alias("m.h5", "producao", "1.0.0", motivo="a\x1b[2J")
    # nothing was written for any refused call
    assert not list((tmp_path / "repo" / "modelos" / "m.h5").glob("aliases/**/*.json"))


# --- history: order, chain, authentication, signatures ----------------------------


def test_escritores_simultaneos_entram_todos_em_ordem_definida(tmp_path: Path) -> None:
    """Eight managers (own state each) move one alias at once: no move is lost,
    and each entry's previous version is the one before it in the history."""
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, CFG) as g:
        _tres_versoes(tmp_path, g)
    versoes = ["1.0.0", "1.1.0", "1.2.0"]
    largada = threading.Barrier(8)
    erros: list[BaseException] = []

    def mover(i: int) -> None:
        try:
            with GerenciadorBackupVersionamento(repo, CFG) as g:
                largada.wait()
                for j in range(4):
                    g.definir_alias(
                        "m.h5", "producao", versoes[(i + j) % 3], f"{i}.{j}"
                    )
        except BaseException as e:
            erros.append(e)

    threads = [threading.Thread(target=mover, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not erros, erros
    with GerenciadorBackupVersionamento(repo, CFG) as g:
        hist = g.historico_alias("m.h5", "producao")
    # Moves to the version it already pointed at write nothing; every other one
    # is there once, in a chain where each previous is the entry before.
    assert [h["sequencia"] for h in hist] == list(range(1, len(hist) + 1))
    for antes, depois in itertools.pairwise(hist):
        assert depois["versao_anterior"] == antes["versao"]
        assert depois["versao"] != antes["versao"]
    assert hist[0]["versao_anterior"] is None
    assert len(hist) >= 8


def test_historico_adulterado_e_recusado(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, CFG) as g:
        _tres_versoes(tmp_path, g)
        for v in ("1.0.0", "1.1.0", "1.2.0"):
            g.definir_alias("m.h5", "producao", v)
    segunda = repo / chave_entrada("m.h5", "producao", 2)
    original = segunda.read_bytes()
    if g.repo.cabecalho.get("criptografia"):
        segunda.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        esperado = "recusado"
    else:
        dados = json.loads(original)
        dados["versao"] = "1.2.0"
        segunda.write_bytes(
            json.dumps(dados, sort_keys=True, separators=(",", ":")).encode()
        )
        esperado = "não encadeia"
    with (
        GerenciadorBackupVersionamento(repo, CFG) as g,
        pytest.raises(ErroIntegridade, match=esperado),
    ):
        g.historico_alias("m.h5", "producao")
    with GerenciadorBackupVersionamento(repo, CFG) as g:
        rel = g.verificar_integridade()
    assert rel["ok"] is False and rel["versoes_com_problema"] == ["m.h5 @producao"]
    assert rel["problemas"][0]["tipo"] == "alias"
    segunda.unlink()  # a removed middle entry
    with (
        GerenciadorBackupVersionamento(repo, CFG) as g,
        pytest.raises(ErroIntegridade, match=r"nº 2 .* ausente"),
    ):
        g.historico_alias("m.h5", "producao")


def test_cifrado_e_assinado(tmp_path: Path) -> None:
    r = cli("chaves", "gerar-assinatura", "--saida", str(tmp_path / "ass"), "--json")
    assert r.returncode == 0, r.stderr
    par = json.loads(r.stdout)
    cfg = {
        **CFG,
        "seguranca": {
            "criptografia": {
                "habilitada": True,
                "chave_arquivo": str(tmp_path / "chaves" / "chave"),
            },
            "assinatura": {
                "habilitada": True,
                "chave_privada": par["chave_privada"],
                "chave_publica": par["chave_publica"],
                "obrigatoria": True,
            },
        },
    }
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        _tres_versoes(tmp_path, g)
        g.definir_alias("m.h5", "producao", "1.1.0", "motivo-secreto-xyz")
        g.definir_alias("m.h5", "producao", "1.2.0")
        assert all(h["assinada"] for h in g.historico_alias("m.h5", "producao"))
        nomes = g.repo.nomes
    entrada = repo / chave_entrada("m.h5", "producao", 2, nomes)
    bruto = entrada.read_bytes()
    primeira = repo / chave_entrada("m.h5", "producao", 1, nomes)
    assert b"motivo-secreto-xyz" not in primeira.read_bytes()
    assert b"1.2.0" not in bruto  # sealed: nothing readable
    # An entry moved into another slot fails authentication (AAD binds the place).
    entrada.write_bytes(primeira.read_bytes())
    with (
        GerenciadorBackupVersionamento(repo, cfg) as g,
        pytest.raises(ErroIntegridade, match="recusado"),
    ):
        g.aliases("m.h5")
    entrada.write_bytes(bruto)
    # A machine with only the public key reads and checks; one without signing
    # but with the key reads too.
    so_publica = json.loads(json.dumps(cfg))
    so_publica["seguranca"]["assinatura"]["chave_privada"] = ""
    with GerenciadorBackupVersionamento(repo, so_publica) as g:
        assert g.aliases("m.h5") == {"producao": "1.2.0"}
        # it cannot sign, and signatures are required: its move is refused
        with pytest.raises(ErroConfiguracao, match="chave privada"):
            g.definir_alias("m.h5", "producao", "1.0.0")
        assert len(g.historico_alias("m.h5", "producao")) == 2
    # An unsigned entry slipped in (written by hand) is refused on read.
    sem_assinatura = json.loads(json.dumps(cfg))
    sem_assinatura["seguranca"]["assinatura"].update(
        habilitada=False, obrigatoria=False
    )
    with GerenciadorBackupVersionamento(repo, sem_assinatura) as g:
        g.definir_alias("m.h5", "producao", "1.0.0")
    with (
        GerenciadorBackupVersionamento(repo, so_publica) as g,
        pytest.raises(ErroIntegridade, match="sem assinatura"),
    ):
        g.aliases("m.h5")


# --- events, journal, git, webhook config ----------------------------------------


def test_eventos_e_diario(tmp_path: Path) -> None:
    recebidos: list[tuple[str, dict[str, Any]]] = []
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        _tres_versoes(tmp_path, g)
        g.inscrever(lambda nome, dados: recebidos.append((nome, dados)))
        g.definir_alias("m.h5", "producao", "1.0.0", "primeiro")
        g.definir_alias("m.h5", "producao", "1.1.0")
        g.remover_alias("m.h5", "producao", "saiu")
        g.eventos.esvaziar(10)
        pasta_logs = g.pasta_logs
    nomes = [n for n, _ in recebidos]
    assert nomes == ["alias_definido", "alias_definido", "alias_removido"]
    assert recebidos[1][1] == {
        "modelo": "m.h5",
        "alias": "producao",
        "versao": "1.1.0",
        "versao_anterior": "1.0.0",
        "usuario": recebidos[1][1]["usuario"],
        "host": recebidos[1][1]["host"],
        "motivo": "",
        "sequencia": 2,
    }
    assert recebidos[2][1]["versao"] is None
    assert recebidos[2][1]["versao_anterior"] == "1.1.0"
    diario = [e["evento"] for e in ler_atividade(pasta_logs)]
    assert diario.count("alias_definido") == 2 and "alias_removido" in diario
    # the audit log (access control on) records who moved what
    cfg_aud = {
        **CFG,
        "seguranca": {
            "controle_acesso": {
                "habilitado": True,
                "usuarios_autorizados": [pwd.getpwuid(os.geteuid()).pw_name],
            }
        },
    }
    with GerenciadorBackupVersionamento(tmp_path / "repo", cfg_aud) as g:
        g.definir_alias("m.h5", "producao", "1.2.0", "auditado")
    auditoria = [
        json.loads(x)
        for x in (tmp_path / "repo" / "logs" / "auditoria.jsonl")
        .read_text()
        .splitlines()
    ]
    assert (auditoria[-1]["acao"], auditoria[-1]["alvo"]) == (
        "alias_definido",
        "m.h5 @producao 1.2.0",
    )
    assert auditoria[-1]["detalhe"] == "auditado"


def test_webhook_recebe_os_movimentos(tmp_path: Path) -> None:
    from .ajuda_automacao import esperar
    from .test_webhooks import Receptor

    receptor = Receptor()
    try:
        cfg = {
            **CFG,
            "integracao": {
                "webhook": {
                    "habilitado": True,
                    "url": receptor.url("/registro"),
                    "eventos": ["alias_definido", "alias_removido"],
                }
            },
        }
        with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
            _tres_versoes(tmp_path, g)
            g.definir_alias("m.h5", "producao", "1.1.0", "aprovado")
            g.remover_alias("m.h5", "producao")
            esperar(lambda: len(receptor.pedidos) == 2, mensagem="2 entregas")
    finally:
        receptor.fechar()
    cargas = [json.loads(p["corpo"]) for p in receptor.pedidos]
    assert [c["evento"] for c in cargas] == ["alias_definido", "alias_removido"]
    assert cargas[0]["dados"]["versao"] == "1.1.0"
    assert cargas[0]["dados"]["motivo"] == "aprovado"
    assert cargas[1]["dados"]["versao_anterior"] == "1.1.0"


def test_git_registra_cada_movimento_na_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.resolve()))
    for nome in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(nome, "Teste")
    for nome in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(nome, "teste@example.invalid")
    projeto = tmp_path / "projeto"
    projeto.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=projeto, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q", "-b", "principal")
    cfg = {**CFG, "integracao": {"git": {"habilitada": True}}}
    with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
        m = projeto / "m.h5"
        escrever(m, b"a")
        g.criar_backup(m)
        escrever(m, b"b")
        g.criar_backup(m, "minor")
        g.definir_alias("m.h5", "producao", "1.0.0", "primeira")
        g.definir_alias("m.h5", "producao", "1.1.0", "melhor")
        g.remover_alias("m.h5", "producao")
        g.eventos.esvaziar(30)
    mensagens = git("log", "--format=%s", "backups").splitlines()
    assert mensagens[:3] == [
        "m.h5 @producao -> (removido)",
        "m.h5 @producao -> 1.1.0",
        "m.h5 @producao -> 1.0.0",
    ]
    estado = json.loads(git("show", "backups~1:m.h5/aliases/producao.json"))
    assert estado["versao"] == "1.1.0" and estado["versao_anterior"] == "1.0.0"
    assert estado["motivo"] == "melhor"


# --- retention --------------------------------------------------------------------


def test_retencao_nunca_remove_versao_com_alias() -> None:
    agora = datetime(2026, 6, 1, tzinfo=timezone.utc)
    versoes = [
        {
            "versao": f"1.{i}.0",
            "criado_em": (agora - timedelta(days=200 - i)).isoformat(),
        }
        for i in range(3)
    ]
    politica = PoliticaRetencao(maximo_versoes=1)
    sem = aplicar_politica(versoes, politica, agora)
    assert [d.manter for d in sem] == [False, False, True]
    com = aplicar_politica(versoes, politica, agora, {"1.0.0": ["producao", "a-b"]})
    assert [d.manter for d in com] == [True, False, True]
    assert com[0].motivos == [
        "apontada pelo alias @a-b",
        "apontada pelo alias @producao",
    ]


def test_limpeza_mantem_versao_com_alias_e_diz_por_que(tmp_path: Path) -> None:
    cfg = {**CFG, "retencao": {"por_quantidade": {"maximo_versoes_por_modelo": 1}}}
    with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
        _tres_versoes(tmp_path, g)
        g.definir_alias("m.h5", "producao", "1.0.0")
        r = g.limpeza()
        assert r["versoes_removidas"] == ["m.h5 1.1.0"]
        motivos = {d["versao"]: d["motivos"] for d in r["modelos"]["m.h5"]}
        assert "apontada pelo alias @producao" in motivos["1.0.0"]
        assert [v["versao"] for v in g.listar_versoes("m.h5")] == ["1.0.0", "1.2.0"]
        assert g.restaurar_backup("m.h5", "@producao", tmp_path / "o")


# --- CLI --------------------------------------------------------------------------


def test_cli_alias(tmp_path: Path) -> None:
    repo = str(tmp_path / "repo")
    with GerenciadorBackupVersionamento(repo, CFG) as g:
        m = _tres_versoes(tmp_path, g)
    base = ("--base", repo)
    d = cli_json(
        "alias", "definir", *base, "--modelo", "m.h5", "--alias", "producao",
        "--versao", "1.1.0", "--motivo", "aprovado pelo time",
    )  # fmt: skip
    assert (d["versao"], d["versao_anterior"], d["alterado"]) == ("1.1.0", None, True)
    r = cli(
        "alias", "definir", *base, "--modelo", "m.h5", "--alias", "producao",
        "--versao", "1.2.0",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "@producao de m.h5 -> 1.2.0 (antes: 1.1.0)" in r.stdout
    r = cli(
        "alias", "definir", *base, "--modelo", "m.h5", "--alias", "produção",
        "--versao", "1.2.0",
    )  # fmt: skip
    assert r.returncode == 2
    assert "nome de alias inválido: 'produção'" in r.stderr
    assert "Traceback" not in r.stderr
    lista = cli_json("alias", "listar", *base, "--modelo", "m.h5")
    assert [(a["alias"], a["versao"]) for a in lista] == [("producao", "1.2.0")]
    assert [h["motivo"] for h in lista[0]["historico"]] == ["aprovado pelo time", ""]
    texto = cli("alias", "listar", *base).stdout
    assert "m.h5 @producao -> 1.2.0" in texto and "aprovado pelo time" in texto
    # @alias in restaurar, comparar, fixar; listar and status show aliases
    destino = tmp_path / "r"
    d = cli_json(
        "restaurar", *base, "--modelo", "m.h5", "--versao", "@producao",
        "--destino", f"{destino}/",
    )  # fmt: skip
    assert d["versao"] == "1.2.0" and _sha(destino / "m.h5") == _sha(m)
    d = cli_json("comparar", *base, "--modelo", "m.h5", "--de", "@producao")
    assert d["a"] == "1.2.0"
    d = cli_json("verificar", *base, "--modelo", "m.h5", "--versao", "@producao")
    assert d["ok"] is True and d["versoes_verificadas"] == 1
    r = cli("verificar", *base, "--versao", "@producao")
    assert r.returncode == 2 and "modelo" in r.stderr
    d = cli_json("fixar", *base, "--modelo", "m.h5", "--versao", "@producao")
    assert d["versao"] == "1.2.0"
    versoes = cli_json("listar", *base, "--modelo", "m.h5")
    assert [v["aliases"] for v in versoes] == [[], [], ["producao"]]
    assert "[@producao]" in cli("listar", *base, "--modelo", "m.h5").stdout
    assert cli_json("listar", *base)[0]["aliases"] == {"producao": "1.2.0"}
    assert cli_json("status", *base)["aliases"] == {"m.h5": {"producao": "1.2.0"}}
    assert "m.h5 @producao=1.2.0" in cli("status", *base).stdout
    r = cli("alias", "remover", *base, "--modelo", "m.h5", "--alias", "producao")
    assert r.returncode == 0 and "apontava para 1.2.0" in r.stdout
    r = cli("restaurar", *base, "--modelo", "m.h5", "--versao", "@producao")
    assert r.returncode == 6 and "@producao" in r.stderr and "removido" in r.stderr
    r = cli("alias", "remover", *base, "--modelo", "m.h5", "--alias", "producao")
    assert r.returncode == 2 and "não aponta" in r.stderr


# --- S3 ---------------------------------------------------------------------------


def test_s3_duas_maquinas_movem_o_mesmo_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("moto.server")
    from .s3_servidor import servidor

    srv = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", srv.url)
    base = f"s3://{srv.novo_bucket()}/equipe"
    with GerenciadorBackupVersionamento(base, CFG) as g:
        m = _tres_versoes(tmp_path, g)
    processos = []
    for i, versao in enumerate(("1.0.0", "1.1.0")):
        env = {
            **os.environ,
            **srv.ambiente(),
            "XDG_CACHE_HOME": str(tmp_path / f"maquina{i}"),
        }
        processos.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(RAIZ / PROGRAMA),
                    "alias",
                    "definir",
                    "--base",
                    base,
                    "--modelo",
                    "m.h5",
                    "--alias",
                    "producao",
                    "--versao",
                    versao,
                    "--motivo",
                    f"maquina {i}",
                    "--json",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for p in processos:
        _, erro = p.communicate(timeout=120)
        assert p.returncode == 0, erro
    with GerenciadorBackupVersionamento(base, CFG) as g:
        hist = g.historico_alias("m.h5", "producao")
        assert sorted(h["motivo"] for h in hist) == ["maquina 0", "maquina 1"]
        assert hist[0]["versao_anterior"] is None
        assert hist[1]["versao_anterior"] == hist[0]["versao"]
        atual = hist[1]["versao"]
        assert g.aliases("m.h5") == {"producao": atual}
        g.definir_alias("m.h5", "producao", "1.2.0")
        out = g.restaurar_backup("m.h5", "@producao", tmp_path / "out")
        assert _sha(Path(out)) == _sha(m)
    env = {**srv.ambiente(), "XDG_CACHE_HOME": str(tmp_path / "maquina3")}
    r = cli("alias", "listar", "--base", base, "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert [h["versao"] for h in json.loads(r.stdout)[0]["historico"]][-1] == "1.2.0"


def test_espelho_leva_o_historico(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local repository mirrored to S3: an alias move alone triggers the push."""
    pytest.importorskip("moto.server")
    from .s3_servidor import servidor

    srv = servidor()
    monkeypatch.setenv("AWS_ENDPOINT_URL", srv.url)
    bucket = srv.novo_bucket()
    nuvem = {"habilitado": True, "bucket": bucket, "prefixo": "esp"}
    cfg = {**CFG, "integracao": {"cloud_storage": {**nuvem, "endpoint_url": srv.url}}}
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        _tres_versoes(tmp_path, g)
        assert g.eventos.esvaziar(60)
        g.definir_alias("m.h5", "producao", "1.2.0", "espelhado")
        assert g.eventos.esvaziar(60)
    chave = chave_entrada("m.h5", "producao", 1)
    objeto = srv.cliente().get_object(Bucket=bucket, Key=f"esp/{chave}")
    assert objeto["Body"].read() == (repo / chave).read_bytes()


def test_relatorio_e_painel_mostram_os_aliases(tmp_path: Path) -> None:
    from backup_versionamento.relatorios.painel import escrever_painel

    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        _tres_versoes(tmp_path, g)
        g.definir_alias("m.h5", "producao", "1.1.0")
        arquivos = gerar_relatorio(g, tmp_path / "rel", formatos=("json", "html"))
        painel = escrever_painel(g, tmp_path / "painel.html")
    dados = json.loads(Path(arquivos["json"]).read_text())
    assert dados["modelos"][0]["aliases"] == {"producao": "1.1.0"}
    html = Path(arquivos["html"]).read_text()
    assert '1.1.0 <span class="alias">@producao</span>' in html
    assert "m.h5 @producao → 1.1.0" in painel.read_text()


def test_alias_definido_durante_a_limpeza_segura_a_versao(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The plan is made, then the cleanup waits for a running backup (which holds
    the repository lock); an alias set meanwhile still keeps its version."""
    from backup_versionamento.armazenamento.trava import travar

    cfg = {**CFG, "retencao": {"por_quantidade": {"maximo_versoes_por_modelo": 1}}}
    with GerenciadorBackupVersionamento(tmp_path / "repo", cfg) as g:
        _tres_versoes(tmp_path, g)
        resultado: dict[str, Any] = {}
        with travar(g.repo.caminho_trava("repositorio"), exclusiva=False):
            limpeza = threading.Thread(
                target=lambda: resultado.update(g.limpeza()), name="teste-limpeza"
            )
            limpeza.start()
            # Wait until the cleanup sits in the lock wait (its plan is made).
            limite = time.monotonic() + 60
            while time.monotonic() < limite:
                quadro = sys._current_frames().get(limpeza.ident or 0)
                nomes = []
                while quadro is not None:
                    nomes.append(quadro.f_code.co_name)
                    quadro = quadro.f_back
                if "travar" in nomes:
                    break
                time.sleep(0.01)
            else:
                pytest.fail("a limpeza não chegou a esperar a trava")
            g.definir_alias("m.h5", "producao", "1.0.0", "no meio da limpeza")
        limpeza.join(60)
        assert resultado["versoes_removidas"] == ["m.h5 1.1.0"]
        motivos = {d["versao"]: d["motivos"] for d in resultado["modelos"]["m.h5"]}
        assert motivos["1.0.0"] == ["apontada pelo alias @producao"]
        assert [v["versao"] for v in g.listar_versoes("m.h5")] == ["1.0.0", "1.2.0"]
    assert "alias definido durante a limpeza" in caplog.text


def test_mover_alias_exige_papel_admin(tmp_path: Path) -> None:
    eu = pwd.getpwuid(os.geteuid()).pw_name
    repo = tmp_path / "repo"
    with GerenciadorBackupVersionamento(repo, CFG) as g:
        _tres_versoes(tmp_path, g)
    cfg = {
        **CFG,
        "seguranca": {
            "controle_acesso": {
                "habilitado": True,
                "usuarios_autorizados": {eu: ["backup", "restaurar"]},
            }
        },
    }
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        with pytest.raises(ErroAcessoNegado):
            g.definir_alias("m.h5", "producao", "1.0.0")
        assert g.aliases("m.h5") == {}  # reading needs any role
    assert not list((repo / "modelos" / "m.h5").glob("aliases/**/*.json"))
