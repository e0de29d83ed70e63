"""The repository: format header, version sidecars over chunk objects, locks.

Write order (docs/FORMATO.md): chunks (fsynced, renamed) -> their folders
fsynced -> sidecar created exclusively -> index. A crash leaves at worst
orphan chunks, never a sidecar that points at a missing chunk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..erros import (
    ErroBackup,
    ErroIntegridade,
    ErroObjetoCorrompido,
    ErroRepositorio,
    ErroRestauracao,
    ErroVersaoNaoEncontrada,
)
from ..politica.versoes import Versao, e_versao
from .backend import BackendLocal, traduzir_erro_os
from .escrita_atomica import SUFIXO_TEMP, escrever_json_atomico, sincronizar_pasta
from .fluxo import (
    CDC_MAXIMO,
    CDC_MEDIO,
    CDC_MINIMO,
    GravadorBlocos,
    Progresso,
    escrever_blocos,
)
from .indice import SUFIXO_FIXADA, Indice
from .metadados import (
    PREFIXO,
    caminho_entrada_seguro,
    chave_sidecar,
    ler_sidecar,
    serializar_sidecar,
    validar_nome_modelo,
)
from .objetos import PREFIXO as PREFIXO_OBJETOS
from .objetos import ArmazemObjetos, chave_objeto

log = logging.getLogger("SistemaBackup")

FORMATO_REPOSITORIO = 1
ARQUIVO_CABECALHO = "repositorio.json"


def agora_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cabecalho_novo() -> dict[str, Any]:
    return {
        "formato": FORMATO_REPOSITORIO,
        "id": uuid.uuid4().hex,
        "criado_em": agora_iso(),
        "fragmentacao": {
            "algoritmo": "fastcdc2020",
            "medio": CDC_MEDIO,
            "minimo": CDC_MINIMO,
            "maximo": CDC_MAXIMO,
        },
        "hash_bloco": "blake3",
        "hash_arquivo": "sha256",
        "compressao": "zstd",
        "criptografia": None,
    }


class Repositorio:
    """One repository folder (format v1) on the local backend."""

    def __init__(
        self,
        base: Path,
        cabecalho: dict[str, Any],
        *,
        threads: int = 2,
        buffer_mb: int = 128,
        cache_mb: int = 256,
        nivel_compressao: int = 1,
        threads_compressao: int = 2,
    ) -> None:
        self.base = base
        self.cabecalho = cabecalho
        self.backend = BackendLocal(base)
        self.objetos = ArmazemObjetos(
            self.backend, nivel_compressao, threads_compressao
        )
        self.threads = threads
        self.buffer_mb = buffer_mb
        self.indice = Indice(base / "indice.sqlite", base, cache_mb)

    # -- opening -----------------------------------------------------------------
    @classmethod
    def abrir(cls, base: Path, *, criar: bool = True, **opcoes: Any) -> Repositorio:
        arquivo = base / ARQUIVO_CABECALHO
        try:
            if not arquivo.exists():
                if not criar:
                    raise ErroRepositorio(
                        f"{base}: repositório não encontrado; crie-o com o primeiro "
                        "backup (`inicializar_backup.py backup --modelo ARQUIVO`) ou "
                        "confira diretorios.base / --base"
                    )
                cls._inicializar(base)
            cabecalho = cls._ler_cabecalho(arquivo)
            return cls(base, cabecalho, **opcoes)
        except OSError as e:
            raise traduzir_erro_os(e, str(base)) from e

    @staticmethod
    def _inicializar(base: Path) -> None:
        if base.exists() and not base.is_dir():
            raise ErroRepositorio(
                f"{base}: existe e não é uma pasta; escolha outro diretorios.base"
            )
        if base.is_dir():
            estranhos = [
                p.name
                for p in base.iterdir()
                if p.name not in {"logs", "travas", PREFIXO, PREFIXO_OBJETOS}
            ]
            if estranhos:
                raise ErroRepositorio(
                    f"{base}: a pasta não está vazia e não é um repositório de backup "
                    f"(contém {', '.join(sorted(estranhos)[:5])}); use uma pasta nova"
                )
        for sub in (PREFIXO_OBJETOS, PREFIXO, "logs", "travas"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        # Exclusive create: two processes initialising at once agree on one header.
        escrever_json_atomico(
            base / ARQUIVO_CABECALHO, _cabecalho_novo(), exclusivo=True
        )

    @staticmethod
    def _ler_cabecalho(arquivo: Path) -> dict[str, Any]:
        try:
            cabecalho = json.loads(arquivo.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ErroRepositorio(
                f"{arquivo}: cabeçalho do repositório ilegível ({e})"
            ) from None
        formato = cabecalho.get("formato") if isinstance(cabecalho, dict) else None
        if formato != FORMATO_REPOSITORIO:
            raise ErroRepositorio(
                f"{arquivo}: formato de repositório {formato!r} desconhecido; "
                f"esta versão lê o formato {FORMATO_REPOSITORIO}. Atualize o "
                "backup_versionamento ou "
                "use outra pasta."
            )
        return cabecalho

    def fechar(self) -> None:
        self.indice.fechar()

    # -- locks -------------------------------------------------------------------
    def caminho_trava(self, nome: str) -> Path:
        return self.base / "travas" / f"{nome}.lock"

    # -- writing -----------------------------------------------------------------
    def gravar_conteudo(
        self, origem: Path, progresso: Progresso | None = None
    ) -> dict[str, Any]:
        """Chunk a file or a folder into objects; return the sidecar's content part.

        Nothing here is visible until `publicar` writes the sidecar.
        """
        frag = self.cabecalho["fragmentacao"]
        gravador = GravadorBlocos(
            self.objetos,
            threads=self.threads,
            buffer_mb=self.buffer_mb,
            medio=frag["medio"],
            minimo=frag["minimo"],
            maximo=frag["maximo"],
        )
        pastas: set[str] = set()
        entradas: list[dict[str, Any]] = []
        novos = 0
        avisos: list[str] = []

        def arquivo(caminho: Path, nome: str) -> None:
            nonlocal novos
            antes = os.stat(caminho)
            with open(caminho, "rb", buffering=0) as f:
                res = gravador.gravar_arquivo(f, progresso)
            depois = os.stat(caminho)
            if (antes.st_mtime_ns, antes.st_size) != (
                depois.st_mtime_ns,
                depois.st_size,
            ) or res.tamanho != depois.st_size:
                raise ErroIntegridade(
                    f"{caminho}: o arquivo mudou durante o backup; espere a escrita "
                    "terminar e tente de novo (nada foi gravado)"
                )
            novos += res.bytes_novos
            pastas.update(res.pastas_tocadas)
            entradas.append(
                {
                    "caminho": nome,
                    "tipo": "arquivo",
                    "modo": stat.S_IMODE(depois.st_mode),
                    "tamanho": res.tamanho,
                    "sha256": res.sha256,
                    "blocos": [list(b) for b in res.blocos],
                }
            )

        try:
            if origem.is_dir():
                tipo = "diretorio"
                for pasta, subpastas, nomes in os.walk(origem):
                    subpastas.sort()
                    rel_pasta = Path(pasta).relative_to(origem)
                    for sub in list(subpastas):
                        if (Path(pasta) / sub).is_symlink():
                            avisos.append(f"link simbólico ignorado: {rel_pasta / sub}")
                            subpastas.remove(sub)
                            continue
                        entradas.append(
                            {
                                "caminho": (rel_pasta / sub).as_posix(),
                                "tipo": "diretorio",
                                "modo": stat.S_IMODE(
                                    os.stat(Path(pasta) / sub).st_mode
                                ),
                            }
                        )
                    for nome in sorted(nomes):
                        cam = Path(pasta) / nome
                        rel = (rel_pasta / nome).as_posix()
                        if cam.is_symlink() or not cam.is_file():
                            avisos.append(f"ignorado (não é arquivo comum): {rel}")
                            continue
                        arquivo(cam, rel)
            else:
                tipo = "arquivo"
                arquivo(origem, origem.name)
        except OSError as e:
            raise traduzir_erro_os(e, e.filename or str(origem)) from e
        self.backend.sincronizar_pastas(pastas)
        for a in avisos:
            log.warning("%s: %s", origem, a)
        tamanho = sum(e.get("tamanho", 0) for e in entradas)
        if tipo == "arquivo":
            sha = entradas[0]["sha256"]
        else:
            sha = _digest_diretorio(entradas)
        return {
            "tipo": tipo,
            "entradas": entradas,
            "tamanho": tamanho,
            "sha256": sha,
            "tamanho_armazenado": novos,
            "avisos": avisos,
        }

    def publicar(self, sidecar: dict[str, Any]) -> bool:
        """Create the sidecar exclusively; False if that version already exists."""
        chave = chave_sidecar(sidecar["modelo"], sidecar["versao"])
        criado = self.backend.gravar(
            chave, [serializar_sidecar(sidecar)], exclusivo=True
        )
        if criado:
            self.indice.registrar(sidecar)
        return criado

    # -- reading -----------------------------------------------------------------
    def modelos(self) -> list[str]:
        return self.indice.modelos()

    def versoes(self, modelo: str) -> list[dict[str, Any]]:
        validar_nome_modelo(modelo)
        return self.indice.versoes(modelo)

    def ultima_versao(self, modelo: str) -> Versao | None:
        """Highest version on disk (read from the folder, not the cache)."""
        pasta = self.base / PREFIXO / modelo
        try:
            nomes = os.listdir(pasta)
        except FileNotFoundError:
            return None
        versoes = [
            Versao.ler(n[:-5])
            for n in nomes
            if n.endswith(".json") and e_versao(n[:-5])
        ]
        return max(versoes) if versoes else None

    def ler_versao(self, modelo: str, versao: str) -> dict[str, Any]:
        validar_nome_modelo(modelo)
        chave = chave_sidecar(modelo, versao)
        try:
            bruto = self.backend.ler(chave)
        except FileNotFoundError:
            if not (self.base / PREFIXO / modelo).is_dir():
                raise ErroVersaoNaoEncontrada(
                    f"modelo {modelo!r} não tem backups neste repositório "
                    f"({self.base}); "
                    "veja os modelos com `inicializar_backup.py listar`"
                ) from None
            raise ErroVersaoNaoEncontrada(
                f"versão {versao} do modelo {modelo!r} não existe; veja as versões com "
                f"`inicializar_backup.py listar --modelo {modelo}`"
            ) from None
        return ler_sidecar(bruto, str(self.backend.caminho(chave)))

    def fixar(self, modelo: str, versao: str, fixa: bool) -> None:
        self.ler_versao(modelo, versao)  # must exist and be readable
        marca = self.base / PREFIXO / modelo / f"{versao}{SUFIXO_FIXADA}"
        if fixa:
            marca.touch()
        else:
            marca.unlink(missing_ok=True)
        sincronizar_pasta(marca.parent)

    def remover_versao(self, modelo: str, versao: str) -> None:
        """Delete a version's sidecar (retention); its chunks go in the next GC."""
        pasta = self.base / PREFIXO / modelo
        (pasta / f"{versao}.json").unlink(missing_ok=True)
        (pasta / f"{versao}{SUFIXO_FIXADA}").unlink(missing_ok=True)
        sincronizar_pasta(pasta)
        self.indice.esquecer(modelo, versao)

    # -- restore -----------------------------------------------------------------
    def restaurar(
        self,
        sidecar: dict[str, Any],
        destino: Path,
        *,
        sobrescrever: bool = False,
        progresso: Progresso | None = None,
    ) -> Path:
        """Rebuild a version at `destino`, verified, then renamed into place."""
        final = destino
        if destino.is_dir():
            final = destino / sidecar["modelo"]
        if final.exists() or final.is_symlink():
            if not sobrescrever:
                raise ErroRestauracao(
                    f"{final}: já existe; escolha outro destino ou use --sobrescrever "
                    "(sobrescrever=True na API)"
                )
            if final.is_dir() != (sidecar["tipo"] == "diretorio") or final.is_symlink():
                raise ErroRestauracao(
                    f"{final}: existe e é de outro tipo; não será substituído"
                )
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if sidecar["tipo"] == "arquivo":
                self._restaurar_arquivo(
                    sidecar["entradas"][0], final, sobrescrever, progresso
                )
            else:
                self._restaurar_diretorio(sidecar, final, sobrescrever, progresso)
        except OSError as e:
            raise traduzir_erro_os(e, e.filename or str(final)) from e
        return final

    def _escrever_entrada(
        self, ent: dict[str, Any], fd: int, nome: str, progresso: Progresso | None
    ) -> None:
        blocos = [(b[0], b[1]) for b in ent["blocos"]]
        tamanho, sha = escrever_blocos(
            fd, self.objetos, blocos, threads=self.threads, progresso=progresso
        )
        if tamanho != ent["tamanho"] or sha != ent["sha256"]:
            raise ErroIntegridade(
                f"{nome}: SHA-256 do arquivo restaurado não confere "
                "com o registrado; restauração abortada"
            )
        os.fchmod(fd, ent.get("modo", 0o644) & 0o777)
        os.fsync(fd)

    def _restaurar_arquivo(
        self,
        ent: dict[str, Any],
        final: Path,
        sobrescrever: bool,
        progresso: Progresso | None,
    ) -> None:
        fd, temp = tempfile.mkstemp(
            dir=final.parent, prefix=f".{final.name}.", suffix=".restaurando"
        )
        try:
            try:
                self._escrever_entrada(ent, fd, ent["caminho"], progresso)
            finally:
                os.close(fd)
            if sobrescrever:
                os.replace(temp, final)
            else:
                try:
                    os.link(temp, final)
                except FileExistsError:
                    raise ErroRestauracao(
                        f"{final}: já existe; use --sobrescrever"
                    ) from None
                os.unlink(temp)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        sincronizar_pasta(final.parent)

    def _restaurar_diretorio(
        self,
        sidecar: dict[str, Any],
        final: Path,
        sobrescrever: bool,
        progresso: Progresso | None,
    ) -> None:
        temp = Path(
            tempfile.mkdtemp(
                dir=final.parent, prefix=f".{final.name}.", suffix=".restaurando"
            )
        )
        try:
            for ent in sidecar["entradas"]:
                rel = caminho_entrada_seguro(ent["caminho"])
                alvo = temp.joinpath(*rel.parts)
                _recusar_pais_link(temp, alvo)
                if ent.get("tipo") == "diretorio":
                    alvo.mkdir(exist_ok=True)
                    continue
                alvo.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(
                    alvo, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600
                )
                try:
                    self._escrever_entrada(ent, fd, ent["caminho"], progresso)
                finally:
                    os.close(fd)
            for ent in sidecar["entradas"]:
                if ent.get("tipo") == "diretorio":
                    os.chmod(temp / ent["caminho"], ent.get("modo", 0o755) & 0o777)
            antigo = None
            if final.exists() and sobrescrever:
                antigo = final.with_name(f".{final.name}.antigo-{uuid.uuid4().hex[:8]}")
                os.rename(final, antigo)
            os.rename(temp, final)
            if antigo:
                shutil.rmtree(antigo)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        sincronizar_pasta(final.parent)

    # -- checking ----------------------------------------------------------------
    def iterar_sidecars(self) -> Iterator[tuple[str, str, dict[str, Any] | ErroBackup]]:
        """Every (modelo, versao, sidecar or the error reading it), from disk."""
        pasta = self.base / PREFIXO
        if not pasta.is_dir():
            return
        for modelo in sorted(os.listdir(pasta)):
            for nome in sorted(os.listdir(pasta / modelo)):
                if not nome.endswith(".json") or not e_versao(nome[:-5]):
                    continue
                versao = nome[:-5]
                try:
                    yield modelo, versao, self.ler_versao(modelo, versao)
                except ErroBackup as e:
                    yield modelo, versao, e

    def verificar(
        self,
        *,
        completa: bool = False,
        modelo: str | None = None,
        progresso: Progresso | None = None,
    ) -> dict[str, Any]:
        """Check sidecars and objects; never raises for what it finds, reports it."""
        inicio = time.monotonic()
        problemas: list[dict[str, Any]] = []
        usos: dict[str, list[tuple[str, str]]] = {}
        sidecars: list[dict[str, Any]] = []
        for mod, versao, sc in self.iterar_sidecars():
            if modelo and mod != modelo:
                continue
            if isinstance(sc, ErroBackup):
                self.indice.esquecer(mod, versao)
                problemas.append(
                    {
                        "tipo": "metadado",
                        "modelo": mod,
                        "versao": versao,
                        "mensagem": str(sc),
                    }
                )
                continue
            sidecars.append(sc)
            for ent in sc["entradas"]:
                for id_bloco, _n in ent.get("blocos", []):
                    usos.setdefault(id_bloco, []).append((mod, versao))
        tamanhos = {
            id_bloco: n
            for sc in sidecars
            for ent in sc["entradas"]
            for id_bloco, n in ent.get("blocos", [])
        }

        def checar(id_bloco: str) -> tuple[str | None, int]:
            """(problem or None, bytes read from disk: the progress unit)."""
            try:
                bruto = self.backend.ler(chave_objeto(id_bloco))
            except FileNotFoundError:
                return f"objeto {id_bloco} ausente do repositório", 0
            except OSError as e:
                return f"objeto {id_bloco}: erro de leitura ({e.strerror})", 0
            try:
                self.objetos.decodificar(id_bloco, bruto, tamanhos[id_bloco])
            except ErroObjetoCorrompido as e:
                return str(e), len(bruto)
            return None, len(bruto)

        ruins: dict[str, str] = {}
        with ThreadPoolExecutor(max(1, self.threads)) as pool:
            for id_bloco, (erro, lidos) in zip(
                usos, pool.map(checar, usos), strict=True
            ):
                if progresso:
                    progresso(lidos)
                if erro:
                    ruins[id_bloco] = erro
        for id_bloco, erro in ruins.items():
            for mod, versao in sorted(set(usos[id_bloco])):
                problemas.append(
                    {
                        "tipo": "objeto",
                        "modelo": mod,
                        "versao": versao,
                        "objeto": id_bloco,
                        "mensagem": erro,
                    }
                )
        if completa:
            for sc in sidecars:
                if any(
                    b[0] in ruins for e in sc["entradas"] for b in e.get("blocos", [])
                ):
                    continue
                problemas.extend(self._verificar_reconstrucao(sc))
        afetadas = sorted({f"{p['modelo']} {p['versao']}" for p in problemas})
        return {
            "ok": not problemas,
            "completa": completa,
            "versoes_verificadas": len(sidecars)
            + sum(p["tipo"] == "metadado" for p in problemas),
            "objetos_verificados": len(usos),
            "versoes_com_problema": afetadas,
            "problemas": problemas,
            "duracao_s": round(time.monotonic() - inicio, 3),
        }

    def _verificar_reconstrucao(self, sc: dict[str, Any]) -> list[dict[str, Any]]:
        saida = []
        with open(os.devnull, "wb") as nulo:
            for ent in sc["entradas"]:
                if ent.get("tipo") == "diretorio":
                    continue
                try:
                    tamanho, sha = escrever_blocos(
                        nulo.fileno(),
                        self.objetos,
                        [(b[0], b[1]) for b in ent["blocos"]],
                        threads=self.threads,
                    )
                except ErroObjetoCorrompido as e:
                    tamanho, sha = -1, str(e)
                if tamanho != ent["tamanho"] or sha != ent["sha256"]:
                    saida.append(
                        {
                            "tipo": "conteudo",
                            "modelo": sc["modelo"],
                            "versao": sc["versao"],
                            "mensagem": f"{ent['caminho']}: SHA-256 reconstruído não "
                            "confere com o registrado",
                        }
                    )
        return saida

    def tamanho_objetos(self) -> tuple[int, int]:
        """(number of objects, bytes on disk) in objetos/."""
        n = total = 0
        raiz = self.base / PREFIXO_OBJETOS
        for sub in os.scandir(raiz) if raiz.is_dir() else []:
            if sub.is_dir():
                for obj in os.scandir(sub.path):
                    if not obj.name.endswith(SUFIXO_TEMP):
                        n += 1
                        total += obj.stat().st_size
        return n, total


def _digest_diretorio(entradas: list[dict[str, Any]]) -> str:
    """One SHA-256 for a directory model: over sorted (kind, path, file sha256)."""
    h = hashlib.sha256()
    for e in sorted(entradas, key=lambda e: e["caminho"]):
        h.update(f"{e['tipo']}\t{e['caminho']}\t{e.get('sha256', '')}\n".encode())
    return h.hexdigest()


def _recusar_pais_link(raiz: Path, alvo: Path) -> None:
    atual = alvo.parent
    while atual != raiz:
        if atual.is_symlink():
            raise ErroRestauracao(
                f"{alvo}: pasta-pai é link simbólico; restauração recusada"
            )
        atual = atual.parent
