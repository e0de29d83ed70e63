"""`limpeza`: apply the retention policy and free the space it releases."""

from __future__ import annotations

import argparse
from typing import Any

from ..texto import plural, seguro
from .comum import gerenciador, imprimir, responder, tamanho_legivel


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "limpeza",
        parents=[comum],
        help="aplica a política de retenção",
        description="Remove as versões que a política de retenção (seção 'retencao' da "
        "configuração) não mantém e apaga os blocos que nenhuma versão usa. "
        "A versão mais recente e as fixadas nunca são removidas.",
    )
    p.add_argument(
        "--simular",
        action="store_true",
        help="só mostra o plano (o que fica, o que sai e por quê)",
    )
    p.add_argument("--modelo", metavar="NOME", help="só este modelo")
    p.add_argument(
        "--quebrar-trava",
        action="store_true",
        help="remove a trava de uma limpeza que parou sem terminar e as concessões "
        "expiradas de backups que pararam sem terminar, e sai; use só depois de "
        "conferir que eles não estão mais rodando",
    )
    p.set_defaults(executar=executar)


def executar(args: argparse.Namespace) -> int:
    if args.quebrar_trava:
        # lazy: startup time (docs/DESEMPENHO.md)
        from ..armazenamento.trava_remota import descrever_trava

        with gerenciador(args) as g:
            dados = g.quebrar_trava_limpeza()
            concessoes = g.quebrar_concessoes_expiradas()
        saida = {
            "trava_removida": dados is not None,
            "trava": dados,
            "concessoes_removidas": concessoes,
        }

        def texto() -> str:
            linhas = [
                "Nenhuma trava de limpeza encontrada."
                if dados is None
                else f"Trava de limpeza removida: {seguro(descrever_trava(dados))}"
            ]
            linhas += [
                f"Concessão expirada de backup removida: {seguro(descrever_trava(c))}"
                for c in concessoes
            ]
            return "\n".join(linhas)

        imprimir(args, saida, texto)
        return 0
    return responder(
        args, lambda g: g.limpeza(simular=args.simular, modelo=args.modelo), _texto
    )


def _texto(r: dict[str, Any]) -> str:
    linhas = []
    for modelo, decisoes in r["modelos"].items():
        linhas.append(f"{seguro(modelo)}:")
        for d in decisoes:
            acao = "mantém" if d["manter"] else "REMOVE"
            motivos = seguro("; ".join(d["motivos"]))
            linhas.append(f"  {d['versao']:<10} {acao:<7} {motivos}")
    n = len(r["versoes_removidas"])
    if r["simulado"]:
        sairiam = plural(n, "versão seria removida", "versões seriam removidas")
        linhas.append(
            f"Simulação: {sairiam}, {plural(r['versoes_mantidas'], 'mantida')}. "
            "Nada foi alterado."
        )
    else:
        linhas.append(
            f"Limpeza concluída: {plural(n, 'versão removida', 'versões removidas')}, "
            f"{plural(r['pacotes_removidos'], 'pacote apagado', 'pacotes apagados')}, "
            f"{plural(r['pacotes_reempacotados'], 'reempacotado', 'reempacotados')}, "
            f"{tamanho_legivel(r['bytes_liberados'])} liberados."
        )
        if r.get("bytes_base_de_deltas"):
            linhas.append(
                f"{tamanho_legivel(r['bytes_base_de_deltas'])} mantidos como base "
                f"de deltas ({plural(r['blocos_base_de_deltas'], 'bloco')} de "
                "versões removidas de que versões mantidas dependem)."
            )
        if r.get("pacotes_em_carencia"):
            mantidos = plural(
                r["pacotes_em_carencia"],
                "pacote recente mantido",
                "pacotes recentes mantidos",
            )
            linhas.append(
                f"{mantidos} pela carência de {r['carencia_minutos']:.0f} min: "
                "outra máquina pode estar usando-os. Mude com "
                "retencao.carencia_coleta_minutos."
            )
    return "\n".join(linhas)
