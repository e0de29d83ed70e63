"""Copy a repository between two backends (mirror push, pull to a new machine).

Additive and idempotent: keys the destination lacks (or holds with another
size) are copied; nothing is ever deleted there. The order keeps the
destination a valid repository at every moment (docs/FORMATO.md): the header
first, then packs, then index fragments, then sidecars and pins, so a version
is visible only once all of its data is there. An interrupted copy is finished
by the next one (the listings show what is missing).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..erros import ErroRepositorio
from .backends import Backend, InfoObjeto
from .repositorio import CHAVE_CABECALHO, ler_cabecalho

# What a repository is made of, in copy order; logs, locks and reports stay put.
ETAPAS = ("pacotes/", "indices/", "modelos/")

Progresso = Callable[[int], None]


def _listar(backend: Backend) -> dict[str, InfoObjeto]:
    return {i.chave: i for p in ETAPAS for i in backend.listar(p)}


def planejar(origem: Backend, destino: Backend) -> dict[str, Any]:
    """What a copy would do: keys per step and bytes, without copying."""
    cab_origem = ler_cabecalho(origem)
    if cab_origem is None:
        raise ErroRepositorio(
            f"{origem.descrever()}: não há repositório para copiar (falta "
            f"{CHAVE_CABECALHO})"
        )
    cab_destino = ler_cabecalho(destino)
    if cab_destino is not None and cab_destino.get("id") != cab_origem.get("id"):
        raise ErroRepositorio(
            f"{destino.descrever()}: já guarda outro repositório (id "
            f"{cab_destino.get('id')}, o daqui é {cab_origem.get('id')}); use outro "
            "bucket/prefixo (integracao.cloud_storage.prefixo) ou outra pasta"
        )
    de, para = _listar(origem), _listar(destino)
    faltam = [
        info
        for chave, info in de.items()
        if chave not in para or para[chave].tamanho != info.tamanho
    ]
    por_etapa = {
        etapa: sorted(
            (i for i in faltam if i.chave.startswith(etapa)), key=lambda i: i.chave
        )
        for etapa in ETAPAS
    }
    return {
        "cabecalho": cab_destino is None,
        "por_etapa": por_etapa,
        "objetos": len(faltam) + (cab_destino is None),
        "bytes": sum(i.tamanho for i in faltam),
        "ja_presentes": len(de) - len(faltam),
    }


def _copiar_politica(origem: Backend, destino: Backend) -> None:
    """A signing policy registered after the first copy goes along too.

    Without it, the copy's signed versions would look like a header whose policy
    was removed (docs/SEGURANCA.md).
    """
    campo = "politica_assinatura"
    cab_origem, cab_destino = ler_cabecalho(origem), ler_cabecalho(destino)
    if (
        not cab_origem
        or not cab_destino
        or cab_origem.get("id") != cab_destino.get("id")
    ):
        return
    if cab_origem.get(campo) and cab_origem.get(campo) != cab_destino.get(campo):
        cab_destino[campo] = cab_origem[campo]
        bruto = (json.dumps(cab_destino, ensure_ascii=False, indent=2) + "\n").encode()
        destino.gravar(CHAVE_CABECALHO, bruto)


def sincronizar(
    origem: Backend,
    destino: Backend,
    *,
    threads: int = 4,
    progresso: Progresso | None = None,
    parar: threading.Event | None = None,
    plano: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Copy what `destino` lacks from `origem`; returns counts (see `planejar`)."""
    plano = plano or planejar(origem, destino)
    if plano["cabecalho"]:
        cab = ler_cabecalho(origem)
        bruto = (json.dumps(cab, ensure_ascii=False, indent=2) + "\n").encode()
        destino.gravar(CHAVE_CABECALHO, bruto, exclusivo=True)
    else:
        _copiar_politica(origem, destino)
    copiados = 0
    bytes_copiados = 0
    trava = threading.Lock()

    def copiar(info: InfoObjeto) -> None:
        nonlocal copiados, bytes_copiados
        if parar is not None and parar.is_set():
            return
        dados = origem.ler(info.chave)
        destino.gravar(info.chave, dados)
        with trava:
            copiados += 1
            bytes_copiados += len(dados)
        if progresso:
            progresso(len(dados))

    # Each step finishes before the next starts (packs before what points to them).
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="backup-sinc") as pool:
        for etapa in ETAPAS:
            list(pool.map(copiar, plano["por_etapa"][etapa]))
            if parar is not None and parar.is_set():
                break
    return {
        "origem": origem.descrever(),
        "destino": destino.descrever(),
        "objetos_copiados": copiados + bool(plano["cabecalho"]),
        "bytes_copiados": bytes_copiados,
        "ja_presentes": plano["ja_presentes"],
        "interrompido": parar is not None and parar.is_set(),
    }
