"""AES-256-GCM per blob, and the subkeys derived from the master key.

Implements the storage layer's `Cifra` protocol: `nonce(12) || ciphertext || tag(16)`,
a fresh random 96-bit nonce every time (never a counter: several processes and
machines write to one repository), and the AAD built by `blob.aad` (repository
id, kind, object id, header), so a blob moved, swapped, truncated or replayed
from another repository fails authentication.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..erros import ErroObjetoCorrompido

ALGORITMO = "AES-256-GCM"
TAMANHO_NONCE = 12
TAMANHO_TAG = 16
TAMANHO_CHAVE = 32

# HKDF "info" of each subkey: one master key, independent keys per use.
USO_DADOS = b"backup_versionamento/dados/v1"
USO_IDS = b"backup_versionamento/ids-blocos/v1"
USO_AUDITORIA = b"backup_versionamento/auditoria/v1"
# Encrypts the naming fields of audit entries (auditoria.CifraCampos).
USO_AUDITORIA_CAMPOS = b"backup_versionamento/auditoria-campos/v1"
USO_IMPRESSAO = b"backup_versionamento/impressao-chave/v1"
USO_POLITICA = b"backup_versionamento/politica-assinatura/v1"


def derivar(mestra: bytes, uso: bytes, id_repositorio: str) -> bytes:
    """A 32-byte subkey of `mestra` for `uso`, bound to the repository id."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=TAMANHO_CHAVE,
        salt=bytes.fromhex(id_repositorio),
        info=uso,
    ).derive(mestra)


def impressao_mestra(mestra: bytes, id_repositorio: str) -> str:
    """Public fingerprint stored in the header: tells the right master key apart."""
    return derivar(mestra, USO_IMPRESSAO, id_repositorio).hex()[:32]


def _nome_do_aad(aad: bytes) -> str:
    # AAD = b"BV2" || repo id (16) || kind (1) || object id (32) || header (8).
    tipo = aad[19] if len(aad) > 19 else -1
    id_objeto = aad[20:52]
    nomes = {0: "bloco", 1: "trailer de pacote", 2: "fragmento de índice", 3: "sidecar"}
    if tipo == 0 or tipo == 3:
        return f"{nomes[tipo]} {id_objeto.hex()}"
    return nomes.get(tipo, "objeto")


class CifraAESGCM:
    """The storage layer's `Cifra` over one 256-bit data key."""

    algoritmo = ALGORITMO
    expansao = TAMANHO_NONCE + TAMANHO_TAG

    def __init__(self, chave_dados: bytes) -> None:
        if len(chave_dados) != TAMANHO_CHAVE:
            raise ValueError("a chave de dados deve ter 32 bytes")
        self._aes = AESGCM(chave_dados)

    def cifrar(self, dados: bytes | memoryview, aad: bytes) -> list[bytes]:
        """[nonce, ciphertext + tag]: parts for writev, never concatenated (a
        join would copy every encrypted byte once more)."""
        nonce = os.urandom(TAMANHO_NONCE)
        return [nonce, self._aes.encrypt(nonce, dados, aad)]

    def cifrar_em(
        self, dados: bytes | memoryview, aad: bytes, destino: memoryview
    ) -> None:
        nonce = os.urandom(TAMANHO_NONCE)
        destino[:TAMANHO_NONCE] = nonce
        self._aes.encrypt_into(nonce, dados, aad, destino[TAMANHO_NONCE:])

    def decifrar(self, dados: bytes | memoryview, aad: bytes) -> bytes:
        nome = _nome_do_aad(aad)
        if len(dados) < TAMANHO_NONCE + TAMANHO_TAG:
            raise ErroObjetoCorrompido(
                f"{nome}: blob cifrado truncado", nome.rsplit(" ", 1)[-1]
            )
        vista = memoryview(dados)
        try:
            return self._aes.decrypt(vista[:TAMANHO_NONCE], vista[TAMANHO_NONCE:], aad)
        except InvalidTag:
            raise ErroObjetoCorrompido(
                f"{nome}: falha de autenticação (AES-256-GCM): o blob foi alterado, "
                "truncado, trocado de lugar ou veio de outro repositório; recusado",
                nome.rsplit(" ", 1)[-1],
            ) from None
