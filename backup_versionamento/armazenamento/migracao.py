"""Convert a format 1 repository (one file per chunk) to format 2 in place.

Steps (docs/FORMATO.md, "Migração do formato 1"); a kill at any moment leaves a
repository that opens and restores every version, and running again finishes:

A. every v1 object not yet in the chunk index is read, checked against its id
   and stored in packs; a session is closed (packs -> index fragment) every
   `lote_bytes` of input, so a kill loses little. Resumable: what is indexed is
   skipped; packs left without a fragment are indexed from their trailers.
B. proof before anything is deleted: every v1 object is indexed, and every chunk
   a sidecar uses decodes from its pack (a read of the new packs).
C. the commit point: a format 2 header with `migracao_pendente` replaces the v1
   one (one atomic write). From here every command opens the repository.
D. schema 1 sidecars rewritten as schema 2 canonical bytes (only when nothing
   is lost; the one place a sidecar is overwritten). Pins are untouched.
E. the v1 objects and the per-machine files format 1 kept inside the
   repository are deleted.
F. the header rewritten without `migracao_pendente`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import blake3
import zstandard

from ..base.tempo import agora_iso
from ..erros import (
    ErroBackup,
    ErroEspacoInsuficiente,
    ErroIntegridade,
    ErroNaoSuportado,
    ErroObjetoCorrompido,
    ErroPermissao,
    ErroRepositorio,
    ErroTrava,
)
from ..estado import lugar_do_repositorio, pasta_estado
from .backends import Backend
from .backends.endereco import backend_para, e_local
from .fragmento import PREFIXO as PREFIXO_FRAGMENTOS
from .pacote import chave_pacote
from .repositorio import (
    CHAVE_CABECALHO,
    FORMATO_REPOSITORIO,
    Repositorio,
    cabecalho_novo,
    ler_cabecalho,
    serializar_cabecalho,
)
from .sidecar import PREFIXO as PREFIXO_MODELOS
from .sidecar import Sidecar, versao_da_chave
from .trava import travar

log = logging.getLogger("SistemaBackup")

# (etapa, increment done, total of the step): "migrando" and "conferindo" count
# bytes, "convertendo" sidecars, "apagando" v1 objects.
ProgressoMigracao = Callable[[str, int, int], None]

PREFIXO_V1 = "objetos/"
# Close a write session (packs + one index fragment) after this much input.
LOTE_BYTES = 256 << 20
# Files format 1 kept inside the repository that now live per machine.
ARQUIVOS_POR_MAQUINA_V1 = (
    "indice.sqlite",
    "indice.sqlite-wal",
    "indice.sqlite-shm",
    "indice.sqlite-journal",
    "daemon.pid",
    "daemon_estado.json",
    "cache_varredura.json",
)
PREFIXO_TRAVAS_V1 = "travas/"
ESPERA_TRAVA_S = 10.0

_ID = re.compile(r"^[0-9a-f]{64}$")
_ID_REPOSITORIO = re.compile(r"^[0-9a-f]{32}$")
_V1_FORMATO_OBJETO = 1
_V1_FLAG_ZSTD = 0x01
_V1_FLAG_CRIPTO = 0x02


def migrar_repositorio(
    cfg: dict[str, Any],
    progresso: ProgressoMigracao | None = None,
    *,
    backend: Backend | None = None,
    lote_bytes: int = LOTE_BYTES,
) -> dict[str, Any]:
    """Migrate the format 1 repository at the loaded `cfg`'s `diretorios.base`.

    Returns a report. Safe to run again after any interruption; on a format 2
    repository it does nothing and says so (`ja_migrado`). `backend` replaces
    the one built from the address (tests inject faults through it).
    """
    endereco = cfg["diretorios"]["base"]
    backend = backend or backend_para(endereco)
    inicio = time.monotonic()
    cab = _ler_cabecalho_v1_ou_v2(backend)
    if cab.get("formato") == FORMATO_REPOSITORIO and not cab.get("migracao_pendente"):
        log.info("Migração: %s já está no formato 2", backend.descrever())
        return _relatorio_vazio(backend, cab, ja_migrado=True)
    if backend.somente_leitura:
        raise ErroPermissao(
            f"{backend.descrever()}: o repositório é somente leitura; a migração "
            "precisa gravar nele (monte-o com escrita e rode `migrar` de novo)"
        )
    estado = cfg["diretorios"]["estado"]
    local = Path(endereco) if e_local(endereco) else None
    with ExitStack() as pilha:
        pilha.enter_context(
            travar(
                pasta_estado(
                    cab["id"], estado, lugar_do_repositorio(backend.descrever())
                )
                / "travas"
                / "repositorio.lock",
                espera=ESPERA_TRAVA_S,
                descricao=f"{backend.descrever()}: repositório",
            )
        )
        cab = _ler_cabecalho_v1_ou_v2(backend)  # another migrar may have finished
        if cab.get("formato") == FORMATO_REPOSITORIO:
            if not cab.get("migracao_pendente"):
                return _relatorio_vazio(backend, cab, ja_migrado=True)
        elif local is not None:
            _exigir_sem_processos_v1(local, pilha)
        perf = cfg["performance"]
        pendente = cab.get("formato") == FORMATO_REPOSITORIO
        novo = cab if pendente else _cabecalho_migrado(cab)
        repo = Repositorio(
            backend,
            novo,
            estado=estado,
            threads=perf["threads_backup"],
            threads_compressao=perf["threads_compressao"],
            buffer_mb=perf["buffer_size_mb"],
            cache_mb=perf["cache_size_mb"],
            nivel_compressao=perf["nivel_compressao"],
        )
        try:
            rel = _Migracao(repo, progresso, lote_bytes, local).executar(novo, pendente)
        finally:
            repo.fechar()
    rel["duracao_s"] = round(time.monotonic() - inicio, 3)
    log.info(
        "Migração concluída: %d objetos migrados, %d versões convertidas, "
        "%d pacotes criados, %s -> %s bytes em %.1fs",
        rel["objetos_migrados"],
        rel["versoes_convertidas"],
        rel["pacotes_criados"],
        rel["bytes_antes"],
        rel["bytes_depois"],
        rel["duracao_s"],
    )
    return rel


def _ler_cabecalho_v1_ou_v2(backend: Backend) -> dict[str, Any]:
    cab = ler_cabecalho(backend)
    if cab is None:
        raise ErroRepositorio(
            f"{backend.descrever()}: repositório não encontrado (sem "
            f"{CHAVE_CABECALHO}); confira --base / diretorios.base"
        )
    formato = cab.get("formato")
    if formato not in (1, FORMATO_REPOSITORIO):
        raise ErroRepositorio(
            f"{backend.descrever()}/{CHAVE_CABECALHO}: formato de repositório "
            f"{formato!r} desconhecido; `migrar` converte o formato 1 no formato "
            f"{FORMATO_REPOSITORIO}"
        )
    if not isinstance(cab.get("id"), str) or not _ID_REPOSITORIO.match(cab["id"]):
        raise ErroRepositorio(
            f"{backend.descrever()}/{CHAVE_CABECALHO}: id do repositório inválido"
        )
    if formato == 1 and (
        cab.get("criptografia") is not None
        or cab.get("hash_bloco", "blake3") != "blake3"
    ):
        raise ErroNaoSuportado(
            f"{backend.descrever()}/{CHAVE_CABECALHO}: repositório do formato 1 "
            "com criptografia ou hash de bloco diferente de blake3; a migração "
            "não sabe convertê-lo"
        )
    return cab


def _cabecalho_migrado(v1: dict[str, Any]) -> dict[str, Any]:
    """The format 2 header of a migrated repository: same id, chunker, birth."""
    novo = cabecalho_novo(v1["id"])
    if isinstance(v1.get("fragmentacao"), dict):
        novo["fragmentacao"] = v1["fragmentacao"]
    if isinstance(v1.get("criado_em"), str):
        novo["criado_em"] = v1["criado_em"]
    novo["migrado_de"] = 1
    novo["migrado_em"] = agora_iso()
    novo["migracao_pendente"] = True
    return novo


def _exigir_sem_processos_v1(base: Path, pilha: ExitStack) -> None:
    """Refuse while a format 1 daemon runs; hold the v1 repository lock.

    Format 1 processes still running the old code lock `<base>/daemon.pid` and
    `<base>/travas/repositorio.lock` (shared during a backup). Holding the
    latter exclusive keeps an old backup from adding objects mid-migration.
    """
    pid = base / "daemon.pid"
    if pid.is_file():
        fd = os.open(pid, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            numero = pid.read_text(errors="replace").strip()
            raise ErroTrava(
                f"{pid}: um daemon da versão anterior está rodando (PID {numero}); "
                "pare-o antes de migrar (`kill "
                f"{numero}`) e rode `migrar` de novo"
            ) from None
        finally:
            os.close(fd)
    if (base / "travas").is_dir():
        pilha.enter_context(
            travar(
                base / "travas" / "repositorio.lock",
                espera=ESPERA_TRAVA_S,
                descricao=f"{base}: repositório (processo da versão anterior)",
            )
        )


def _relatorio_vazio(
    backend: Backend, cab: dict[str, Any], *, ja_migrado: bool
) -> dict[str, Any]:
    return {
        "base": backend.descrever(),
        "id": cab.get("id"),
        "ja_migrado": ja_migrado,
        "retomada": False,
        "objetos_migrados": 0,
        "objetos_ja_migrados": 0,
        "objetos_corrompidos": [],
        "objetos_ausentes": [],
        "versoes_danificadas": [],
        "metadados_ilegiveis": [],
        "bytes_antes": 0,
        "bytes_depois": 0,
        "pacotes_criados": 0,
        "versoes_convertidas": 0,
        "versoes_mantidas_esquema_1": [],
        "objetos_antigos_apagados": 0,
        "arquivos_antigos_apagados": [],
        "duracao_s": 0.0,
    }


def decodificar_objeto_v1(id_bloco: str, bruto: bytes) -> bytes | memoryview:
    """A format 1 object's plaintext, checked against its id (BLAKE3)."""
    if len(bruto) < 2 or bruto[0] != _V1_FORMATO_OBJETO:
        raise ErroObjetoCorrompido(
            f"objeto {id_bloco}: cabeçalho inválido (truncado ou corrompido)", id_bloco
        )
    flags = bruto[1]
    if flags & ~(_V1_FLAG_ZSTD | _V1_FLAG_CRIPTO) or flags & _V1_FLAG_CRIPTO:
        raise ErroObjetoCorrompido(
            f"objeto {id_bloco}: flags {flags:#04x} inválidas (corrompido)", id_bloco
        )
    dados: bytes | memoryview = memoryview(bruto)[2:]
    if flags & _V1_FLAG_ZSTD:
        try:
            dados = zstandard.ZstdDecompressor().decompress(dados)
        except zstandard.ZstdError:
            raise ErroObjetoCorrompido(
                f"objeto {id_bloco}: dados comprimidos corrompidos (o zstd os recusou)",
                id_bloco,
            ) from None
    if blake3.blake3(dados).hexdigest() != id_bloco:
        raise ErroObjetoCorrompido(
            f"objeto {id_bloco}: conteúdo não confere com o hash (corrompido)",
            id_bloco,
        )
    return dados


