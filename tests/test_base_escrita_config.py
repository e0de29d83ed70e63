"""Issue 20: one atomic write for every writer, each config section in its domain."""

from __future__ import annotations

import inspect
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from backup_versionamento import config, registro
from backup_versionamento.armazenamento import configuracao as cfg_armazenamento
from backup_versionamento.armazenamento.backends.local import BackendLocal
from backup_versionamento.armazenamento.fluxo import ler_trechos
from backup_versionamento.armazenamento.repositorio import Repositorio
from backup_versionamento.arvore.escrita import restaurar
from backup_versionamento.automacao import configuracao as cfg_automacao
from backup_versionamento.base import padroes
from backup_versionamento.base.escrita import escrever_atomico
from backup_versionamento.erros import ErroConfiguracao, ErroCriptografia
from backup_versionamento.integracoes import configuracao as cfg_integracoes
from backup_versionamento.politica import retencao
from backup_versionamento.relatorios import configuracao as cfg_relatorios
from backup_versionamento.seguranca import configuracao as cfg_seguranca
from backup_versionamento.seguranca.assinatura import gerar_par
from backup_versionamento.seguranca.chaves import criar_arquivo_chave
from backup_versionamento.validacao import configuracao as cfg_validacao
from backup_versionamento.validacao import validador


def _temporarios(pasta: Path) -> list[str]:
    return [n for n in os.listdir(pasta) if n.endswith(".tmp")]


def test_escrita_exclusiva_nao_sobrescreve_nem_deixa_temporario(
    tmp_path: Path,
) -> None:
    alvo = tmp_path / "sub" / "arquivo"
    assert escrever_atomico(alvo, [b"um", memoryview(b"-dois")], exclusivo=True)
    assert alvo.read_bytes() == b"um-dois"
    assert not escrever_atomico(alvo, b"outro", exclusivo=True)
    assert alvo.read_bytes() == b"um-dois"
    assert escrever_atomico(alvo, b"novo")
    assert alvo.read_bytes() == b"novo"
    assert _temporarios(alvo.parent) == []


def test_escrita_que_falha_nao_deixa_temporario(tmp_path: Path) -> None:
    (tmp_path / "pasta").mkdir()
    (tmp_path / "pasta" / "dentro").write_bytes(b"x")
    with pytest.raises(OSError):  # a folder cannot be replaced by a file
        escrever_atomico(tmp_path / "pasta", b"dados")
    assert _temporarios(tmp_path) == []
    assert (tmp_path / "pasta" / "dentro").read_bytes() == b"x"


def test_modo_exato_ou_sob_a_umask(tmp_path: Path) -> None:
    antiga = os.umask(0o077)
    try:
        escrever_atomico(tmp_path / "exato", b"a", modo=0o644)
        escrever_atomico(tmp_path / "umask", b"a", modo=0o644, modo_exato=False)
    finally:
        os.umask(antiga)
    assert stat.S_IMODE((tmp_path / "exato").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "umask").stat().st_mode) == 0o600


def test_backend_local_grava_pela_escrita_comum(tmp_path: Path) -> None:
    b = BackendLocal(tmp_path / "repo")
    assert b.gravar("a/b/c", [b"12", b"34"], exclusivo=True)
    assert not b.gravar("a/b/c", b"outro", exclusivo=True)
    assert b.ler("a/b/c") == b"1234"
    assert _temporarios(tmp_path / "repo" / "a" / "b") == []


def test_chave_e_par_de_assinatura_nunca_sobrescrevem(tmp_path: Path) -> None:
    arq = tmp_path / "chaves" / "chave"
    chave = criar_arquivo_chave(arq)
    assert arq.read_bytes() == chave and len(chave) == 32
    assert stat.S_IMODE(arq.stat().st_mode) == 0o600
    with pytest.raises(ErroCriptografia, match="já existe"):
        criar_arquivo_chave(arq)
    assert arq.read_bytes() == chave
    privada, publica = gerar_par(tmp_path / "par")
    antes = privada.read_bytes(), publica.read_bytes()
    assert stat.S_IMODE(privada.stat().st_mode) == 0o600
    with pytest.raises(ErroConfiguracao, match="já existe"):
        gerar_par(tmp_path / "par")
    assert (privada.read_bytes(), publica.read_bytes()) == antes
    assert _temporarios(arq.parent) == [] and _temporarios(privada.parent) == []


