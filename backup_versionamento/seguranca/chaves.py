"""The master key and the key objects that wrap it (after restic's key files).

A repository has one random 256-bit master key. Each `chaves/<id>.json` in the
repository holds it wrapped (AES-256-GCM) by a key-encryption key (KEK): the
contents of a key file (`seguranca.criptografia.chave_arquivo`, 32 random bytes)
or a passphrase stretched by scrypt with the parameters and salt stored next to
it. Adding, removing or rewrapping a key touches only these objects: data is
never rewritten. KDF parameters are checked against caps before any work, so a
planted key object cannot make an open take minutes or gigabytes.
"""

from __future__ import annotations

import base64
import errno
import getpass
import hashlib
import json
import logging
import os
import socket
import stat
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..armazenamento.backends import Backend
from ..base.escrita import escrever_atomico
from ..base.tempo import iso_utc
from ..erros import ErroChaveAusente, ErroCriptografia, ErroRepositorio
from ..registro import NOME_LOGGER
from .cifra import TAMANHO_CHAVE, TAMANHO_NONCE, impressao_mestra

log = logging.getLogger(NOME_LOGGER)

PREFIXO = "chaves/"
SUFIXO = ".json"
VERSAO_OBJETO = 1
VARIAVEL_SENHA = "BACKUP_VERSIONAMENTO_SENHA"
VARIAVEL_SENHA_NOVA = "BACKUP_VERSIONAMENTO_SENHA_NOVA"
TIPO_ARQUIVO = "arquivo"
TIPO_SENHA = "senha"

# scrypt: ~64 MiB and ~0.2 s here. Caps on what a key object may ask for.
SCRYPT_PADRAO = {"n": 2**16, "r": 8, "p": 1}
SCRYPT_N_MAXIMO = 2**20
SCRYPT_R_MAXIMO = 32
SCRYPT_P_MAXIMO = 16
SCRYPT_MEMORIA_MAXIMA = 1 << 30  # 128 * n * r bytes
TAMANHO_SAL = 16
TAMANHO_MINIMO_SENHA = 8


def chave_objeto(id_chave: str) -> str:
    return f"{PREFIXO}{id_chave}{SUFIXO}"


def _b64(dados: bytes) -> str:
    return base64.b64encode(dados).decode("ascii")


def _de_b64(texto: Any, onde: str) -> bytes:
    try:
        return base64.b64decode(str(texto), validate=True)
    except (ValueError, TypeError):
        raise ErroCriptografia(f"{onde}: base64 inválido") from None


def _agora() -> str:
    return iso_utc(datetime.now(timezone.utc))


# -- key files -------------------------------------------------------------------
def criar_arquivo_chave(caminho: str | Path) -> bytes:
    """32 random bytes in a new file (0600) inside a 0700 folder; never overwrite."""
    arq = Path(caminho)
    try:
        arq.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(arq.parent, 0o700)
        chave = os.urandom(TAMANHO_CHAVE)
        # Whole or absent: a temp file link()ed into place (exclusive), durable.
        if not escrever_atomico(arq, chave, exclusivo=True, modo=0o600):
            raise FileExistsError(errno.EEXIST, "já existe", str(arq))
    except FileExistsError:
        raise ErroCriptografia(
            f"{arq}: o arquivo de chave já existe; não é sobrescrito (apague-o só "
            "se nenhum repositório depender dele)"
        ) from None
    except OSError as e:
        raise ErroCriptografia(f"{arq}: não foi possível criar a chave ({e})") from None
    log.info("Arquivo de chave criado: %s (0600, pasta 0700)", arq)
    return chave


