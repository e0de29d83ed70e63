"""`migrar`: convert a format 1 repository to format 2, in place and resumable;
`migrar --esconder-nomes`: give an encrypted repository keyed object names."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .comum import LIMIAR_BARRA, em_terminal, imprimir, nova_barra, tamanho_legivel

if TYPE_CHECKING:
    from ..armazenamento.migracao import ProgressoMigracao

_ETAPAS = {  # step -> (bar label, unit, counts bytes)
    "migrando": ("migrando blocos", "B", True),
    "conferindo": ("conferindo pacotes", "B", True),
    "convertendo": ("convertendo metadados", " versões", False),
    "apagando": ("apagando objetos antigos", " objetos", False),
}


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "migrar",
        parents=[comum],
        help="converte um repositório do formato 1 para o formato 2",
        description=(
            "Converte no lugar um repositório do formato 1 (um arquivo por bloco)\n"
            "para o formato 2 (pacotes). Pode ser interrompido a qualquer momento:\n"
            "o repositório continua abrindo e restaurando todas as versões, e rodar\n"
            "`migrar` de novo termina o trabalho. Versões, descrições, métricas,\n"
            "relatórios de validação e fixações são mantidos. Num repositório que\n"
            "já está no formato 2 não faz nada.\n\n"
            "O que cada código significa aqui:\n"
            "  0  concluída, ou nada a fazer (objetos que já estavam corrompidos no\n"
            "     formato 1 saem como AVISO, com as versões afetadas)\n"
            "  5  repositório somente leitura\n"
            "  8  não é um repositório, ou formato desconhecido\n"
            "  9  a conferência falhou antes de apagar (nada foi apagado)\n"
            " 10  espaço insuficiente para os pacotes novos\n"
            " 11  outro processo usa o repositório (ou o daemon antigo roda)\n"
            "130  interrompida (rode `migrar` de novo para continuar)\n\n"
            "Com --esconder-nomes, num repositório criptografado do formato 2:\n"
            "troca os nomes de modelos e os números de versão nas chaves dos\n"
            "objetos por ids chaveados e leva o diário de atividade, o log e os\n"
            "relatórios para a pasta de estado desta máquina (docs/SEGURANCA.md).\n"
            "Pare antes os outros processos que gravam no repositório; pode ser\n"
            "interrompido e rodado de novo."
        ),
    )
    p.add_argument(
        "--esconder-nomes",
        action="store_true",
        help="repositório criptografado: esconde nomes de modelos e versões",
    )
    p.set_defaults(executar=executar)


def _esconder_nomes(args: argparse.Namespace) -> int:
    from ..armazenamento.migracao_nomes import (
        auditoria_com_nomes,
        esconder_nomes,
        mover_para_estado,
    )
    from ..base.endereco import pasta_local
    from .comum import gerenciador

    with gerenciador(args) as g:
        g.seguranca.autorizar("admin", g.eventos)
        rel = esconder_nomes(g.repo)
        base = pasta_local(g.base)
        rel["movidos_para_estado"] = (
            mover_para_estado(base, g.repo.pasta_estado) if base is not None else []
        )
        rel["auditoria_com_nomes"] = auditoria_com_nomes(
            g.pasta_auditoria / "auditoria.jsonl"
        )

    def texto() -> str:
        if rel["ja_escondidos"]:
            return f"O repositório {rel['base']} já esconde os nomes; nada a fazer."
        linhas = [
            f"Nomes escondidos: {rel['base']} agora guarda os modelos sob ids "
            "chaveados",
            f"  objetos convertidos: {rel['objetos_convertidos']}; nomes em claro "
            f"apagados: {rel['objetos_apagados']}",
        ]
        if rel["movidos_para_estado"]:
            linhas.append(
                f"  levados para a pasta de estado desta máquina: "
                f"{len(rel['movidos_para_estado'])} arquivo(s) (diário, log, "
                "relatórios)"
            )
        if rel["auditoria_com_nomes"]:
            linhas.append(
                f"AVISO: {rel['auditoria_com_nomes']} entrada(s) antigas do log de "
                "auditoria seguem com nomes em claro (reescrevê-las quebraria a "
                "cadeia); as novas são cifradas. Veja docs/SEGURANCA.md"
            )
        return "\n".join(linhas)

    imprimir(args, rel, texto)
    return 0


def executar(args: argparse.Namespace) -> int:
    # lazy: startup time (docs/DESEMPENHO.md)
    from .. import config as configuracao
    from .. import registro
    from ..armazenamento.migracao import migrar_repositorio
    from ..base.endereco import e_local

    if args.esconder_nomes:
        return _esconder_nomes(args)
    cfg = configuracao.carregar(args.config, base=args.base)
    base = cfg["diretorios"]["base"]
    pasta_logs = Path(base) / "logs" if e_local(base) and Path(base).is_dir() else None
    if pasta_logs is not None:
        dev = cfg["desenvolvimento"]
        try:
            registro.configurar(
                pasta_logs, debug=dev["modo_debug"], detalhado=dev["log_detalhado"]
            )
        except OSError:  # read-only: migrar itself says why it cannot run
            pasta_logs = None
    try:
        with _barras(args) as progresso:
            rel = migrar_repositorio(cfg, progresso)
    finally:
        if pasta_logs is not None:
            registro.remover_handlers(pasta_logs)
    imprimir(args, rel, lambda: _texto(rel))
    return 0


@contextmanager
def _barras(args: argparse.Namespace) -> Iterator[ProgressoMigracao | None]:
    """One tqdm bar per step, on a terminal, for steps worth a bar."""
    if not em_terminal(args):
        yield None
        return
    atual: dict[str, Any] = {"etapa": None, "barra": None}

    def progresso(etapa: str, feito: int, total: int) -> None:
        if etapa != atual["etapa"]:
            if atual["barra"] is not None:
                atual["barra"].close()
            atual["etapa"], atual["barra"] = etapa, None
            rotulo, unidade, em_bytes = _ETAPAS.get(etapa, (etapa, "", False))
            if total >= (LIMIAR_BARRA if em_bytes else 1000):
                atual["barra"] = nova_barra(total, rotulo, unidade, em_bytes)
        if atual["barra"] is not None:
            atual["barra"].update(feito)

    try:
        yield progresso
    finally:
        if atual["barra"] is not None:
            atual["barra"].close()


def _texto(rel: dict[str, Any]) -> str:
    if rel["ja_migrado"]:
        return f"O repositório {rel['base']} já está no formato 2; nada a fazer."
    linhas = [
        f"Migração concluída: {rel['base']} agora está no formato 2"
        + (" (retomada)" if rel["retomada"] else ""),
        f"  objetos migrados: {rel['objetos_migrados']}"
        + (
            f" (+{rel['objetos_ja_migrados']} de uma execução anterior)"
            if rel["objetos_ja_migrados"]
            else ""
        ),
        f"  versões convertidas: {rel['versoes_convertidas']}",
        f"  pacotes criados: {rel['pacotes_criados']}",
        f"  espaço: {tamanho_legivel(rel['bytes_antes'])} em objetos antigos -> "
        f"{tamanho_legivel(rel['bytes_depois'])} em pacotes",
        f"  duração: {rel['duracao_s']:.1f}s",
    ]
    for o in rel["objetos_corrompidos"]:
        usadas = ", ".join(o["versoes"]) or "nenhuma versão"
        linhas.append(
            f"AVISO: objeto corrompido no formato 1, não migrado: {o['objeto']} "
            f"(usado por {usadas}): {o['motivo']}"
        )
    for o in rel["objetos_ausentes"]:
        linhas.append(
            f"AVISO: bloco {o['objeto']} já faltava no formato 1 (usado por "
            f"{', '.join(o['versoes'])})"
        )
    for m in rel["metadados_ilegiveis"]:
        linhas.append(f"AVISO: metadado ilegível mantido como estava: {m}")
    if rel["versoes_mantidas_esquema_1"]:
        linhas.append(
            "AVISO: mantidas no esquema 1 (legíveis): "
            + ", ".join(rel["versoes_mantidas_esquema_1"])
        )
    if rel["versoes_danificadas"]:
        linhas.append(
            "Versões que já estavam danificadas antes da migração: "
            + ", ".join(rel["versoes_danificadas"])
            + ". As demais seguem restauráveis; confira com "
            "`inicializar_backup.py verificar`."
        )
    return "\n".join(linhas)
