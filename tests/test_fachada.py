"""The facade: result objects and its table of use cases (issue 20)."""

from __future__ import annotations

import ast
import getpass
import inspect
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento, relatorios
from backup_versionamento.erros import ErroAcessoNegado
from backup_versionamento.gerenciador import (
    ResultadoBackup,
    ResultadoRestauracao,
    _Caso,
)

from .conftest import aleatorio, escrever

CASOS = {
    nome: linha
    for nome, linha in vars(GerenciadorBackupVersionamento).items()
    if isinstance(linha, _Caso)
}


def _acesso(*papeis: str) -> dict[str, Any]:
    return {
        "seguranca": {
            "controle_acesso": {
                "habilitado": True,
                "usuarios_autorizados": {getpass.getuser(): list(papeis)},
            }
        }
    }


def test_criar_e_restaurar_devolvem_o_texto_da_spec_com_os_detalhes(
    tmp_path: Path,
) -> None:
    m = escrever(tmp_path / "m.bin", aleatorio(4096))
    with GerenciadorBackupVersionamento(tmp_path / "repo", {}) as g:
        v = g.criar_backup(m, "patch")
        assert v == "1.0.0" and isinstance(v, str)
        assert (v.modelo, v.versao, v.nova_versao) == ("m.bin", "1.0.0", True)
        de_novo = g.criar_backup(m, "patch")  # same content: no new version
        assert de_novo == "1.0.0" and de_novo.nova_versao is False
        assert json.dumps({"v": v}) == '{"v": "1.0.0"}'
        copia = pickle.loads(pickle.dumps(v))
        assert type(copia) is ResultadoBackup
        assert (copia, copia.modelo, copia.nova_versao) == ("1.0.0", "m.bin", True)
        destino = g.restaurar_backup("m.bin", "1.0.0", tmp_path / "saida/")
        assert isinstance(destino, ResultadoRestauracao)
        assert destino == destino.caminho == str(tmp_path / "saida" / "m.bin")
        assert destino.tratado_como == "pasta" and "extensão" in destino.motivo
        assert Path(destino).read_bytes() == m.read_bytes()
        # The version and destination keep their defaults (the latest, ".").
        assert g.versao_a_restaurar("m.bin")["versao"] == "1.0.0"


def test_assinatura_da_spec_vem_do_servico(tmp_path: Path) -> None:
    """The spec's `criar_backup(caminho, tipo_mudanca, descricao, metricas=None,
    ...) -> str`, now taken from the service: a change there shows here."""
    with GerenciadorBackupVersionamento(tmp_path / "repo", {}) as g:
        params = list(inspect.signature(g.criar_backup).parameters.values())
        assert [p.name for p in params[:4]] == [
            "caminho",
            "tipo_mudanca",
            "descricao",
            "metricas",
        ]
        assert [p.default for p in params[1:4]] == ["patch", "", None]
        assert g.criar_backup.__name__ == "criar_backup"
        # Every row names a method of one of this facade's services.
        for nome, linha in CASOS.items():
            servico = g._servico(linha.metodo)
            proprio = inspect.signature(getattr(servico, linha.metodo.__name__))
            assert (
                inspect.signature(getattr(g, nome)).parameters == proprio.parameters
            ), nome


def test_cada_caso_exige_o_seu_papel_antes_de_fazer_qualquer_coisa(
    tmp_path: Path,
) -> None:
    m = escrever(tmp_path / "m.bin", aleatorio(4096))
    with GerenciadorBackupVersionamento(tmp_path / "repo", _acesso("admin")) as g:
        g.criar_backup(m, "patch")
    escrever(m, aleatorio(4096, 2))
    # Someone who may only restore: reading and restoring pass, the rest is
    # refused before the service runs (no argument is even looked at).
    with GerenciadorBackupVersionamento(tmp_path / "repo", _acesso("restaurar")) as g:
        negados = sorted(
            nome
            for nome, linha in CASOS.items()
            if linha.papel not in (None, "consulta", "restaurar")
        )
        assert {"criar_backup", "limpeza", "fixar_versao", "definir_alias"} <= set(
            negados
        )
        for nome in negados:
            with pytest.raises(ErroAcessoNegado):
                getattr(g, nome)()
        with pytest.raises(ErroAcessoNegado):
            g.criar_backup(m, "patch")
        assert [v["versao"] for v in g.listar_versoes("m.bin")] == ["1.0.0"]
        assert g.versao_a_restaurar("m.bin", "1.0.0", ".")["versao"] == "1.0.0"
    # Someone not listed at all may not even read.
    outro = {"seguranca": {"controle_acesso": {"habilitado": True}}}
    outro["seguranca"]["controle_acesso"]["usuarios_autorizados"] = {
        "outra_pessoa": ["admin"]
    }
    with (
        GerenciadorBackupVersionamento(tmp_path / "repo", outro) as g,
        pytest.raises(ErroAcessoNegado),
    ):
        g.listar_modelos()


# What the layers above may read on a facade besides its public methods.
ATRIBUTOS_PUBLICOS = {
    "config",
    "base",
    "pasta_estado",
    "pasta_saidas",
    "pasta_logs",
    "arquivo_log",
}


def _usos_da_fachada(arquivo: Path) -> set[str]:
    """Attributes read on `g`, `gerenciador`, `self.g` or `p.g` in a module."""
    nomes = {"g", "gerenciador"}
    usos = set()
    for no in ast.walk(ast.parse(arquivo.read_text(encoding="utf-8"))):
        if not isinstance(no, ast.Attribute):
            continue
        alvo = no.value
        e_fachada = isinstance(alvo, ast.Name) and alvo.id in nomes
        e_fachada |= isinstance(alvo, ast.Attribute) and alvo.attr == "g"
        if e_fachada:
            usos.add(no.attr)
    return usos


def test_relatorios_usam_so_o_que_a_fachada_publica() -> None:
    """docs/ARQUITETURA.md: reports and the dashboard sit above the facade and
    read it only through its public methods and a few public attributes."""
    publicos = ATRIBUTOS_PUBLICOS | {
        n
        for n, v in vars(GerenciadorBackupVersionamento).items()
        if not n.startswith("_") and (callable(v) or isinstance(v, _Caso))
    }
    pasta = Path(relatorios.__file__).parent
    # Modules that take a facade name its class (in their annotations).
    com_fachada = [
        arq
        for arq in pasta.glob("*.py")
        if "GerenciadorBackupVersionamento" in arq.read_text(encoding="utf-8")
    ]
    usados = {a: arq.name for arq in com_fachada for a in _usos_da_fachada(arq)}
    assert {"status", "listar_versoes", "pasta_logs"} <= set(usados)  # it reads
    fora = {a: arq for a, arq in usados.items() if a not in publicos}
    assert not fora, f"relatorios/ lê partes internas da fachada: {fora}"