def ler_arquivo_chave(caminho: str | Path) -> bytes:
    """The 32 bytes of a key file; loose permissions are warned about, not refused."""
    arq = Path(caminho)
    try:
        st = arq.stat()
        dados = arq.read_bytes()
    except FileNotFoundError:
        raise ErroCriptografia(
            f"{arq}: arquivo de chave não encontrado; confira "
            "seguranca.criptografia.chave_arquivo (ou use a senha com "
            f"{VARIAVEL_SENHA})"
        ) from None
    except OSError as e:
        raise ErroCriptografia(f"{arq}: arquivo de chave ilegível ({e})") from None
    if len(dados) != TAMANHO_CHAVE:
        raise ErroCriptografia(
            f"{arq}: arquivo de chave inválido ({len(dados)} bytes; esperado "
            f"{TAMANHO_CHAVE})"
        )
    for alvo, modo_st, limite in ((arq, st, 0o077), (arq.parent, None, 0o022)):
        modo = stat.S_IMODE((modo_st or alvo.stat()).st_mode)
        if modo & limite:
            log.warning(
                "%s: permissões frouxas (%s): outros usuários podem ler ou trocar a "
                "chave; rode chmod %s %s",
                alvo,
                oct(modo),
                "600" if alvo == arq else "700",
                alvo,
            )
    return dados


# -- passphrases -----------------------------------------------------------------
def checar_kdf(kdf: Any, onde: str) -> dict[str, int]:
    """Validate scrypt parameters against the caps, before any work is done."""
    if not isinstance(kdf, dict) or kdf.get("algoritmo") != "scrypt":
        raise ErroCriptografia(f"{onde}: KDF desconhecida ({kdf!r}); esperado scrypt")
    n, r, p = kdf.get("n"), kdf.get("r"), kdf.get("p")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (n, r, p)):
        raise ErroCriptografia(f"{onde}: parâmetros de scrypt inválidos")
    assert isinstance(n, int) and isinstance(r, int) and isinstance(p, int)
    if (
        n < 2**10
        or n > SCRYPT_N_MAXIMO
        or n & (n - 1)
        or not 1 <= r <= SCRYPT_R_MAXIMO
        or not 1 <= p <= SCRYPT_P_MAXIMO
        or 128 * n * r > SCRYPT_MEMORIA_MAXIMA
    ):
        raise ErroCriptografia(
            f"{onde}: parâmetros de scrypt absurdos (n={n}, r={r}, p={p}); o limite "
            f"é n ≤ {SCRYPT_N_MAXIMO} (potência de 2), r ≤ {SCRYPT_R_MAXIMO}, "
            f"p ≤ {SCRYPT_P_MAXIMO}, memória ≤ 1 GiB. Objeto de chave recusado "
            "(foi adulterado?)"
        )
    return {"n": n, "r": r, "p": p}


def kek_de_senha(senha: str, kdf: dict[str, Any], onde: str) -> bytes:
    params = checar_kdf(kdf, onde)
    sal = _de_b64(kdf.get("sal"), onde)
    return hashlib.scrypt(
        senha.encode("utf-8"),
        salt=sal,
        n=params["n"],
        r=params["r"],
        p=params["p"],
        maxmem=SCRYPT_MEMORIA_MAXIMA + (1 << 20),
        dklen=TAMANHO_CHAVE,
    )


def kdf_novo() -> dict[str, Any]:
    return {
        "algoritmo": "scrypt",
        **SCRYPT_PADRAO,
        "sal": _b64(os.urandom(TAMANHO_SAL)),
    }


def senha_do_ambiente(perguntar: bool = True) -> str | None:
    """The passphrase: env var, else a prompt on a terminal, else None."""
    senha = os.environ.get(VARIAVEL_SENHA)
    if senha:
        return senha
    if perguntar and sys.stdin.isatty() and sys.stderr.isatty():
        try:
            senha = getpass.getpass("Senha do repositório: ")
        except (EOFError, KeyboardInterrupt):
            return None
        if not senha:
            # Typed nothing: say so, not "the variable is not set".
            raise ErroCriptografia(
                "senha vazia: nenhuma senha foi digitada; rode de novo e digite a "
                f"senha do repositório (ou defina {VARIAVEL_SENHA}); nada foi lido "
                "nem escrito"
            )
        return senha
    return None


