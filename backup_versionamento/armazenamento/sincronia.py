"""Copy a repository between two backends (mirror push, pull to a new machine).

A copy is a complete repository: key objects, header, packs, index fragments,
sidecars, pins and whatever else the repository holds; only this machine's
logs, the lock objects and reports stay. Idempotent: keys the destination lacks
(or holds with another size) are copied. The order keeps the destination a
valid repository at every moment (docs/FORMATO.md): key objects, the header,
packs, index fragments, then sidecars and pins, so a version is visible only
once all of its data is there. An interrupted copy is finished by the next one
(the listings show what is missing). The copy holds a backup lease on the
destination, so a collection there never deletes packs it just sent.

Deletion propagation (`apagar`, off by default): keys the origin no longer has
are deleted from the destination, in the reverse order (sidecars first, packs
last), under the destination's collection lock, after every backup lease there
is gone, and sparing packs younger than the grace period.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

from ..base.padroes import THREADS_BACKUP
from ..erros import ErroRepositorio
from .backends import Backend, InfoObjeto
from .repositorio import CHAVE_CABECALHO, ler_cabecalho
from .trava_remota import concessao_backup, trava_limpeza

log = logging.getLogger("SistemaBackup")

# Copy order (the header goes right after the key objects); "" is everything
# else: sidecars, pins and whatever a newer version keeps beside them.
# The delta registry (deltas.py) goes before the packs whose deltas it lists.
ETAPAS = ("chaves/", "deltas/", "pacotes/", "indices/", "")
# This machine's own files and the lock objects never travel.
FICAM = ("travas/", "logs/", "relatorios/")
_OBJETO_CHAVE = re.compile(r"chaves/[0-9a-f]{32}\.json")
# How long a copy waits for a collection (or, deleting, for backups) there.
ESPERA_S = 600.0

Progresso = Callable[[int], None]


def _etapa(chave: str) -> str:
    return next((e for e in ETAPAS[:-1] if chave.startswith(e)), "")


def _viaja(chave: str) -> bool:
    if chave == CHAVE_CABECALHO or chave.startswith(FICAM):
        return False
    # Only wrapped key objects: a key file a person keeps in <base>/chaves/
    # must never reach a bucket.
    return not chave.startswith("chaves/") or bool(_OBJETO_CHAVE.fullmatch(chave))


def _listar(backend: Backend) -> dict[str, InfoObjeto]:
    return {i.chave: i for i in backend.listar("") if _viaja(i.chave)}


def planejar(
    origem: Backend, destino: Backend, *, apagar: bool = False
) -> dict[str, Any]:
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
    por_etapa: dict[str, list[InfoObjeto]] = {etapa: [] for etapa in ETAPAS}
    for info in sorted(faltam, key=lambda i: i.chave):
        por_etapa[_etapa(info.chave)].append(info)
    sobram = sorted(
        (info for chave, info in para.items() if chave not in de),
        key=lambda i: i.chave,
    )
    return {
        "cabecalho": cab_destino is None,
        "por_etapa": por_etapa,
        "objetos": len(faltam) + (cab_destino is None),
        "bytes": sum(i.tamanho for i in faltam),
        "ja_presentes": len(de) - len(faltam),
        "apagar": sobram if apagar else [],
        "a_apagar": len(sobram) if apagar else 0,
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
    threads: int = THREADS_BACKUP,
    progresso: Progresso | None = None,
    parar: threading.Event | None = None,
    plano: dict[str, Any] | None = None,
    apagar: bool = False,
    carencia_s: float = 0.0,
    espera_s: float = ESPERA_S,
) -> dict[str, Any]:
    """Copy what `destino` lacks from `origem` (and, with `apagar`, delete what
    `origem` no longer has); returns counts (see `planejar`)."""
    plano = plano or planejar(origem, destino, apagar=apagar)
    # Deleting needs the destination to ourselves; copying, only a lease.
    guarda: AbstractContextManager[Any] = (
        trava_limpeza(destino, espera_s)
        if plano["apagar"]
        else concessao_backup(destino, espera_s)
    )
    with guarda:
        r = _copiar(origem, destino, plano, threads, progresso, parar)
        if plano["apagar"] and not r["interrompido"]:
            r.update(_apagar(destino, plano["apagar"], carencia_s))
    return r


def _copiar(
    origem: Backend,
    destino: Backend,
    plano: dict[str, Any],
    threads: int,
    progresso: Progresso | None,
    parar: threading.Event | None,
) -> dict[str, Any]:
    """Copy what `destino` lacks, step by step; returns counts (see `planejar`)."""
    if not plano["cabecalho"]:  # a policy registered after the first copy
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

    # Each step finishes before the next starts (packs before what points to
    # them); the header right after the key objects it names.
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="backup-sinc") as pool:
        for etapa in ETAPAS:
            list(pool.map(copiar, plano["por_etapa"][etapa]))
            if parar is not None and parar.is_set():
                break
            if etapa == "chaves/" and plano["cabecalho"]:
                cab = ler_cabecalho(origem)
                bruto = (json.dumps(cab, ensure_ascii=False, indent=2) + "\n").encode()
                destino.gravar(CHAVE_CABECALHO, bruto, exclusivo=True)
    return {
        "origem": origem.descrever(),
        "destino": destino.descrever(),
        "objetos_copiados": copiados + bool(plano["cabecalho"]),
        "bytes_copiados": bytes_copiados,
        "ja_presentes": plano["ja_presentes"],
        "interrompido": parar is not None and parar.is_set(),
        "objetos_apagados": 0,
        "bytes_apagados": 0,
    }


def _apagar(
    destino: Backend, sobram: list[InfoObjeto], carencia_s: float
) -> dict[str, Any]:
    """Delete what the origin no longer has: sidecars first, packs last."""
    limite = time.time() - carencia_s
    ordem = {etapa: n for n, etapa in enumerate(reversed(ETAPAS))}
    apagados, liberados, em_carencia = 0, 0, 0
    for info in sorted(sobram, key=lambda i: ordem[_etapa(i.chave)]):
        if _etapa(info.chave) == "pacotes/" and info.modificado >= limite:
            em_carencia += 1
            continue
        destino.apagar(info.chave)
        apagados += 1
        liberados += info.tamanho
    if apagados:
        log.info(
            "%s: %d objeto(s) que a origem não tem mais apagados",
            destino.descrever(),
            apagados,
        )
    return {
        "objetos_apagados": apagados,
        "bytes_apagados": liberados,
        "pacotes_em_carencia": em_carencia,
    }
