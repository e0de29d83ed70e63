"""Garbage collection as repack, under the repository lock held exclusive.

1. Every sidecar is read; the chunks they use are live (an unreadable sidecar
   aborts: deleting on a guess could destroy a version), and so are the bases
   their delta chunks need, transitively (the `deltas/` registry, deltas.py).
2. Packs with nothing live are deleted; packs whose dead share passes the
   threshold have their live blobs copied (verified, not re-encoded) into new
   packs.
3. Order, each step crash-safe: new packs -> one compacted index fragment with
   every live location -> old fragments deleted -> old packs deleted. A crash
   leaves duplicates or orphans that the next run removes, never a live chunk
   without a pack.
Where the lock is not truly exclusive (an object store shared by machines),
packs younger than the grace period are left alone: another machine's backup
may be about to reference them.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..erros import ErroBackup, ErroIntegridade
from .backends import InfoObjeto
from .deltas import PREFIXO as PREFIXO_DELTAS
from .deltas import fechar, gravar_registro, ler_registro
from .fragmento import PREFIXO as PREFIXO_FRAGMENTOS
from .fragmento import chave_fragmento, codificar_fragmento
from .pacote import PREFIXO as PREFIXO_PACOTES
from .pacote import Local, chave_pacote, id_da_chave

log = logging.getLogger("SistemaBackup")

# Rewrite a pack once this share of its bytes is dead.
LIMIAR_REEMPACOTAR = 0.25


@dataclass
class _Plano:
    """What a collection does to each pack (decided before anything is written)."""

    vivos: set[str]
    locais: dict[str, Local]
    pacotes: dict[str, InfoObjeto]
    por_pacote: dict[str, list[tuple[str, Local]]]
    apagar: list[str] = field(default_factory=list)
    reempacotar: list[str] = field(default_factory=list)
    em_carencia: list[str] = field(default_factory=list)
    manter_todos: dict[str, Local] = field(default_factory=dict)  # young packs
    grafo: dict[str, Any] = field(default_factory=dict)  # delta -> its bases
    registros: list[InfoObjeto] = field(default_factory=list)  # deltas/ objects
    so_base: set[str] = field(default_factory=set)  # live only as a delta's base


def coletar(
    repo: Any,
    carencia_s: float,
    *,
    limiar: float = LIMIAR_REEMPACOTAR,
    antes_de_apagar: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Free what no version uses; say what was freed, what was kept and why.

    `antes_de_apagar` runs before the first deletion (it raises when the
    collection lock is no longer held).
    """
    objetos = repo.objetos
    backend = repo.backend
    plano = _planejar(repo, carencia_s, limiar)
    # New packs first (live blobs copied, verified on the way).
    novos_locais, bytes_reescritos = _reempacotar(objetos, backend, plano)
    # Packs are named by their content: repacking the same live blobs again
    # (after a run killed before its fragment) rebuilds the very pack that run
    # left as an orphan. What was just written is never deleted.
    novos_pacotes = {loc.pacote for loc in novos_locais.values()}
    plano.apagar = [p for p in plano.apagar if p not in novos_pacotes]
    removidos = set(plano.apagar) | set(plano.reempacotar)
    fragmentos = [i.chave for i in backend.listar(PREFIXO_FRAGMENTOS)]
    if antes_de_apagar is not None:
        antes_de_apagar()
    compactado = _compactado(plano, removidos, novos_locais)
    fragmentos_removidos = _compactar_indice(
        objetos, backend, removidos, compactado, fragmentos
    )
    _compactar_registro(objetos, backend, plano, removidos, compactado, carencia_s)
    bytes_liberados = 0
    for id_pacote in plano.apagar + plano.reempacotar:
        backend.apagar(chave_pacote(id_pacote))
        bytes_liberados += plano.pacotes[id_pacote].tamanho
    bytes_novos = sum(
        i.tamanho
        for i in backend.listar(PREFIXO_PACOTES)
        if id_da_chave(i.chave) in novos_pacotes - set(plano.pacotes)
    )
    temporarios, bytes_temp = 0, 0
    limpar_temp = getattr(backend, "limpar_temporarios", None)
    if limpar_temp is not None:
        exclusivo = bool(backend.exclusao_real)
        temporarios, bytes_temp = limpar_temp(
            60.0 if exclusivo else max(60.0, carencia_s)
        )
    objetos.atualizar_indice(forcar=True)
    return {
        "pacotes_removidos": len(plano.apagar),
        "pacotes_reempacotados": len(plano.reempacotar),
        "pacotes_novos": len(novos_pacotes),
        "bytes_reescritos": bytes_reescritos,
        "bytes_liberados": max(0, bytes_liberados - bytes_novos) + bytes_temp,
        "pacotes_em_carencia": len(plano.em_carencia),
        "carencia_minutos": carencia_s / 60,
        "fragmentos_compactados": fragmentos_removidos,
        "temporarios_removidos": temporarios,
        "blocos_referenciados": len(plano.vivos),
        # Chunks no version uses directly, kept because a live delta needs them.
        "blocos_base_de_deltas": len(plano.so_base),
        "bytes_base_de_deltas": sum(
            plano.locais[i].tamanho for i in plano.so_base if i in plano.locais
        ),
        "pacotes_mantidos": len(set(plano.pacotes) - removidos - novos_pacotes),
    }


