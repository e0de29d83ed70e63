"""The repository checker behind `verificar`: sidecars, packs, chunks, content.

Reads every sidecar (or one model's, or one version's), then every pack that
holds a chunk they use, and decodes each chunk; `completa` also rebuilds every
file and compares its hashes. Findings are reported, never raised.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..erros import ErroBackup, ErroChaveAusente, ErroObjetoCorrompido
from .fluxo import Escrito, Progresso, escrever_blocos_conferidos
from .pacote import Local, chave_pacote, ler_trailer
from .sidecar import Sidecar, conferencia_entrada

if TYPE_CHECKING:
    from .repositorio import Repositorio

Problema = dict[str, Any]


@dataclass
class _Leitura:
    """What the sidecars say: which chunks each version uses, and their sizes."""

    problemas: list[Problema] = field(default_factory=list)
    usos: dict[str, set[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(set)
    )
    tamanhos: dict[str, int] = field(default_factory=dict)
    sidecars: list[Sidecar] = field(default_factory=list)
    sumidas: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class _Pacotes:
    """What the packs say: unreadable chunks and packs, by id."""

    por_pacote: dict[str, list[tuple[str, Local]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    ruins: dict[str, str] = field(default_factory=dict)
    pacotes_ruins: dict[str, str] = field(default_factory=dict)
    # Chunks whose pack's trailer contradicts this machine's index.
    contraditos: set[str] = field(default_factory=set)
    nao_lidos: set[str] = field(default_factory=set)  # read errors: not damaged


def verificar(
    repo: Repositorio,
    *,
    completa: bool = False,
    modelo: str | None = None,
    progresso: Progresso | None = None,
    so_versao: str | None = None,
) -> dict[str, Any]:
    """Check sidecars and every chunk they use; report, never raise for findings.

    `so_versao` (with `modelo`) checks that one version."""
    inicio = time.monotonic()
    lidos = _ler_sidecars(repo, modelo, so_versao)
    pac = _Pacotes()
    repo.objetos.atualizar_indice(forcar=True)
    for id_bloco in lidos.usos:
        try:
            loc = repo.objetos.localizar(id_bloco)
        except ErroObjetoCorrompido as e:
            pac.ruins[id_bloco] = str(e)
            continue
        pac.por_pacote[loc.pacote].append((id_bloco, loc))
    _checar_pacotes(repo, lidos, pac, progresso)
    if pac.contraditos and repo.objetos.reconstruir_indice(
        f"{len(pac.contraditos)} bloco(s) fora do lugar que o pacote registra"
    ):
        return verificar(repo, completa=completa, modelo=modelo, progresso=None)
    problemas = lidos.problemas + _problemas_dos_pacotes(lidos, pac)
    if completa:
        for sc in lidos.sidecars:
            if not any(i in pac.ruins for i, _ in sc.blocos()):
                problemas.extend(verificar_reconstrucao(repo, sc))
    for verificador in repo.verificadores:
        problemas.extend(verificador(lidos.sidecars))
    repo.resumos.esquecer_sumidas(lidos.sumidas)  # reported: once is enough
    afetadas = sorted({f"{p['modelo']} {p['versao']}" for p in problemas})
    return {
        "ok": not problemas,
        "completa": completa,
        "versoes_verificadas": len(lidos.sidecars)
        + sum(p["tipo"] == "metadado" for p in problemas),
        "objetos_verificados": len(lidos.usos),
        "pacotes_verificados": len(pac.por_pacote),
        "versoes_com_problema": afetadas,
        "problemas": problemas,
        # Skipped, the index rebuilt from the packs: no data at risk.
        "avisos": [
            f"{repo.descrever()}/{chave}: fragmento de índice ilegível, "
            f"ignorado ({motivo}); o índice foi refeito pelos pacotes"
            for chave, motivo in sorted(repo.indice_blocos.fragmentos_ilegiveis.items())
        ],
        "duracao_s": round(time.monotonic() - inicio, 3),
    }


def _ler_sidecars(
    repo: Repositorio, modelo: str | None, so_versao: str | None
) -> _Leitura:
    lidos = _Leitura()
    # Versions this machine listed before whose sidecar is gone (deleted,
    # or an empty folder in its place): reported once.
    lidos.sumidas = repo.resumos.sumidas(modelo)
    for mod, versao, sc in repo.iterar_sidecars():
        if (modelo and mod != modelo) or (so_versao and versao != so_versao):
            continue
        if isinstance(sc, ErroBackup):
            repo.resumos.esquecer(mod, versao)
            lidos.problemas.append(
                {
                    "tipo": "metadado",
                    "modelo": mod,
                    "versao": versao,
                    "mensagem": str(sc),
                }
            )
            continue
        lidos.sidecars.append(sc)
        for id_bloco, n in sc.blocos():
            lidos.usos[id_bloco].add((mod, versao))
            lidos.tamanhos[id_bloco] = n
    ja = {(p["modelo"], p["versao"]) for p in lidos.problemas}
    for mod, versao, visto in lidos.sumidas:
        if (mod, versao) in ja:
            continue
        lidos.problemas.append(
            {
                "tipo": "metadado",
                "modelo": mod,
                "versao": versao,
                "mensagem": f"{repo.descrever()}/"
                f"{repo.nomes.chave_sidecar(mod, versao)}: "
                f"o metadado desta versão sumiu do repositório (esta máquina a "
                f"listou; notado em {visto}). Se não foi a retenção de outra "
                "máquina, restaure o arquivo de uma cópia; os blocos não usados "
                "por outras versões saem na próxima limpeza",
            }
        )
    return lidos


def _checar_pacotes(
    repo: Repositorio, lidos: _Leitura, pac: _Pacotes, progresso: Progresso | None
) -> None:
    """Read each pack once and decode the chunks the sidecars use from it."""

    def checar(
        item: tuple[str, list[tuple[str, Local]]],
    ) -> tuple[dict[str, str], int]:
        id_pacote, blocos = item
        erros: dict[str, str] = {}
        try:
            dados = repo.backend.ler(chave_pacote(id_pacote))
        except ErroChaveAusente:
            return {i: f"bloco {i}: pacote {id_pacote} ausente" for i, _ in blocos}, 0
        except (ErroBackup, OSError) as e:
            pac.nao_lidos.update(i for i, _ in blocos)  # not known damaged
            return {i: f"bloco {i}: erro de leitura ({e})" for i, _ in blocos}, 0
        # The trailer is the map of last resort (a lost fragment): check it.
        trailer = None
        try:
            trailer = ler_trailer(repo.codificador, id_pacote, dados, len(dados))
        except ErroObjetoCorrompido as e:
            pac.pacotes_ruins[id_pacote] = str(e)
        vista = memoryview(dados)
        for id_bloco, loc in blocos:
            trecho = vista[loc.deslocamento : loc.deslocamento + loc.tamanho]
            try:
                if len(trecho) != loc.tamanho:
                    raise ErroObjetoCorrompido(
                        f"bloco {id_bloco}: pacote {id_pacote} truncado", id_bloco
                    )
                claro = repo.codificador.decodificar_bloco(id_bloco, trecho)
                if len(claro) != lidos.tamanhos[id_bloco]:
                    raise ErroObjetoCorrompido(
                        f"bloco {id_bloco}: tamanho não confere", id_bloco
                    )
            except ErroObjetoCorrompido as e:
                erros[id_bloco] = str(e)
                if trailer is not None and trailer.get(id_bloco) != loc:
                    pac.contraditos.add(id_bloco)
        return erros, len(dados)

    with ThreadPoolExecutor(max(1, repo.threads)) as pool:
        for erros, n in pool.map(checar, pac.por_pacote.items()):
            pac.ruins.update(erros)
            if progresso:
                progresso(n)
    # Damaged where the trailer puts them: the next backup stores them again.
    repo.indice_blocos.marcar_danificados(
        {
            i: loc
            for lista in pac.por_pacote.values()
            for i, loc in lista
            if i in pac.ruins and i not in pac.contraditos and i not in pac.nao_lidos
        }
    )


def _problemas_dos_pacotes(lidos: _Leitura, pac: _Pacotes) -> list[Problema]:
    problemas: list[Problema] = []
    for id_bloco, erro in pac.ruins.items():
        for mod, versao in sorted(lidos.usos[id_bloco]):
            problemas.append(
                {
                    "tipo": "objeto",
                    "modelo": mod,
                    "versao": versao,
                    "objeto": id_bloco,
                    "mensagem": erro,
                }
            )
    for id_pacote, erro in sorted(pac.pacotes_ruins.items()):
        n_ruins = sum(i in pac.ruins for i, _ in pac.por_pacote[id_pacote])
        estado = (
            f"{n_ruins} bloco(s) dele estão ilegíveis (acima)"
            if n_ruins
            else "os blocos seguem legíveis"
        )
        for mod, versao in sorted(
            {u for i, _ in pac.por_pacote[id_pacote] for u in lidos.usos[i]}
        ):
            problemas.append(
                {
                    "tipo": "pacote",
                    "modelo": mod,
                    "versao": versao,
                    "objeto": id_pacote,
                    "pacote": id_pacote,
                    "mensagem": f"{erro}; {estado}, e o pacote não poderia "
                    "reconstruir um índice perdido",
                }
            )
    return problemas


def verificar_reconstrucao(repo: Repositorio, sc: Sidecar) -> list[Problema]:
    """Rebuild every file of a version into /dev/null and compare its hashes."""
    saida = []
    with open(os.devnull, "wb") as nulo:
        for ent in sc.arquivos():
            try:
                r = escrever_blocos_conferidos(
                    nulo.fileno(),
                    repo.objetos,
                    list(ent.blocos),
                    threads=repo.threads,
                    sha256=True,
                    digest_blake3=True,
                )
            except ErroObjetoCorrompido as e:
                r = Escrito(-1, str(e))
            if (
                r.tamanho != ent.tamanho
                or r.sha256 != ent.sha256
                or (
                    ent.conferencia
                    and conferencia_entrada(ent.caminho, ent.sha256, r.blake3)
                    != ent.conferencia
                )
            ):
                saida.append(
                    {
                        "tipo": "conteudo",
                        "modelo": sc.modelo,
                        "versao": sc.versao,
                        "mensagem": f"{ent.caminho}: conteúdo reconstruído não "
                        "confere com o registrado (SHA-256 ou conferência BLAKE3)",
                    }
                )
    return saida