def senha_nova() -> str:
    """A new passphrase (env var BACKUP_VERSIONAMENTO_SENHA_NOVA or asked twice)."""
    senha = os.environ.get(VARIAVEL_SENHA_NOVA)
    if not senha and sys.stdin.isatty():
        senha = getpass.getpass("Nova senha: ")
        if not senha:
            raise ErroCriptografia(
                "senha vazia: nenhuma senha foi digitada; nada foi alterado"
            )
        if senha != getpass.getpass("Repita a nova senha: "):
            raise ErroCriptografia("as senhas não conferem; nada foi alterado")
    if not senha:
        raise ErroCriptografia(
            f"nenhuma senha nova: defina {VARIAVEL_SENHA_NOVA} ou rode num terminal"
        )
    if len(senha) < TAMANHO_MINIMO_SENHA:
        raise ErroCriptografia(
            f"senha curta demais ({len(senha)} caracteres); use ao menos "
            f"{TAMANHO_MINIMO_SENHA}"
        )
    return senha


# -- key objects -----------------------------------------------------------------
@dataclass(frozen=True)
class Credencial:
    """What unlocks a key object: a key file's bytes or a passphrase."""

    tipo: str  # TIPO_ARQUIVO | TIPO_SENHA
    segredo: bytes | str
    descricao: str

    def kek(self, objeto: dict[str, Any], onde: str) -> bytes:
        if self.tipo == TIPO_ARQUIVO:
            assert isinstance(self.segredo, bytes)
            return self.segredo
        assert isinstance(self.segredo, str)
        return kek_de_senha(self.segredo, objeto.get("kdf") or {}, onde)


def _aad(id_repositorio: str, id_chave: str) -> bytes:
    return b"BV2-chave" + bytes.fromhex(id_repositorio) + id_chave.encode("ascii")


