"""Tamper-evident audit log: `logs/auditoria.jsonl` (controle_acesso.log_acessos).

One line per action, fed by the event bus: sequence, time, user, host, action,
target, result, the hash of the previous entry and the entry's own hash. Each
entry's hash is also authenticated (HMAC-SHA256 with a key derived from the master
key when the repository is encrypted; else an Ed25519 signature when signing is
on; else nothing), and so is the head (`auditoria.cabeca.json`: last sequence and
hash), which catches entries cut from the end. Without a key the chain still
catches careless edits, but whoever can write the file can rewrite it whole: see
docs/SEGURANCA.md for the limits.

In a repository that hides names (`nomes_chaveados`), the fields that name a
model, a version, a path or a hash (`alvo`, `detalhe`) are stored encrypted
(AES-256-GCM, `CifraCampos`); the chain hashes what is stored, so it is checked
without the key.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import hashlib
import hmac
import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..armazenamento.sidecar import Sidecar
from ..base.escrita import escrever_atomico
from ..base.tempo import agora_iso
from ..eventos import Evento
from ..registro import NOME_LOGGER
from .acesso import usuario_atual

log = logging.getLogger(NOME_LOGGER)

NOME_ARQUIVO = "auditoria.jsonl"
NOME_CABECA = "auditoria.cabeca.json"
HASH_INICIAL = "0" * 64
DOMINIO = b"backup_versionamento/auditoria/v1\x00"
_CAUDA = 64 * 1024
# Events that are not an action of their own (the action's outcome follows).
_IGNORADOS = {"backup_iniciado"}


PREFIXO_CIFRADO = "cifrado:v1:"
CAMPOS_CIFRADOS = ("alvo", "detalhe")


class CifraCampos:
    """Encrypts the fields of an entry that name things (AES-256-GCM, fresh nonce)."""

    def __init__(self, chave: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aes = AESGCM(chave)

    def cifrar(self, campo: str, texto: str) -> str:
        nonce = os.urandom(12)
        ct = self._aes.encrypt(nonce, texto.encode("utf-8"), campo.encode())
        return PREFIXO_CIFRADO + base64.b64encode(nonce + ct).decode("ascii")

    def decifrar(self, campo: str, valor: str) -> str:
        """The clear text of a stored field (as is when it was never encrypted)."""
        if not valor.startswith(PREFIXO_CIFRADO):
            return valor
        bruto = base64.b64decode(valor[len(PREFIXO_CIFRADO) :])
        return self._aes.decrypt(bruto[:12], bruto[12:], campo.encode()).decode()


class Autenticador:
    """Authenticates hashes: HMAC with a derived key, an Ed25519 key, or nothing."""

    def __init__(
        self,
        tipo: str,
        assinar: Callable[[bytes], str] | None = None,
        conferir: Callable[[bytes, str], bool] | None = None,
    ) -> None:
        self.tipo = tipo
        self._assinar = assinar
        self._conferir = conferir

    @classmethod
    def hmac_sha256(cls, chave: bytes) -> Autenticador:
        def assinar(dados: bytes) -> str:
            return hmac.new(chave, dados, hashlib.sha256).hexdigest()

        return cls(
            "hmac-sha256",
            assinar,
            lambda dados, valor: hmac.compare_digest(assinar(dados), str(valor)),
        )

    @classmethod
    def nenhum(cls) -> Autenticador:
        return cls("nenhuma")

    def assinar(self, dados: bytes) -> str | None:
        return self._assinar(DOMINIO + dados) if self._assinar else None

    def conferir(self, dados: bytes, valor: Any) -> bool:
        if self._conferir is None:
            return True
        return isinstance(valor, str) and self._conferir(DOMINIO + dados, valor)


def _canonico(dados: dict[str, Any]) -> bytes:
    return json.dumps(
        dados, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def hash_entrada(entrada: dict[str, Any]) -> str:
    sem = {k: v for k, v in entrada.items() if k not in {"hash", "autenticacao"}}
    return hashlib.sha256(_canonico(sem)).hexdigest()


def _texto_cabeca(seq: int, h: str) -> bytes:
    return f"cabeca:{seq}:{h}".encode()


def _ultima_entrada(fd: int) -> dict[str, Any] | None:
    tamanho = os.fstat(fd).st_size
    if not tamanho:
        return None
    inicio = max(0, tamanho - _CAUDA)
    cauda = os.pread(fd, tamanho - inicio, inicio)
    linhas = [linha for linha in cauda.split(b"\n") if linha.strip()]
    for linha in reversed(linhas):
        try:
            entrada = json.loads(linha)
            if isinstance(entrada, dict) and isinstance(entrada.get("seq"), int):
                return entrada
        except ValueError:
            continue
    return None


def _alvo(dados: dict[str, Any]) -> str:
    partes = [str(dados[k]) for k in ("modelo", "versao") if dados.get(k)]
    if dados.get("alias"):  # an alias move: "m.h5 @producao 1.2.0"
        partes.insert(min(1, len(partes)), f"@{dados['alias']}")
    for k in ("destino", "id", "papel"):
        if not partes and dados.get(k):
            partes.append(str(dados[k]))
    return " ".join(partes)


def _resultado(nome: str) -> str:
    if nome == "acesso_negado":
        return "negado"
    if nome.endswith("_falhou"):
        return "falha"
    return "sucesso"


class LogAuditoria:
    """Bus subscriber: appends one chained entry per action (several processes safe)."""

    def __init__(
        self,
        pasta_logs: Path,
        autenticador: Autenticador,
        id_log: str = "",
        cifra_campos: CifraCampos | None = None,
    ) -> None:
        self.pasta = Path(pasta_logs)
        # Set when the repository hides names: alvo and detalhe are encrypted.
        self.cifra_campos = cifra_campos
        self.arquivo = self.pasta / NOME_ARQUIVO
        self.cabeca = self.pasta / NOME_CABECA
        self.autenticador = autenticador
        self.host = socket.gethostname()
        # Which log an anchor speaks of: the repository's own, or one machine's.
        self.id_log = id_log or f"maquina:{self.host}"
        self._avisado = False
        # A copy of each entry's hash in the bucket (S3 repositories): see testemunhar.
        self.testemunha: Callable[[str, bytes], bool] | None = None
        self._avisado_testemunha = False

    def ancora(self) -> dict[str, Any] | None:
        """The head as it is now, for a version about to be published."""
        try:
            cabeca = json.loads((self.pasta / NOME_CABECA).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(cabeca, dict) or not isinstance(cabeca.get("seq"), int):
            return None
        return {"log": self.id_log, "seq": cabeca["seq"], "hash": cabeca.get("hash")}

    def ancorar(self, sidecar: Sidecar) -> Sidecar:
        ancora = self.ancora()
        if ancora is None:
            return sidecar
        return dataclasses.replace(sidecar, auditoria=ancora)

    def conferir_ancoras(self, sidecars: list[Sidecar]) -> list[dict[str, Any]]:
        """Versions whose recorded audit head this log no longer has.

        Catches a log deleted (with its head), truncated, or replaced by an
        older copy or a new one: anchors live in the authenticated sidecars.
        """
        ancoradas = [
            s for s in sidecars if s.auditoria and s.auditoria.get("log") == self.id_log
        ]
        if not ancoradas:
            return []
        hashes = _hashes_por_seq(self.arquivo)
        problemas = []
        for sc in ancoradas:
            assert sc.auditoria is not None
            seq, h = sc.auditoria.get("seq"), sc.auditoria.get("hash")
            if not isinstance(seq, int) or seq < 1:
                continue
            achado = hashes.get(seq)
            if achado == h:
                continue
            motivo = (
                "não tem essa entrada (apagado ou truncado)"
                if achado is None
                else "tem outra entrada nessa posição (trocado)"
            )
            problemas.append(
                {
                    "tipo": "auditoria",
                    "modelo": sc.modelo,
                    "versao": sc.versao,
                    "mensagem": f"a versão foi publicada depois da entrada {seq} do "
                    f"log de auditoria, mas {self.arquivo} {motivo}",
                }
            )
        return problemas

    def __call__(self, evento: Evento) -> None:
        if evento.nome in _IGNORADOS:
            return
        d = evento.dados
        detalhe = d.get("erro") or d.get("motivo") or ""
        try:
            self.registrar(
                evento.nome,
                _alvo(d),
                _resultado(evento.nome),
                usuario=str(d.get("usuario") or usuario_atual()),
                detalhe=str(detalhe)[:500],
                momento=evento.momento,
            )
        except OSError as e:
            if not self._avisado:
                log.warning("Log de auditoria indisponível (%s): %s", self.arquivo, e)
                self._avisado = True

    def registrar(
        self,
        acao: str,
        alvo: str,
        resultado: str,
        *,
        usuario: str | None = None,
        detalhe: str = "",
        momento: str | None = None,
    ) -> dict[str, Any]:
        """Append one entry under an exclusive flock; update the head."""
        self.pasta.mkdir(parents=True, exist_ok=True)
        # 0640 like every file of a protected repository: the group reads, only
        # the owner writes (the head is replaced by rename: a group writer could
        # append an entry but never move the head, which reads as tampering).
        fd = os.open(self.arquivo, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            ultima = _ultima_entrada(fd)
            entrada: dict[str, Any] = {
                "seq": (ultima["seq"] + 1) if ultima else 1,
                "momento": momento or agora_iso(),
                "usuario": usuario or usuario_atual(),
                "host": self.host,
                "pid": os.getpid(),
                "acao": acao,
                "alvo": alvo,
                "resultado": resultado,
                "anterior": str(ultima.get("hash")) if ultima else HASH_INICIAL,
            }
            if detalhe:
                entrada["detalhe"] = detalhe
            if self.cifra_campos is not None:
                for campo in CAMPOS_CIFRADOS:
                    if campo in entrada:
                        entrada[campo] = self.cifra_campos.cifrar(
                            campo, str(entrada[campo])
                        )
            entrada["hash"] = hash_entrada(entrada)
            aut = self.autenticador.assinar(entrada["hash"].encode())
            if aut is not None:
                entrada["autenticacao"] = aut
            linha = _canonico(entrada) + b"\n"
            escritos = os.write(fd, linha)
            while escritos < len(linha):
                escritos += os.write(fd, linha[escritos:])
            os.fsync(fd)
            cabeca = {
                "seq": entrada["seq"],
                "hash": entrada["hash"],
                "autenticacao_tipo": self.autenticador.tipo,
                "autenticacao": self.autenticador.assinar(
                    _texto_cabeca(entrada["seq"], entrada["hash"])
                ),
            }
            escrever_atomico(self.cabeca, _canonico(cabeca) + b"\n", modo=0o640)
        finally:
            os.close(fd)
        self._testemunhar(entrada)
        return entrada

    def _testemunhar(self, entrada: dict[str, Any]) -> None:
        """Write the entry's hash to the bucket, never to be replaced (Object Lock).

        Only {seq, hash, anterior, autenticacao}: no user, model or path leaves
        this machine. A local log later truncated, deleted or replaced disagrees
        with these witnesses (`auditoria verificar`).
        """
        if self.testemunha is None:
            return
        corpo = {k: entrada[k] for k in _CAMPOS_TESTEMUNHA if k in entrada}
        try:
            self.testemunha(
                chave_testemunha(self.id_log, entrada["seq"]), _canonico(corpo)
            )
        except Exception as e:  # the action already happened: a warning, once
            if not self._avisado_testemunha:
                log.warning(
                    "Testemunha do log de auditoria não gravada no bucket: %s", e
                )
                self._avisado_testemunha = True

    def conferir_testemunhas(
        self, listar: Callable[[str], list[str]], ler: Callable[[str], bytes]
    ) -> str | None:
        """The first disagreement between the local log and the bucket's witnesses."""
        prefixo = f"{PREFIXO_TESTEMUNHAS}{_segmento(self.id_log)}/"
        hashes = _hashes_por_seq(self.arquivo)
        for chave in sorted(listar(prefixo)):
            try:
                t = json.loads(ler(chave))
                seq, h = int(t["seq"]), str(t["hash"])
            except (ValueError, KeyError, TypeError):
                return f"{chave}: testemunha ilegível"
            local = hashes.get(seq)
            if local is None:
                return (
                    f"o bucket guarda a entrada {seq} ({chave}), que o log local "
                    f"{self.arquivo} não tem (apagado, truncado ou reposto)"
                )
            if local != h:
                return (
                    f"a entrada {seq} do log local difere da guardada no bucket "
                    f"({chave}): log trocado"
                )
        return None


