"""Ed25519 signatures of sidecars (seguranca.assinatura).

The signed message is a domain tag followed by the sidecar's canonical bytes with
`assinatura` set to None. Model and version are inside those bytes, and the read
path already checks that they match the sidecar's place, so a signed sidecar
replayed under another model or version is refused. The signature is stored in the
sidecar's `assinatura` field: {algoritmo, chave_publica (fingerprint), valor}.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ..armazenamento.sidecar import Sidecar
from ..base.escrita import escrever_atomico
from ..erros import ErroConfiguracao, ErroIntegridade
from ..registro import NOME_LOGGER

if TYPE_CHECKING:
    from .auditoria import Autenticador

log = logging.getLogger(NOME_LOGGER)

ALGORITMO = "Ed25519"
DOMINIO_SIDECAR = b"backup_versionamento/sidecar/v1\x00"
NOME_PRIVADA = "assinatura_ed25519.pem"
NOME_PUBLICA = "assinatura_ed25519.pub.pem"


def impressao(publica: Ed25519PublicKey) -> str:
    """Short public fingerprint: SHA-256 of the raw public key, hex."""
    bruto = publica.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return hashlib.sha256(bruto).hexdigest()[:32]


def gerar_par(pasta: str | Path) -> tuple[Path, Path]:
    """Write a new key pair (private 0600, folder 0700); never overwrite."""
    destino = Path(pasta)
    privada_arq, publica_arq = destino / NOME_PRIVADA, destino / NOME_PUBLICA
    for arq in (privada_arq, publica_arq):
        if arq.exists():
            raise ErroConfiguracao(
                f"{arq}: já existe; não é sobrescrito (escolha outra --saida)"
            )
    destino.mkdir(parents=True, exist_ok=True, mode=0o700)
    privada = Ed25519PrivateKey.generate()
    pem_privada = privada.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem_publica = privada.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Whole or absent, never over a file that appeared meanwhile.
    for arq, pem, modo in (
        (privada_arq, pem_privada, 0o600),
        (publica_arq, pem_publica, 0o644),
    ):
        if not escrever_atomico(arq, pem, exclusivo=True, modo=modo, modo_exato=False):
            raise ErroConfiguracao(
                f"{arq}: já existe; não é sobrescrito (escolha outra --saida)"
            )
    return privada_arq, publica_arq


def _ler_pem(caminho: str | Path, campo: str, ler: Callable[[bytes], Any]) -> Any:
    """The key parsed by `ler` from a PEM file, errors naming `campo` and the file."""
    arq = Path(caminho)
    onde = f"seguranca.assinatura.{campo}: {arq}"
    try:
        chave = ler(arq.read_bytes())
    except OSError as e:
        dica = (
            "; gere um par com `inicializar_backup.py chaves gerar-assinatura "
            "--saida PASTA`"
            if campo == "chave_privada"
            else ""
        )
        raise ErroConfiguracao(f"{onde}: ilegível ({e}){dica}") from None
    except (ValueError, TypeError) as e:
        raise ErroConfiguracao(f"{onde}: não é uma chave PEM ({e})") from None
    return chave


def carregar_privada(caminho: str | Path) -> Ed25519PrivateKey:
    arq = Path(caminho)
    chave = _ler_pem(
        arq,
        "chave_privada",
        lambda d: serialization.load_pem_private_key(d, password=None),
    )
    if not isinstance(chave, Ed25519PrivateKey):
        raise ErroConfiguracao(
            f"seguranca.assinatura.chave_privada: {arq}: não é uma chave Ed25519"
        )
    if os.stat(arq).st_mode & 0o077:
        log.warning(
            "%s: chave privada legível por outros usuários; rode chmod 600", arq
        )
    return chave


def carregar_publica(caminho: str | Path) -> Ed25519PublicKey:
    arq = Path(caminho)
    chave = _ler_pem(arq, "chave_publica", serialization.load_pem_public_key)
    if not isinstance(chave, Ed25519PublicKey):
        raise ErroConfiguracao(
            f"seguranca.assinatura.chave_publica: {arq}: não é uma chave Ed25519"
        )
    return chave


def mensagem(sidecar: Sidecar) -> bytes:
    return (
        DOMINIO_SIDECAR
        + dataclasses.replace(sidecar, assinatura=None).bytes_canonicos()
    )


class AssinadorEd25519:
    """The repository's `Assinador`: signs with the private key, checks with the public.

    A machine that only restores may have only the public key. With `obrigatoria`,
    a sidecar without a signature is refused.
    """

    def __init__(
        self,
        privada: Ed25519PrivateKey | None,
        publica: Ed25519PublicKey | None,
        obrigatoria: bool = False,
    ) -> None:
        if publica is None and privada is not None:
            publica = privada.public_key()
        if (
            privada is not None
            and publica is not None
            and impressao(privada.public_key()) != impressao(publica)
        ):
            raise ErroConfiguracao(
                "seguranca.assinatura: chave_privada e chave_publica não formam um par"
            )
        self.privada = privada
        self.publica = publica
        self.obrigatoria = obrigatoria
        self.impressao = impressao(publica) if publica is not None else None

    @classmethod
    def da_config(cls, cfg: dict[str, Any]) -> AssinadorEd25519 | None:
        if not cfg["habilitada"]:
            return None
        privada = (
            carregar_privada(cfg["chave_privada"]) if cfg["chave_privada"] else None
        )
        publica = (
            carregar_publica(cfg["chave_publica"]) if cfg["chave_publica"] else None
        )
        return cls(privada, publica, cfg["obrigatoria"])

    def assinar_bytes(self, dados: bytes) -> dict[str, Any] | None:
        if self.privada is None:
            return None
        return {
            "algoritmo": ALGORITMO,
            "chave_publica": self.impressao,
            "valor": base64.b64encode(self.privada.sign(dados)).decode("ascii"),
        }

    def assinar(self, sidecar: Sidecar) -> Sidecar:
        assinatura = self.assinar_bytes(mensagem(sidecar))
        if assinatura is None:
            return sidecar  # a restore-only machine (public key only) does not sign
        return dataclasses.replace(sidecar, assinatura=assinatura)

    def conferir_bytes(self, dados: bytes, assinatura: Any, origem: str) -> None:
        if not assinatura:
            if self.obrigatoria:
                raise ErroIntegridade(
                    f"{origem}: sem assinatura, e seguranca.assinatura.obrigatoria "
                    "exige uma; recusado"
                )
            return
        if self.publica is None:
            return  # nothing to check with on this machine
        if not isinstance(assinatura, dict) or assinatura.get("algoritmo") != ALGORITMO:
            raise ErroIntegridade(f"{origem}: assinatura malformada; recusado")
        if assinatura.get("chave_publica") != self.impressao:
            raise ErroIntegridade(
                f"{origem}: assinado por outra chave "
                f"({assinatura.get('chave_publica')}; "
                f"a configurada é {self.impressao}); recusado"
            )
        try:
            valor = base64.b64decode(str(assinatura.get("valor")), validate=True)
            self.publica.verify(valor, dados)
        except (InvalidSignature, ValueError):
            raise ErroIntegridade(
                f"{origem}: assinatura Ed25519 inválida (metadado alterado ou "
                "assinatura de outra versão); recusado"
            ) from None

    def conferir(self, sidecar: Sidecar, origem: str) -> None:
        self.conferir_bytes(mensagem(sidecar), sidecar.assinatura, origem)

    def autenticador(self) -> Autenticador:
        """The audit log's authenticator under this key pair (no master key)."""
        from .auditoria import Autenticador

        def assinar(dados: bytes) -> str:
            assert self.privada is not None
            return base64.b64encode(self.privada.sign(dados)).decode("ascii")

        def conferir(dados: bytes, valor: str) -> bool:
            try:
                assert self.publica is not None
                self.publica.verify(base64.b64decode(valor, validate=True), dados)
                return True
            except Exception:
                return False

        return Autenticador("ed25519", assinar, conferir)