class Chaveiro:
    """The key objects of one repository."""

    def __init__(self, backend: Backend, id_repositorio: str) -> None:
        self.backend = backend
        self.id_repositorio = id_repositorio

    def _ler(self, chave: str) -> dict[str, Any]:
        onde = f"{self.backend.descrever()}/{chave}"
        try:
            obj = json.loads(self.backend.ler(chave))
        except (ValueError, UnicodeDecodeError) as e:
            raise ErroCriptografia(f"{onde}: objeto de chave ilegível ({e})") from None
        if not isinstance(obj, dict) or obj.get("versao") != VERSAO_OBJETO:
            raise ErroCriptografia(f"{onde}: objeto de chave de versão desconhecida")
        obj["_onde"] = onde
        return obj

    def listar(self) -> list[dict[str, Any]]:
        """Key objects of this repository (others' are ignored), oldest first."""
        objetos = []
        for info in self.backend.listar(PREFIXO):
            nome = info.chave[len(PREFIXO) :]
            if "/" in nome or not nome.endswith(SUFIXO):
                continue
            try:
                obj = self._ler(info.chave)
            except ErroChaveAusente:  # removed meanwhile
                continue
            except ErroCriptografia as e:
                log.warning("%s", e)
                continue
            if obj.get("repositorio") == self.id_repositorio:
                objetos.append(obj)
        return sorted(objetos, key=lambda o: (str(o.get("criada_em")), str(o["id"])))

    def embrulhar(
        self,
        mestra: bytes,
        credencial: Credencial,
        kdf: dict[str, Any] | None = None,
        usuario: str | None = None,
    ) -> str:
        """Write a new key object for `mestra`; return its id.

        `usuario`: the person this key belongs to (default: who creates it).
        """
        id_chave = uuid.uuid4().hex
        obj: dict[str, Any] = {
            "versao": VERSAO_OBJETO,
            "id": id_chave,
            "repositorio": self.id_repositorio,
            "tipo": credencial.tipo,
            "descricao": credencial.descricao,
            "criada_em": _agora(),
            "usuario": usuario or getpass.getuser(),
            "criada_por": getpass.getuser(),
            "host": socket.gethostname(),
            "kdf": kdf if credencial.tipo == TIPO_SENHA else None,
        }
        if credencial.tipo == TIPO_SENHA and kdf is None:
            obj["kdf"] = kdf_novo()
        kek = credencial.kek(obj, chave_objeto(id_chave))
        nonce = os.urandom(TAMANHO_NONCE)
        embrulhada = nonce + AESGCM(kek).encrypt(
            nonce, mestra, _aad(self.id_repositorio, id_chave)
        )
        obj["mestra_embrulhada"] = _b64(embrulhada)
        bruto = json.dumps(obj, sort_keys=True, indent=1).encode("utf-8") + b"\n"
        if not self.backend.gravar(chave_objeto(id_chave), bruto, exclusivo=True):
            raise ErroRepositorio(f"{chave_objeto(id_chave)}: já existe")
        return id_chave

    def desembrulhar(self, obj: dict[str, Any], credencial: Credencial) -> bytes | None:
        """The master key if `credencial` opens `obj`, else None."""
        if obj.get("tipo") != credencial.tipo:
            return None
        onde = str(obj.get("_onde", obj.get("id")))
        kek = credencial.kek(obj, onde)
        bruto = _de_b64(obj.get("mestra_embrulhada"), onde)
        try:
            return AESGCM(kek).decrypt(
                bruto[:TAMANHO_NONCE],
                bruto[TAMANHO_NONCE:],
                _aad(self.id_repositorio, str(obj.get("id"))),
            )
        except InvalidTag:
            return None

    def abrir(
        self, credenciais: list[Credencial], impressao: str, dica: str = ""
    ) -> tuple[bytes, str]:
        """(master key, id of the key object that opened it) or ErroCriptografia."""
        objetos = self.listar()
        if not objetos:
            raise ErroCriptografia(
                f"{self.backend.descrever()}: repositório criptografado sem nenhum "
                f"objeto de chave em {PREFIXO} (apagado?); sem ele os dados não podem "
                "ser lidos"
            )
        if not credenciais:
            raise ErroCriptografia(
                f"{self.backend.descrever()}: repositório criptografado e nenhuma "
                f"chave disponível: {dica or 'sem arquivo de chave'} e "
                f"{VARIAVEL_SENHA} não está definida (tipos de chave deste "
                f"repositório: {', '.join(sorted({str(o['tipo']) for o in objetos}))})"
                "; "
                "nada foi lido nem escrito"
            )
        for cred in credenciais:
            for obj in objetos:
                mestra = self.desembrulhar(obj, cred)
                if mestra is not None and (
                    impressao_mestra(mestra, self.id_repositorio) == impressao
                ):
                    return mestra, str(obj["id"])
        tentadas = ", ".join(c.descricao for c in credenciais)
        raise ErroCriptografia(
            f"{self.backend.descrever()}: chave errada: {tentadas} não abre nenhuma "
            f"das {len(objetos)} chave(s) do repositório (veja `inicializar_backup.py "
            "chaves listar`); nada foi lido nem escrito"
        )

    def remover_de(self, usuario: str) -> list[str]:
        """Remove every key object of `usuario`; never the repository's last key."""
        objetos = self.listar()
        dele = [str(o["id"]) for o in objetos if o.get("usuario") == usuario]
        if not dele:
            raise ErroCriptografia(
                f"nenhuma chave do usuário {usuario!r} neste repositório (veja "
                "`chaves listar`)"
            )
        if len(dele) == len(objetos):
            raise ErroCriptografia(
                f"as chaves de {usuario!r} são as únicas do repositório: removê-las "
                "tornaria os dados ilegíveis para sempre; adicione outra antes"
            )
        for id_chave in dele:
            self.backend.apagar(chave_objeto(id_chave))
        return dele

    def remover(self, id_chave: str) -> None:
        objetos = self.listar()
        if not any(o["id"] == id_chave for o in objetos):
            raise ErroCriptografia(
                f"chave {id_chave!r} não existe neste repositório "
                "(veja `chaves listar`)"
            )
        if len(objetos) == 1:
            raise ErroCriptografia(
                f"chave {id_chave} é a única do repositório: removê-la tornaria os "
                "dados ilegíveis para sempre; adicione outra antes (`chaves adicionar`)"
            )
        self.backend.apagar(chave_objeto(id_chave))


def publico(obj: dict[str, Any]) -> dict[str, Any]:
    """A key object without the wrapped key (for `chaves listar`)."""
    saida = {
        k: v for k, v in obj.items() if k not in {"mestra_embrulhada", "_onde", "kdf"}
    }
    if obj.get("kdf"):
        saida["kdf"] = {k: v for k, v in obj["kdf"].items() if k != "sal"}
    return saida