def _blocos_vivos(repo: Any) -> set[str]:
    """Every chunk a version uses; an unreadable sidecar aborts the collection."""
    vivos: set[str] = set()
    for modelo, versao, sc in repo.iterar_sidecars():
        if isinstance(sc, ErroBackup):
            raise ErroIntegridade(
                f"coleta de lixo cancelada: a versão {versao} de {modelo} está "
                f"ilegível ({sc}); rode `inicializar_backup.py verificar` e resolva "
                "antes. Nada foi apagado."
            )
        vivos.update(i for i, _ in sc.blocos())
    return vivos


def _planejar(repo: Any, carencia_s: float, limiar: float) -> _Plano:
    """Read every sidecar and the index; sort the packs into delete/repack/keep."""
    vivos = _blocos_vivos(repo)
    objetos = repo.objetos
    backend = repo.backend
    objetos.atualizar_indice(forcar=True)
    # Orphans get entries, judged like the rest (we hold the collection lock).
    objetos.reconstruir_de_pacotes(exclusiva=True)
    locais: dict[str, Local] = repo.indice_blocos.todos()
    pacotes: dict[str, InfoObjeto] = {
        id_da_chave(i.chave): i for i in backend.listar(PREFIXO_PACOTES)
    }
    exclusivo = bool(backend.exclusao_real)
    limite = time.time() - carencia_s
    # A delta needs its bases: they live while it does, whichever version
    # uses it (also the deltas in young packs, which are all kept).
    grafo, registros = ler_registro(objetos)
    diretos = set(vivos)
    jovens = {
        p for p, info in pacotes.items() if not exclusivo and info.modificado >= limite
    }
    de_jovens = {i for i, loc in locais.items() if loc.pacote in jovens}
    vivos = fechar(diretos, grafo) | (fechar(de_jovens, grafo) - de_jovens)
    faltando = vivos - set(locais)
    if faltando:
        raise ErroIntegridade(
            f"coleta de lixo cancelada: {len(faltando)} bloco(s) usados por versões "
            "não estão em nenhum pacote; rode `inicializar_backup.py verificar`. "
            "Nada foi apagado."
        )
    por_pacote: dict[str, list[tuple[str, Local]]] = defaultdict(list)
    for id_bloco, loc in locais.items():
        por_pacote[loc.pacote].append((id_bloco, loc))
    plano = _Plano(vivos, locais, pacotes, por_pacote)
    plano.grafo, plano.registros, plano.so_base = grafo, registros, vivos - diretos
    for id_pacote, info in pacotes.items():
        blocos = por_pacote.get(id_pacote, [])
        vivos_aqui = [(i, loc) for i, loc in blocos if i in vivos]
        bytes_vivos = sum(loc.tamanho for _, loc in vivos_aqui)
        morto = 1 - bytes_vivos / info.tamanho if info.tamanho else 1.0
        if morto <= 0.02:
            continue
        if not exclusivo and info.modificado >= limite:
            plano.em_carencia.append(id_pacote)
            plano.manter_todos.update(dict(blocos))
            continue
        if not vivos_aqui:
            plano.apagar.append(id_pacote)
        elif morto >= limiar:
            plano.reempacotar.append(id_pacote)
    return plano


