"""`restaurar`: rebuild a version byte for byte, verified before it appears."""

from __future__ import annotations

import argparse

from ..texto import seguro
from .comum import barra, gerenciador, imprimir


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "restaurar",
        parents=[comum],
        help="restaura uma versão",
        description="Restaura uma versão no destino. Cada bloco é conferido "
        "pelo seu hash ao ser lido, o arquivo inteiro pelo BLAKE3 gravado no "
        "backup, e ele só aparece no destino depois de completo e gravado em disco.",
    )
    p.add_argument("--modelo", required=True, metavar="NOME", help="nome do modelo")
    p.add_argument("--versao", default="ultima", help="versão (ex.: 1.2.3) ou 'ultima'")
    p.add_argument(
        "--destino",
        default=".",
        help="pasta de destino (criada se não existir) ou, com a extensão do "
        "modelo, o nome do arquivo restaurado; padrão: .",
    )
    p.add_argument(
        "--sobrescrever",
        action="store_true",
        help="substitui o destino se ele já existir",
    )
    p.add_argument(
        "--conferir-sha256",
        action="store_true",
        help="recalcula também o SHA-256 do arquivo inteiro e o compara com o "
        "registrado (o valor de sha256sum; custa um segundo hash de cada byte). "
        "Sem ela a restauração já confere o arquivo inteiro de ponta a ponta pelo "
        "BLAKE3 gravado no backup",
    )
    p.add_argument(
        "--validar",
        action="store_true",
        help="valida o modelo restaurado (estrutura e carregamento isolado); "
        "sai com código 12 se falhar",
    )
    p.add_argument(
        "--aceitar-sem-assinatura",
        action="store_true",
        help="só neste comando, aceita uma versão sem assinatura que a política "
        "de assinatura do repositório recusaria (docs/SEGURANCA.md)",
    )
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    with (
        gerenciador(args) as g,
        g.sem_exigir_assinatura(args.aceitar_sem_assinatura),
    ):
        info = g.versao_a_restaurar(args.modelo, args.versao, args.destino)
        with barra(info["tamanho"], f"{info['modelo']} {info['versao']}", args) as prog:
            r = g.restaurar_backup(
                info["modelo"],
                info["versao"],
                args.destino,
                sobrescrever=args.sobrescrever,
                conferir_sha256=args.conferir_sha256,
                progresso=prog,
            )
        caminho = r.caminho
        validacao = g.validar_arquivo(caminho) if args.validar else None
    dados = {
        "modelo": info["modelo"],
        "versao": info["versao"],
        "caminho": caminho,
        "destino_tratado_como": r.tratado_como,
        "motivo_destino": r.motivo,
        "sha256": info["sha256"],
        "sha256_conferido": args.conferir_sha256,
        "tamanho": info["tamanho"],
        "validacao": validacao,
    }

    def humano() -> str:
        conferido = (
            "SHA-256 conferido"
            if args.conferir_sha256
            else "conferida de ponta a ponta"
        )
        texto = (
            f"Modelo restaurado em: {seguro(caminho)} "
            f"(versão {info['versao']}, {conferido})\n"
            f"  destino tratado como {r.tratado_como}: {r.motivo}"
        )
        if validacao:
            texto += f"\nValidação: {'OK' if validacao['valido'] else 'FALHOU'}"
            texto += "".join(f"\n  - {seguro(p)}" for p in validacao["problemas"])
        return texto

    imprimir(args, dados, humano)
    return 12 if validacao and not validacao["valido"] else 0