PREFIXO_TESTEMUNHAS = "auditoria/"
_CAMPOS_TESTEMUNHA = ("seq", "hash", "anterior", "autenticacao")


def _segmento(id_log: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in id_log)


def chave_testemunha(id_log: str, seq: int) -> str:
    return f"{PREFIXO_TESTEMUNHAS}{_segmento(id_log)}/{seq:012d}.json"


def _hashes_por_seq(arquivo: Path) -> dict[int, str]:
    try:
        bruto = arquivo.read_bytes()
    except OSError:
        return {}
    hashes = {}
    for linha in bruto.split(b"\n"):
        try:
            e = json.loads(linha)
        except ValueError:
            continue
        if isinstance(e, dict) and isinstance(e.get("seq"), int):
            hashes[e["seq"]] = str(e.get("hash"))
    return hashes


def verificar_log(pasta_logs: str | Path, autenticador: Autenticador) -> dict[str, Any]:
    """Check the chain and the head; name the first entry edited, removed, reordered
    or cut from the end. Never raises for what it finds."""
    pasta = Path(pasta_logs)
    arquivo = pasta / NOME_ARQUIVO
    rel: dict[str, Any] = {
        "arquivo": str(arquivo),
        "autenticacao": autenticador.tipo,
        "entradas": 0,
        "ok": True,
        "problema": None,
        "linha": None,
        "seq": None,
    }

    def falha(
        msg: str, linha: int | None = None, seq: int | None = None
    ) -> dict[str, Any]:
        rel.update(ok=False, problema=msg, linha=linha, seq=seq)
        return rel

    try:
        bruto = arquivo.read_bytes()
    except FileNotFoundError:
        bruto = b""
    linhas = bruto.split(b"\n")
    if linhas and linhas[-1] == b"":
        linhas.pop()
    anterior_hash, anterior_seq = HASH_INICIAL, 0
    for n, linha in enumerate(linhas, 1):
        e, problema, seq_problema = _conferir_entrada(
            n, linha, autenticador, anterior_hash, anterior_seq
        )
        if e is None:
            return falha(str(problema), n, seq_problema)
        anterior_hash, anterior_seq = e["hash"], e["seq"]
    rel["entradas"] = anterior_seq
    try:
        cabeca = json.loads((pasta / NOME_CABECA).read_bytes())
    except FileNotFoundError:
        if anterior_seq:
            return falha(f"{NOME_CABECA} ausente: o fim do log não pode ser conferido")
        return rel
    except ValueError:
        return falha(f"{NOME_CABECA}: ilegível (editada)")
    seq_c, hash_c = cabeca.get("seq"), cabeca.get("hash")
    if not isinstance(seq_c, int) or not autenticador.conferir(
        _texto_cabeca(seq_c, str(hash_c)), cabeca.get("autenticacao")
    ):
        return falha(f"{NOME_CABECA}: autenticação não confere (editada ou forjada)")
    if seq_c > anterior_seq:
        faltam = (
            str(seq_c) if seq_c == anterior_seq + 1 else f"{anterior_seq + 1} a {seq_c}"
        )
        return falha(
            f"log truncado: entrada(s) {faltam} removida(s) do fim (a cabeça registra "
            f"{seq_c})",
            len(linhas) + 1,
            anterior_seq + 1,
        )
    if seq_c < anterior_seq or hash_c != anterior_hash:
        # Entries past the head: appended by someone who cannot update the head.
        return falha(
            f"a cabeça registra a entrada {seq_c}, mas o log continua até a "
            f"{anterior_seq}: entradas acrescentadas ou cabeça antiga",
            seq=seq_c + 1,
        )
    return rel