def test_cada_secao_da_configuracao_vem_de_um_dominio() -> None:
    nomes = [s.nome for s in config.SECOES]
    assert list(config.PADRAO) == nomes and len(set(nomes)) == len(nomes)
    for secao in config.SECOES:
        assert config.PADRAO[secao.nome] is secao.padrao
        for caminho in [*secao.regras, *secao.tipos_alternativos]:
            assert caminho.split(".")[0] == secao.nome, caminho
    # The domains' own modules describe these sections; config.py assembles.
    assert config.RETENCAO is retencao.SECAO_CONFIG
    assert config.SEGURANCA is cfg_seguranca.SECAO_CONFIG
    assert config.INTEGRACAO is cfg_integracoes.SECAO_CONFIG
    assert config.DIRETORIOS is cfg_armazenamento.DIRETORIOS
    assert config.BACKUP_AUTOMATICO is cfg_automacao.SECAO_CONFIG
    assert config.VALIDACAO is cfg_validacao.SECAO_CONFIG
    assert config.DESENVOLVIMENTO is registro.SECAO_CONFIG
    assert config.RELATORIOS is cfg_relatorios.SECAO_CONFIG
    # The order of the file and of the problems reported.
    assert nomes == [
        "diretorios",
        "backup_automatico",
        "retencao",
        "validacao",
        "espaco_disco",
        "integracao",
        "seguranca",
        "performance",
        "desenvolvimento",
        "relatorios",
    ]
    # A domain's rule still reports with the key's full path, through config.
    with pytest.raises(ErroConfiguracao, match=r"retencao\.por_tempo\.ultimos_7_dias"):
        config.validar({"retencao": {"por_tempo": {"ultimos_7_dias": "anuais"}}})
    with pytest.raises(ErroConfiguracao) as erro:
        config.validar(
            {
                "relatorios": {"painel_porta": -1},
                "backup_automatico": {"tipo_mudanca": "nenhuma"},
            }
        )
    assert [p.split(":")[0] for p in erro.value.problemas] == [
        "backup_automatico.tipo_mudanca",
        "relatorios.painel_porta",
    ]


def test_um_padrao_de_threads() -> None:
    def padrao(funcao: Callable[..., object], nome: str) -> object:
        return inspect.signature(funcao).parameters[nome].default

    assert config.PADRAO["performance"]["threads_backup"] == padroes.THREADS_BACKUP
    assert (
        config.PADRAO["performance"]["threads_compressao"] == padroes.THREADS_COMPRESSAO
    )
    assert padrao(Repositorio.__init__, "threads") == padroes.THREADS_BACKUP
    assert (
        padrao(Repositorio.__init__, "threads_compressao") == padroes.THREADS_COMPRESSAO
    )
    assert padrao(ler_trechos, "threads") == padroes.THREADS_BACKUP
    assert padrao(restaurar, "threads") == padroes.THREADS_BACKUP


def test_um_padrao_de_desempenho_e_de_validacao() -> None:
    perf = config.PADRAO["performance"]
    assinatura = inspect.signature(Repositorio.__init__).parameters
    assert perf["buffer_size_mb"] == padroes.BUFFER_MB
    assert assinatura["buffer_mb"].default == padroes.BUFFER_MB
    assert perf["cache_size_mb"] == assinatura["cache_mb"].default == padroes.CACHE_MB
    assert (
        perf["nivel_compressao"]
        == assinatura["nivel_compressao"].default
        == padroes.NIVEL_COMPRESSAO
    )
    validacao = config.PADRAO["validacao"]
    assert validacao["tempo_limite_segundos"] == padroes.TEMPO_LIMITE_VALIDACAO_S
    assert validacao["memoria_limite_mb"] == padroes.MEMORIA_LIMITE_VALIDACAO_MB
    assert validador.TEMPO_LIMITE_PADRAO == padroes.TEMPO_LIMITE_VALIDACAO_S
