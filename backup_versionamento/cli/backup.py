"""`backup`: store a model file or folder as a new semantic version."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base.configuracao import ler_objeto_json
from ..erros import ErroArquivoNaoEncontrado, ErroBackup, ErroValidacao
from ..politica.versoes import AUTO, INCREMENTOS
from ..texto import seguro
from .comum import barra, gerenciador, imprimir, tamanho_legivel

if TYPE_CHECKING:
    from ..servicos.requisicao import RequisicaoBackup


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "backup",
        parents=[comum],
        help="cria um backup (nova versão)",
        description="Guarda um modelo (arquivo ou pasta) como nova versão "
        "semântica. Conteúdo idêntico à última versão não cria "
        "versão nova (use --forcar).",
    )
    p.add_argument(
        "--modelo",
        required=True,
        metavar="CAMINHO",
        help="arquivo do modelo (ou pasta, ex.: SavedModel)",
    )
    p.add_argument("--descricao", default="", help="o que mudou nesta versão")
    p.add_argument(
        "--tipo-mudanca",
        default="patch",
        help=f"tipo de mudança: {', '.join([*INCREMENTOS, AUTO])} (padrão: patch)",
    )
    p.add_argument(
        "--metricas",
        metavar="ARQUIVO.json",
        help="JSON com as métricas da versão (ex.: acertos_13)",
    )
    p.add_argument(
        "--nome", help="nome do modelo no repositório (padrão: nome do arquivo)"
    )
    p.add_argument(
        "--forcar",
        action="store_true",
        help="cria versão nova mesmo sem mudança no conteúdo",
    )
    p.add_argument(
        "--forcar-leitura",
        action="store_true",
        help="lê o arquivo mesmo que tamanho, data e inode batam com a última versão "
        "(por padrão um modelo inalterado é reconhecido sem ser lido)",
    )
    p.set_defaults(executar=executar)


def ler_metricas(caminho: str | None) -> dict[str, Any] | None:
    if not caminho:
        return None
    arquivo = Path(caminho)
    if not arquivo.is_file():
        raise ErroArquivoNaoEncontrado(f"{arquivo}: arquivo de métricas não encontrado")
    dados = ler_objeto_json(arquivo, ErroValidacao, "o arquivo de métricas")
    from ..metricas import validar_metricas  # lazy: startup time (docs/DESEMPENHO.md)

    try:  # here, so a bad file leaves no repository behind
        return validar_metricas(dados)
    except ErroValidacao as e:
        raise ErroValidacao(f"{arquivo}: {e}") from None


def _avisar_espaco_baixo(evento: str, dados: dict[str, Any]) -> None:
    if evento == "espaco_baixo":
        print(
            f"aviso: espaço em disco baixo em {dados['base']}: "
            f"{tamanho_legivel(dados['livre'])} livres (aviso abaixo de "
            f"{dados['aviso_mb']} MB; espaco_disco.aviso_mb)",
            file=sys.stderr,
        )


def _recusar_no_repositorio(args: argparse.Namespace, origem: Path) -> None:
    """Let the service refuse it too, so an existing repository records the failure.

    The service emits `backup_falhou` (audit log, journal, webhooks, /metrics);
    where no repository exists none is created just to say so.
    """
    try:
        g = gerenciador(args)
    except ErroBackup:
        return
    with g, contextlib.suppress(ErroBackup):
        g.criar_backup(
            origem,
            args.tipo_mudanca,
            args.descricao,
            nome_modelo=args.nome,
            origem_pedido="cli",
        )


def _requisicao(args: argparse.Namespace) -> RequisicaoBackup:
    """The request, validated once before the repository folder is created."""
    # lazy: startup time (docs/DESEMPENHO.md)
    from ..servicos.requisicao import RequisicaoBackup

    metricas = ler_metricas(args.metricas)
    try:
        return RequisicaoBackup.de(
            args.modelo,
            args.tipo_mudanca,
            args.descricao,
            metricas,
            forcar=args.forcar,
            forcar_leitura=args.forcar_leitura,
            nome_modelo=args.nome,
        )
    except ErroBackup:
        _recusar_no_repositorio(args, Path(args.modelo))
        raise


def executar(args: argparse.Namespace) -> int:
    requisicao = _requisicao(args)
    listagem = requisicao.listagem
    tamanho = listagem.tamanho if listagem.tipo == "arquivo" else 0
    with gerenciador(args, criar=True) as g:
        g.inscrever(_avisar_espaco_baixo)
        with barra(tamanho, requisicao.origem.name, args) as progresso:
            resultado = g.criar_backup(
                requisicao, progresso=progresso, origem_pedido="cli"
            )
        versao, nova = resultado.versao, resultado.nova_versao
        info = g.obter_versao(resultado.modelo, versao)
    dados = {
        "modelo": info["modelo"],
        "versao": versao,
        "nova_versao": nova,
        "tamanho": info["tamanho"],
        "tamanho_armazenado": info["tamanho_armazenado"],
        "sha256": info["sha256"],
        "mudanca": info.get("mudanca"),
        "validacao": info.get("validacao"),
    }
    imprimir(args, dados, lambda: _texto(info, versao, nova))
    return 0


def _texto(info: dict[str, Any], versao: str, nova: bool) -> str:
    """The human summary of a backup (the --json output carries the same)."""
    if not nova:
        return (
            f"Sem mudanças: {seguro(info['modelo'])} já está guardado na versão "
            f"{versao}"
        )
    extra = ""
    if info.get("mudanca"):
        m = info["mudanca"]
        extra += f"\n  tipo automático: {m['incremento']} ({seguro(m['motivo'])})"
    val = info.get("validacao")
    if val:
        estado = "OK" if val["valido"] else "FALHOU"
        extra += f"\n  validação ({val.get('formato')}): {estado}"
        extra += "".join(f"\n    - {seguro(p)}" for p in val.get("problemas", []))
    return (
        f"Backup criado: {seguro(info['modelo'])} -> {versao} "
        f"({tamanho_legivel(info['tamanho'])}, "
        f"{tamanho_legivel(info['tamanho_armazenado'])} novos no repositório)" + extra
    )
