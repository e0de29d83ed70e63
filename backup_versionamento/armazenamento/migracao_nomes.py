"""`migrar --esconder-nomes`: give an encrypted repository keyed object names.

An encrypted repository created before `nomes_chaveados` keeps model names and
version numbers in its object keys (`modelos/<modelo>/<versao>.json`, pins,
alias histories). This converts it in place, crash-safe and resumable
(docs/FORMATO.md, "Nomes chaveados"):

A. every clear-named object (sidecar, pin, alias entry) gets a twin at its
   keyed-id key, re-sealed with that key's AAD (the plaintext, and so any
   signature, is unchanged); a twin already there is kept (a resumed run).
B. the commit point: the header gains `nomes_chaveados` (one write). From here
   every process that opens the repository reads and writes keyed ids only.
C. each clear-named object is deleted, after making sure its twin exists (an
   object published by a process that opened the repository before B gets
   its twin here: running again converts such stragglers).

Only the names change: packs, index fragments and chunk ids are untouched.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..erros import ErroRepositorio
from .aliases import PASTA as PASTA_ALIASES
from .aliases import chave_entrada, id_objeto_alias
from .blob import TIPO_ALIAS, TIPO_SIDECAR
from .repositorio import (
    CHAVE_CABECALHO,
    Repositorio,
    chave_de_nomes,
    id_objeto_sidecar,
    ler_cabecalho,
    serializar_cabecalho,
)
from .sidecar import (
    CAMPO_NOMES_CHAVEADOS,
    PREFIXO,
    SUFIXO_FIXADA,
    Nomes,
    id_objeto_chave,
)
from .trava import travar

log = logging.getLogger("SistemaBackup")

ProgressoNomes = Callable[[str, int, int], None]
_ENTRADA_ALIAS = re.compile(r"^(\d{10})\.json$")
_ID = re.compile(r"^[0-9a-f]{32}$")


def _objetos_em_claro(repo: Repositorio) -> list[tuple[str, str, tuple[str, ...]]]:
    """(kind, clear key, names) of every clear-named object of `repo`.

    kind: "sidecar" (model, version), "fixada" (model, version) or "alias"
    (model, alias, sequence)."""
    claro = Nomes()
    saida: list[tuple[str, str, tuple[str, ...]]] = []
    for info in repo.backend.listar(PREFIXO):
        chave = info.chave
        partes = chave[len(PREFIXO) :].split("/")
        segs = claro.segmentos(chave)
        if segs is not None:
            saida.append(("sidecar", chave, segs))
            continue
        segs = claro.segmentos(chave, SUFIXO_FIXADA)
        if segs is not None:
            saida.append(("fixada", chave, segs))
            continue
        if len(partes) == 4 and partes[1] == PASTA_ALIASES:
            m = _ENTRADA_ALIAS.match(partes[3])
            # Keyed ids (a twin of an earlier run) are not clear names.
            gemea = _ID.match(partes[0]) and _ID.match(partes[2])
            if m and not gemea:
                saida.append(("alias", chave, (partes[0], partes[2], m[1])))
    return sorted(saida)


class _Conversor:
    def __init__(self, repo: Repositorio, ocultos: Nomes) -> None:
        self.repo = repo
        self.ocultos = ocultos
        self.cod = repo.codificador

    def chave_nova(self, tipo: str, nomes: tuple[str, ...]) -> str:
        if tipo == "sidecar":
            return self.ocultos.chave_sidecar(nomes[0], nomes[1])
        if tipo == "fixada":
            return self.ocultos.chave_fixada(nomes[0], nomes[1])
        return chave_entrada(nomes[0], nomes[1], int(nomes[2]), self.ocultos)

    def converter(self, tipo: str, chave: str, nomes: tuple[str, ...]) -> bool:
        """Write the twin of `chave` at its keyed-id key; False if it was there."""
        nova = self.chave_nova(tipo, nomes)
        if self.repo.backend.existe(nova):
            return False
        if tipo == "fixada":
            return self.repo.backend.gravar(nova, b"", exclusivo=True)
        bruto = self.repo.backend.ler(chave)
        if tipo == "sidecar":
            claro = self.cod.decodificar(
                bruto, TIPO_SIDECAR, id_objeto_sidecar(nomes[0], nomes[1]), nome=chave
            )
            tipo_blob = TIPO_SIDECAR
        else:
            aad = id_objeto_alias(nomes[0], nomes[1], int(nomes[2]))
            claro = self.cod.decodificar(bruto, TIPO_ALIAS, aad, nome=chave)
            tipo_blob = TIPO_ALIAS
        selado = self.cod.codificar(
            bytes(claro), tipo_blob, id_objeto_chave(nova), sempre_tentar=True
        )
        return self.repo.backend.gravar(nova, selado, exclusivo=True)


def esconder_nomes(
    repo: Repositorio, progresso: ProgressoNomes | None = None
) -> dict[str, Any]:
    """Convert `repo` (opened with its keys) to keyed object names; resumable."""
    desc = repo.descrever()
    if repo.codificador.cifra is None or repo.codificador.chave_ids is None:
        raise ErroRepositorio(
            f"{desc}: `migrar --esconder-nomes` só vale para um repositório "
            "criptografado (sem criptografia, os sidecars são legíveis de qualquer "
            "jeito); veja 'Passar a usar criptografia' em docs/SEGURANCA.md"
        )
    if repo.backend.somente_leitura:
        raise ErroRepositorio(f"{desc}: repositório somente leitura; nada mudou")
    ocultos = Nomes(chave_de_nomes(repo.codificador.chave_ids))
    conv = _Conversor(repo, ocultos)
    rel: dict[str, Any] = {
        "base": desc,
        "ja_escondidos": False,
        "objetos_convertidos": 0,
        "objetos_apagados": 0,
    }
    with travar(repo.caminho_trava("repositorio"), espera=10.0, descricao=desc):
        cab = ler_cabecalho(repo.backend)
        if cab is None or cab.get("id") != repo.id:
            raise ErroRepositorio(f"{desc}: cabeçalho sumiu ou mudou; nada mudou")
        objetos = _objetos_em_claro(repo)
        ja = bool(cab.get(CAMPO_NOMES_CHAVEADOS))
        rel["ja_escondidos"] = ja and not objetos
        if not ja:  # A: twins, then B: the commit point
            for tipo, chave, nomes in objetos:
                rel["objetos_convertidos"] += conv.converter(tipo, chave, nomes)
                if progresso:
                    progresso("convertendo", 1, len(objetos))
            cab[CAMPO_NOMES_CHAVEADOS] = True
            repo.backend.gravar(CHAVE_CABECALHO, serializar_cabecalho(cab))
            repo.cabecalho[CAMPO_NOMES_CHAVEADOS] = True
        for tipo, chave, nomes in objetos:  # C: each clear name, once its twin is
            rel["objetos_convertidos"] += conv.converter(tipo, chave, nomes)
            repo.backend.apagar(chave)
            rel["objetos_apagados"] += 1
            if progresso:
                progresso("apagando", 1, len(objetos))
        _remover_pastas_vazias(repo)
    log.info(
        "Nomes escondidos em %s: %d objeto(s) convertidos, %d nome(s) em claro "
        "apagados",
        desc,
        rel["objetos_convertidos"],
        rel["objetos_apagados"],
    )
    return rel


# Files inside a local repository's logs/ that name models: they move to the
# per-machine state (the audit log stays: see auditoria_com_nomes).
ARQUIVOS_POR_MAQUINA = ("atividade.jsonl", "backup_system.log")


def mover_para_estado(base: Path, estado: Path) -> list[str]:
    """Move the activity journal, the spec's log (with its rotations) and the
    reports out of the local repository `base` into this machine's `estado`."""
    movidos = []
    origens = [
        p
        for nome in ARQUIVOS_POR_MAQUINA
        for p in sorted((base / "logs").glob(f"{nome}*"))
        if p.is_file()
    ]
    relatorios = base / "relatorios"
    if relatorios.is_dir():
        origens.extend(p for p in sorted(relatorios.iterdir()) if p.is_file())
    for origem in origens:
        destino = estado / origem.parent.name / origem.name
        destino.parent.mkdir(parents=True, exist_ok=True)
        if destino.exists():  # this machine already writes there: keep both
            destino = destino.with_name(f"{origem.name}.repositorio")
        shutil.move(str(origem), destino)
        movidos.append(str(origem))
    if relatorios.is_dir() and not any(relatorios.iterdir()):
        relatorios.rmdir()
    return movidos


def auditoria_com_nomes(arquivo: Path) -> int:
    """Entries of an audit log whose target is in clear (written before hiding).

    They stay: rewriting them would break the chain and the anchors that
    published versions hold (docs/SEGURANCA.md)."""
    try:
        linhas = arquivo.read_bytes().splitlines()
    except OSError:
        return 0
    n = 0
    for linha in linhas:
        try:
            e = json.loads(linha)
        except ValueError:
            continue
        alvo = e.get("alvo") if isinstance(e, dict) else None
        if isinstance(alvo, str) and alvo and not alvo.startswith("cifrado:"):
            n += 1
    return n


def _remover_pastas_vazias(repo: Repositorio) -> None:
    """A local repository keeps empty `modelos/<nome>/` folders: they name models."""
    from ..base.endereco import pasta_local

    raiz = pasta_local(repo.descrever())
    if raiz is None:
        return
    modelos = raiz / PREFIXO.rstrip("/")
    if not modelos.is_dir():
        return
    for pasta in sorted(modelos.rglob("*"), key=lambda p: -len(p.parts)):
        if pasta.is_dir() and not any(pasta.iterdir()):
            try:
                pasta.rmdir()
            except OSError:
                continue