def _id_objeto_v1(chave: str) -> str | None:
    """The chunk id of a v1 object key; None for anything else (temp files)."""
    partes = chave[len(PREFIXO_V1) :].split("/")
    if len(partes) == 2 and _ID.match(partes[1]) and partes[1][:2] == partes[0]:
        return partes[1]
    return None


class _Migracao:
    """One run of steps A-F over an open (not yet written) format 2 repository."""

    def __init__(
        self,
        repo: Repositorio,
        progresso: ProgressoMigracao | None,
        lote_bytes: int,
        local: Path | None,
    ) -> None:
        self.repo = repo
        self.backend = repo.backend
        self.progresso = progresso
        self.lote_bytes = max(1, lote_bytes)
        self.local = local
        self.rel = _relatorio_vazio(self.backend, repo.cabecalho, ja_migrado=False)
        self.corrompidos: dict[str, str] = {}

    def _avancar(self, etapa: str, feito: int, total: int) -> None:
        if self.progresso is not None:
            self.progresso(etapa, feito, total)

    def executar(self, cabecalho: dict[str, Any], pendente: bool) -> dict[str, Any]:
        self.rel["retomada"] = pendente
        log.info(
            "Migração do formato 1 de %s%s",
            self.backend.descrever(),
            " (retomada após o ponto de virada)" if pendente else "",
        )
        self._etapa_a()
        if not pendente:
            self._etapa_b()
            self._gravar_cabecalho(cabecalho)  # C: the commit point
            log.info("Migração: cabeçalho do formato 2 gravado (migração pendente)")
        elif self.corrompidos:
            self._anotar_versoes_danificadas({}, set())
        self._etapa_d()
        self._etapa_e()
        final = {k: v for k, v in cabecalho.items() if k != "migracao_pendente"}
        self._gravar_cabecalho(final)  # F
        self.repo.cabecalho = final
        self.rel["bytes_depois"] = self.repo.tamanho_pacotes()[1]
        return self.rel

    def _gravar_cabecalho(self, cab: dict[str, Any]) -> None:
        self.backend.gravar(CHAVE_CABECALHO, serializar_cabecalho(cab))

    def _objetos_v1(self) -> Iterator[tuple[str, str | None, int]]:
        """(key, chunk id or None for a stray temp file, size) of each v1 object."""
        for info in self.backend.listar(PREFIXO_V1):
            yield info.chave, _id_objeto_v1(info.chave), info.tamanho

    # -- A -------------------------------------------------------------------------
    def _etapa_a(self) -> None:
        objetos = self.repo.objetos
        objetos.atualizar_indice(forcar=True)
        # Packs a killed run wrote without their fragment: index them, not redo them.
        objetos.reconstruir_de_pacotes(exclusiva=True)
        indice = self.repo.indice_blocos
        # Two listings instead of one list in memory: millions of v1 objects.
        total = n = 0
        for _, id_bloco, tamanho in self._objetos_v1():
            if id_bloco is None:
                continue
            self.rel["bytes_antes"] += tamanho
            if indice.contem(id_bloco):
                self.rel["objetos_ja_migrados"] += 1
            else:
                total += tamanho
                n += 1
        log.info(
            "Migração: %d objetos a migrar (%d bytes), %d já migrados",
            n,
            total,
            self.rel["objetos_ja_migrados"],
        )
        self._exigir_espaco(total)
        lote: list[tuple[str, str, int]] = []
        soma = 0
        with ThreadPoolExecutor(
            max(1, self.repo.threads), thread_name_prefix="migracao"
        ) as pool:
            for chave, id_bloco, tamanho in self._objetos_v1():
                if id_bloco is None or indice.contem(id_bloco):
                    continue
                lote.append((chave, id_bloco, tamanho))
                soma += tamanho
                if soma >= self.lote_bytes:
                    self._migrar_lote(pool, lote, total)
                    lote, soma = [], 0
            if lote:
                self._migrar_lote(pool, lote, total)

    def _exigir_espaco(self, necessario: int) -> None:
        """Packs are written before the old objects go: both must fit at once."""
        if self.local is None or not necessario:
            return
        livre = shutil.disk_usage(self.local).free
        if necessario > livre:
            mb = 1 << 20
            raise ErroEspacoInsuficiente(
                f"{self.local}: espaço insuficiente para migrar: os blocos são "
                "copiados para pacotes antes de os objetos antigos serem apagados, "
                f"então são precisos ~{necessario // mb + 1} MB livres e há "
                f"{livre // mb} MB. Libere espaço e rode `migrar` de novo (nada foi "
                "perdido)."
            )

    def _migrar_lote(
        self, pool: ThreadPoolExecutor, lote: list[tuple[str, str, int]], total: int
    ) -> None:
        sessao = self.repo.sessao()

        def migrar_um(item: tuple[str, str, int]) -> tuple[str, int, str | None]:
            chave, id_bloco, tamanho = item
            try:
                dados = decodificar_objeto_v1(id_bloco, self.backend.ler(chave))
            except ErroIntegridade as e:  # corrupt, or vanished (ErroChaveAusente)
                return id_bloco, tamanho, str(e)
            sessao.gravar(id_bloco, memoryview(dados))
            return id_bloco, tamanho, None

        try:
            for id_bloco, tamanho, erro in pool.map(migrar_um, lote):
                if erro is None:
                    self.rel["objetos_migrados"] += 1
                else:
                    log.error("Migração: objeto do formato 1 ignorado: %s", erro)
                    self.corrompidos[id_bloco] = erro
                self._avancar("migrando", tamanho, total)
            sessao.concluir()
        except BaseException:
            pool.shutdown(cancel_futures=True)  # Ctrl+C: don't finish the batch
            sessao.abortar()
            raise
        self.rel["pacotes_criados"] += len(sessao.pacotes_gravados)

    # -- B -------------------------------------------------------------------------
    def _etapa_b(self) -> None:
        """Nothing is deleted unless every v1 object and every used chunk is safe."""
        indice = self.repo.indice_blocos
        faltam = [
            i
            for _, i, _ in self._objetos_v1()
            if i is not None and i not in self.corrompidos and not indice.contem(i)
        ]
        if faltam:
            raise ErroIntegridade(
                f"migração interrompida: {len(faltam)} objeto(s) do formato 1 não "
                f"chegaram aos pacotes (ex.: {faltam[0]}); nada foi apagado e o "
                "repositório segue no formato 1. Rode `migrar` de novo."
            )
        total = self.repo.tamanho_pacotes()[1]
        rel = self.repo.verificar(
            progresso=lambda n: self._avancar("conferindo", n, total)
        )
        ruins: dict[str, set[str]] = {}
        for p in rel["problemas"]:
            if p["tipo"] == "metadado":
                self.rel["metadados_ilegiveis"].append(
                    f"{p['modelo']} {p['versao']}: {p['mensagem']}"
                )
            elif p["tipo"] == "objeto":
                ruins.setdefault(p["objeto"], set()).add(f"{p['modelo']} {p['versao']}")
        ausentes = set()
        defeituosos: dict[str, str] = {}  # chunk id -> its new pack
        for id_bloco in ruins:
            if id_bloco in self.corrompidos:
                continue
            if self.backend.existe(f"{PREFIXO_V1}{id_bloco[:2]}/{id_bloco}"):
                # verificar already set a damaged chunk's row aside.
                loc = indice.local(id_bloco) or indice.local_danificado(id_bloco)
                defeituosos[id_bloco] = loc.pacote if loc else ""
            else:
                ausentes.add(id_bloco)  # missing already in format 1: nothing to lose
        if defeituosos:
            self._descartar_pacotes({p for p in defeituosos.values() if p})
            exemplo = next(iter(defeituosos))
            raise ErroIntegridade(
                f"migração interrompida: {len(defeituosos)} bloco(s) não conferem "
                f"nos pacotes novos (ex.: {exemplo}, usado por "
                f"{', '.join(sorted(ruins[exemplo]))}). Nada foi apagado: o "
                "repositório segue no formato 1 e os pacotes com defeito foram "
                "descartados. Confira o disco e rode `migrar` de novo."
            )
        self._anotar_versoes_danificadas(ruins, ausentes)
        log.info(
            "Migração: %d versões conferidas nos pacotes novos",
            rel["versoes_verificadas"],
        )

    def _descartar_pacotes(self, pacotes: set[str]) -> None:
        """Drop new packs that failed the check, and every fragment.

        Before the commit point no version uses a pack, so this loses nothing;
        the next run rebuilds the index of the good packs from their trailers
        (a fragment that vanished empties the per-machine index) and migrates
        the dropped chunks again.
        """
        for id_pacote in sorted(pacotes):
            log.error("Migração: pacote novo com defeito descartado: %s", id_pacote)
            self.backend.apagar(chave_pacote(id_pacote))
        for info in self.backend.listar(PREFIXO_FRAGMENTOS):
            self.backend.apagar(info.chave)

    def _anotar_versoes_danificadas(
        self, ruins: dict[str, set[str]], ausentes: set[str]
    ) -> None:
        if not ruins and self.corrompidos:  # resumed: look the users up
            for modelo, versao, sc in self.repo.iterar_sidecars():
                if isinstance(sc, ErroBackup):
                    continue
                for id_bloco, _ in sc.blocos():
                    if id_bloco in self.corrompidos:
                        ruins.setdefault(id_bloco, set()).add(f"{modelo} {versao}")
        self.rel["objetos_corrompidos"] = [
            {"objeto": i, "motivo": m, "versoes": sorted(ruins.get(i, ()))}
            for i, m in sorted(self.corrompidos.items())
        ]
        self.rel["objetos_ausentes"] = [
            {"objeto": i, "versoes": sorted(ruins[i])} for i in sorted(ausentes)
        ]
        danificadas = set().union(*ruins.values()) if ruins else set()
        self.rel["versoes_danificadas"] = sorted(danificadas)
        for v in sorted(danificadas):
            log.error(
                "Migração: versão %s já estava danificada no formato 1 (bloco "
                "corrompido ou ausente); as demais seguem restauráveis",
                v,
            )

    # -- D -------------------------------------------------------------------------
    def _etapa_d(self) -> None:
        chaves = []
        for info in self.backend.listar(PREFIXO_MODELOS):
            achada = versao_da_chave(info.chave)
            if achada is not None:
                chaves.append((info.chave, *achada))
        for chave, modelo, versao in sorted(chaves):
            self._converter_sidecar(chave, modelo, versao)
            self._avancar("convertendo", 1, len(chaves))

    def _converter_sidecar(self, chave: str, modelo: str, versao: str) -> None:
        origem = f"{self.backend.descrever()}/{chave}"
        try:
            bruto = self.backend.ler(chave)
            dados = json.loads(bruto)
            if not isinstance(dados, dict) or dados.get("esquema") != 1:
                return  # schema 2 already (or unreadable: reported by step B)
            sc = Sidecar.ler(bruto, modelo=modelo, versao=versao, origem=origem)
        except (ErroBackup, ValueError, UnicodeDecodeError) as e:
            log.warning("Migração: metadado %s mantido como está: %s", origem, e)
            return
        novo = dataclasses.replace(sc, esquema=2).bytes_canonicos()
        antes = {k: v for k, v in dados.items() if k != "esquema"}
        depois = {k: v for k, v in json.loads(novo).items() if k != "esquema"}
        if antes != depois:
            # A field schema 2 does not know: keep the original (schema 1 is read).
            log.warning(
                "Migração: %s mantido no esquema 1 (campos que o esquema 2 não "
                "guarda: %s)",
                origem,
                ", ".join(sorted(set(antes) ^ set(depois))) or "valores",
            )
            self.rel["versoes_mantidas_esquema_1"].append(f"{modelo} {versao}")
            return
        self.backend.gravar(chave, novo)  # the one sidecar overwrite (docstring)
        self.rel["versoes_convertidas"] += 1

    # -- E -------------------------------------------------------------------------
    def _etapa_e(self) -> None:
        antigos = list(self._objetos_v1())
        for chave, _, _ in antigos:
            self.backend.apagar(chave)
            self.rel["objetos_antigos_apagados"] += 1
            self._avancar("apagando", 1, len(antigos))
        arquivos = [
            *ARQUIVOS_POR_MAQUINA_V1,
            *(
                i.chave
                for i in self.backend.listar(PREFIXO_TRAVAS_V1)
                if i.chave.endswith(".lock")
            ),
        ]
        for chave in arquivos:
            if self.backend.existe(chave):
                self.backend.apagar(chave)
                self.rel["arquivos_antigos_apagados"].append(chave)
        if self.local is not None:
            _remover_pastas_vazias(self.local / PREFIXO_V1.rstrip("/"))
            _remover_pastas_vazias(self.local / PREFIXO_TRAVAS_V1.rstrip("/"))
        log.info(
            "Migração: %d objetos do formato 1 e %d arquivos por máquina apagados",
            self.rel["objetos_antigos_apagados"],
            len(self.rel["arquivos_antigos_apagados"]),
        )


def _remover_pastas_vazias(raiz: Path) -> None:
    """rmdir the now empty folders of a local repository (never a file)."""
    if not raiz.is_dir():
        return
    for pasta, _, _ in sorted(os.walk(raiz), key=lambda t: -len(t[0])):
        with contextlib.suppress(OSError):  # not empty: a file someone left
            os.rmdir(pasta)
