"""`sincronizar`: push the local repository to S3, or pull it from there."""

from __future__ import annotations

import argparse
from typing import Any

from ..erros import ErroConfiguracao
from ..texto import seguro
from .comum import barra, imprimir, tamanho_legivel


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "sincronizar",
        parents=[comum],
        help="envia o repositório local ao S3 ou o recebe de lá",
        description="Compara as listas de objetos do repositório local (--base / "
        "diretorios.base) e do bucket (--remoto ou integracao.cloud_storage) e "
        "copia o que falta, na ordem que mantém o destino sempre válido. Só "
        "apaga no destino com --apagar. Uma máquina nova recebe o repositório inteiro "
        "com --receber numa pasta vazia.",
    )
    sentido = p.add_mutually_exclusive_group()
    sentido.add_argument(
        "--enviar",
        dest="receber",
        action="store_false",
        help="do repositório local para o bucket (padrão)",
    )
    sentido.add_argument(
        "--receber",
        dest="receber",
        action="store_true",
        help="do bucket para o repositório local (criado se não existir)",
    )
    p.add_argument(
        "--remoto",
        metavar="s3://BUCKET/PREFIXO",
        help="o bucket (padrão: integracao.cloud_storage.bucket e prefixo)",
    )
    p.add_argument(
        "--simular",
        action="store_true",
        help="só mostra quantos objetos e bytes seriam copiados",
    )
    p.add_argument(
        "--apagar",
        action="store_true",
        help="também apaga no destino o que a origem não tem mais (versões que a "
        "limpeza removeu, pacotes reempacotados), sob a trava de limpeza do "
        "destino; versões gravadas direto no destino também saem",
    )
    p.set_defaults(executar=executar, receber=False)


def _remoto(args: argparse.Namespace, cfg: dict[str, Any]) -> str:
    # lazy: startup time (docs/DESEMPENHO.md)
    from ..integracoes.espelho import endereco_espelho

    if args.remoto:
        return str(args.remoto).rstrip("/")
    nuvem = cfg["integracao"]["cloud_storage"]
    if not nuvem["bucket"]:
        raise ErroConfiguracao(
            "sincronizar: nenhum bucket; use --remoto s3://BUCKET/PREFIXO ou defina "
            "integracao.cloud_storage.bucket"
        )
    return endereco_espelho(nuvem)


def executar(args: argparse.Namespace) -> int:
    # lazy: startup time (docs/DESEMPENHO.md)
    from .. import config as configuracao
    from ..armazenamento.backends.endereco import backend_para
    from ..armazenamento.sincronia import planejar, sincronizar
    from ..base.endereco import e_local
    from ..integracoes.espelho import opcoes_apagar

    cfg = configuracao.carregar(args.config, base=args.base)
    base = cfg["diretorios"]["base"]
    if not e_local(base):
        raise ErroConfiguracao(
            f"sincronizar: a base {base} já está no armazenamento de objetos; "
            "sincronizar copia entre uma pasta local e um bucket"
        )
    remoto = _remoto(args, cfg)
    if not remoto.startswith("s3://"):
        raise ErroConfiguracao(f"--remoto {remoto}: use s3://BUCKET/PREFIXO")
    local, nuvem = backend_para(base, cfg), backend_para(remoto, cfg)
    origem, destino = (nuvem, local) if args.receber else (local, nuvem)
    plano = planejar(origem, destino, apagar=args.apagar)
    if args.simular:
        r: dict[str, Any] = {
            "origem": origem.descrever(),
            "destino": destino.descrever(),
            "objetos_a_copiar": plano["objetos"],
            "bytes_a_copiar": plano["bytes"],
            "ja_presentes": plano["ja_presentes"],
            "objetos_a_apagar": plano["a_apagar"],
            "simulado": True,
        }
    else:
        with barra(plano["bytes"], "sincronizando", args) as progresso:
            r = sincronizar(
                origem,
                destino,
                threads=cfg["performance"]["threads_backup"],
                progresso=progresso,
                plano=plano,
                **opcoes_apagar(cfg, args.apagar),
            )
        r["simulado"] = False

    def humano() -> str:
        de, para = seguro(r["origem"]), seguro(r["destino"])
        if r["simulado"]:
            return (
                f"Simulação: {r['objetos_a_copiar']} objeto(s), "
                f"{tamanho_legivel(r['bytes_a_copiar'])} de {de} para {para} "
                f"({r['ja_presentes']} já presentes)"
                + (f", {r['objetos_a_apagar']} a apagar" if args.apagar else "")
                + ". Nada foi copiado."
            )
        apagados = (
            f" {r['objetos_apagados']} objeto(s) que a origem não tem mais "
            "apagados do destino."
            if args.apagar
            else ""
        )
        return (
            f"Sincronizado: {r['objetos_copiados']} objeto(s), "
            f"{tamanho_legivel(r['bytes_copiados'])} de {de} para {para} "
            f"({r['ja_presentes']} já presentes).{apagados}"
        )

    imprimir(args, r, humano)
    return 0