def _reempacotar(
    objetos: Any, backend: Any, plano: _Plano
) -> tuple[dict[str, Local], int]:
    """Copy the live blobs of the packs to repack into new packs (verified).

    Returns the new locations and the bytes rewritten; no index fragment yet.
    """
    if not plano.reempacotar:
        return {}, 0
    bytes_reescritos = 0
    sessao = objetos.sessao()
    try:
        for id_pacote in plano.reempacotar:
            dados = memoryview(backend.ler(chave_pacote(id_pacote)))
            for id_bloco, loc in plano.por_pacote[id_pacote]:
                if id_bloco not in plano.vivos:
                    continue
                bruto = dados[loc.deslocamento : loc.deslocamento + loc.tamanho]
                objetos.codificador.decodificar_bloco(id_bloco, bruto)
                sessao.gravar_codificado(id_bloco, bruto, loc.claro)
                bytes_reescritos += loc.tamanho
        sessao.concluir(escrever_fragmento=False)
    except BaseException:
        sessao.abortar()
        raise
    return sessao.novos, bytes_reescritos


def _compactado(
    plano: _Plano, removidos: set[str], novos_locais: dict[str, Local]
) -> dict[str, Local]:
    """Every location that stays after this collection."""
    compactado = {
        i: loc
        for i, loc in plano.locais.items()
        if (i in plano.vivos and loc.pacote not in removidos)
        or loc.pacote in plano.em_carencia
    }
    compactado.update(plano.manter_todos)
    compactado.update(novos_locais)
    return compactado


def _compactar_indice(
    objetos: Any,
    backend: Any,
    removidos: set[str],
    compactado: dict[str, Local],
    fragmentos: list[str],
) -> int:
    """One fragment with every live location replaces `fragmentos`; how many went."""
    if not (removidos or len(fragmentos) > 1):
        return 0
    fragmentos_removidos = 0
    id_novo = None
    if compactado:
        id_novo, partes = codificar_fragmento(objetos.codificador, compactado)
        backend.gravar(chave_fragmento(id_novo), partes)
    for chave in fragmentos:
        if id_novo is None or chave != chave_fragmento(id_novo):
            backend.apagar(chave)
            fragmentos_removidos += 1
    return fragmentos_removidos


def _compactar_registro(
    objetos: Any,
    backend: Any,
    plano: _Plano,
    removidos: set[str],
    compactado: dict[str, Local],
    carencia_s: float,
) -> None:
    """One registry keeps the deltas that stay (written before the old objects go).

    A young registry may be a running backup's: it is left for the next run.
    """
    if not plano.registros or not (removidos or len(plano.registros) > 1):
        return
    manter = {i: b for i, b in plano.grafo.items() if i in compactado}
    id_reg = gravar_registro(objetos, manter) if manter else None
    exclusivo = bool(backend.exclusao_real)
    limite = time.time() - carencia_s
    for info in plano.registros:
        if info.chave == f"{PREFIXO_DELTAS}{id_reg}":
            continue
        if exclusivo or info.modificado < limite:
            backend.apagar(info.chave)