def _conferir_entrada(
    n: int,
    linha: bytes,
    autenticador: Autenticador,
    anterior_hash: str,
    anterior_seq: int,
) -> tuple[dict[str, Any] | None, str | None, int | None]:
    """(entry, None, None) when line `n` follows the chain; else (None, why, seq)."""
    try:
        e = json.loads(linha)
        if not isinstance(e, dict) or not isinstance(e.get("seq"), int):
            raise ValueError("sem seq")
    except ValueError:
        return None, f"linha {n}: entrada ilegível (editada ou truncada)", None
    seq = e["seq"]
    if hash_entrada(e) != e.get("hash"):
        return None, f"linha {n}: entrada {seq} editada (hash não confere)", seq
    if not autenticador.conferir(str(e["hash"]).encode(), e.get("autenticacao")):
        return (
            None,
            f"linha {n}: entrada {seq} editada ou forjada (autenticação "
            f"{autenticador.tipo} não confere)",
            seq,
        )
    if seq <= anterior_seq:
        return (
            None,
            f"linha {n}: entrada {seq} fora de ordem (depois da {anterior_seq}): "
            "reordenada",
            seq,
        )
    if seq > anterior_seq + 1:
        faltam = (
            f"{anterior_seq + 1}"
            if seq == anterior_seq + 2
            else f"{anterior_seq + 1} a {seq - 1}"
        )
        return (
            None,
            f"linha {n}: entrada(s) {faltam} removida(s) antes da entrada {seq}",
            anterior_seq + 1,
        )
    if e.get("anterior") != anterior_hash:
        return (
            None,
            f"linha {n}: entrada {seq} não encadeia com a anterior (a entrada "
            f"{anterior_seq} foi trocada ou editada)",
            seq,
        )
    return e, None, None
