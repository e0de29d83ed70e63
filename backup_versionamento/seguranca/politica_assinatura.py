"""The signing policy recorded in the repository header (cannot be stripped).

Once a version is signed, the header `repositorio.json` holds a record
`politica_assinatura`: the public key (raw and its fingerprint), when it was
registered, and the versions that already existed unsigned then (each bound to
the SHA-256 of its canonical bytes). The record is signed by the signing key and,
when the repository is encrypted, also carries an HMAC under a key derived from
the master key. From then on an unsigned sidecar that is not in that list is
refused, whatever this machine's configuration says, unless the caller overrides
it for one command (`aceitar_sem_assinatura`).

Signatures made under a registered policy use a second domain tag (v2), so a
valid v2 signature proves a record existed: a header whose record was deleted is
detected by any signed version (and a restore of an unsigned version looks at
the model's other versions). What cannot be detected: an attacker who deletes the
record and strips every signature, on a machine without `obrigatoria` (see
docs/SEGURANCA.md).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..armazenamento.sidecar import Sidecar
from ..base.escrita import escrever_atomico
from ..base.tempo import agora_iso
from ..erros import ErroBackup, ErroConfiguracao, ErroIntegridade
from ..registro import NOME_LOGGER
from .assinatura import ALGORITMO, AssinadorEd25519, impressao

if TYPE_CHECKING:
    from ..armazenamento.repositorio import Repositorio

log = logging.getLogger(NOME_LOGGER)

CAMPO = "politica_assinatura"
DOMINIO_POLITICA = b"backup_versionamento/politica-assinatura/v1\x00"
DOMINIO_SIDECAR_V2 = b"backup_versionamento/sidecar/v2\x00"
_NAO_ASSINADOS = ("assinatura", "autenticacao")
ARQUIVO_MEMORIA = "politica_assinatura"


def digest_sidecar(sidecar: Sidecar) -> str:
    return hashlib.sha256(sidecar.bytes_canonicos()).hexdigest()


def mensagem_v2(sidecar: Sidecar) -> bytes:
    """What a sidecar signed under a registered policy signs."""
    return (
        DOMINIO_SIDECAR_V2
        + dataclasses.replace(sidecar, assinatura=None).bytes_canonicos()
    )


def _bytes_registro(registro: dict[str, Any], id_repositorio: str) -> bytes:
    corpo = {k: v for k, v in registro.items() if k not in _NAO_ASSINADOS}
    return (
        DOMINIO_POLITICA
        + id_repositorio.encode()
        + b"\x00"
        + json.dumps(
            corpo, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    )


def _hmac(chave: bytes, dados: bytes) -> str:
    return hmac.new(chave, dados, hashlib.sha256).hexdigest()


def assinatura_v2_valida(publica: Ed25519PublicKey | None, sc: Sidecar) -> bool:
    """Whether `sc` carries a valid signature made under a registered policy."""
    a = sc.assinatura
    if publica is None or not isinstance(a, dict) or a.get("dominio") != 2:
        return False
    try:
        publica.verify(
            base64.b64decode(str(a.get("valor")), validate=True), mensagem_v2(sc)
        )
        return True
    except (InvalidSignature, ValueError):
        return False


def montar_registro(
    assinador: AssinadorEd25519,
    anteriores: dict[str, str],
    id_repositorio: str,
    chave_hmac: bytes | None,
) -> dict[str, Any]:
    """A new policy record, signed (and authenticated with the HMAC key, if any)."""
    assert assinador.privada is not None
    publica = assinador.privada.public_key()
    registro: dict[str, Any] = {
        "algoritmo": ALGORITMO,
        "chave_publica": assinador.impressao,
        "publica": base64.b64encode(
            publica.public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        ).decode("ascii"),
        "desde": agora_iso(),
        "anteriores": anteriores,
    }
    dados = _bytes_registro(registro, id_repositorio)
    registro["assinatura"] = base64.b64encode(assinador.privada.sign(dados)).decode(
        "ascii"
    )
    if chave_hmac is not None:
        registro["autenticacao"] = _hmac(chave_hmac, dados)
    return registro


def autenticar_registro(
    registro: Any,
    id_repositorio: str,
    origem: str,
    configurada: str | None,
    chave_hmac: bytes | None,
) -> Ed25519PublicKey:
    """The record's public key, once its form, key, signature and HMAC check out.

    `configurada`: the fingerprint of this machine's key, which must match.
    """
    if not isinstance(registro, dict) or registro.get("algoritmo") != ALGORITMO:
        raise ErroIntegridade(f"{origem}: registro malformado; recusado")
    if not isinstance(registro.get("anteriores"), dict):
        raise ErroIntegridade(f"{origem}: registro sem 'anteriores'; recusado")
    try:
        publica = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(str(registro.get("publica")), validate=True)
        )
    except ValueError:
        raise ErroIntegridade(f"{origem}: chave pública ilegível; recusado") from None
    if impressao(publica) != registro.get("chave_publica"):
        raise ErroIntegridade(f"{origem}: impressão da chave não confere; recusado")
    if configurada is not None and configurada != registro["chave_publica"]:
        raise ErroIntegridade(
            f"{origem}: o repositório exige assinaturas de outra chave "
            f"({registro['chave_publica']}); a configurada nesta máquina é "
            f"{configurada} (cabeçalho trocado, ou chave errada em "
            "seguranca.assinatura.chave_publica); recusado"
        )
    dados = _bytes_registro(registro, id_repositorio)
    try:
        valor = base64.b64decode(str(registro.get("assinatura")), validate=True)
        publica.verify(valor, dados)
    except (InvalidSignature, ValueError):
        raise ErroIntegridade(
            f"{origem}: assinatura do registro inválida (editado?); recusado"
        ) from None
    if chave_hmac is not None and not hmac.compare_digest(
        _hmac(chave_hmac, dados), str(registro.get("autenticacao"))
    ):
        raise ErroIntegridade(
            f"{origem}: autenticação (HMAC da chave do repositório) ausente ou "
            "inválida: o registro não foi feito com esta chave; recusado"
        )
    return publica


class PoliticaAssinatura:
    """The repository's `Assinador`: this machine's signer plus the header's policy."""

    def __init__(
        self,
        repo: Repositorio,
        assinador: AssinadorEd25519 | None,
        chave_hmac: bytes | None = None,
    ) -> None:
        self.repo = repo
        self.assinador = assinador
        self.chave_hmac = chave_hmac
        self.aceitar_sem_assinatura = False
        self._origem_cab = f"{repo.descrever()}/repositorio.json"
        self._registro: dict[str, Any] | None = None
        self._publica: Ed25519PublicKey | None = None
        self._erro_registro: str | None = None
        self._removida: str | None = None  # a v2 signature seen with no record
        self._carregar(repo.campo_cabecalho(CAMPO))
        self._lembrar()

    def _lembrar(self) -> None:
        """This machine remembers a policy it saw: a tripwire if the header loses it."""
        memoria = self.repo.pasta_estado / ARQUIVO_MEMORIA
        try:
            if self._registro is not None:
                if not memoria.exists():
                    escrever_atomico(
                        memoria, self._registro["chave_publica"].encode("ascii")
                    )
            elif self._erro_registro is None and memoria.exists():
                self._removida = (
                    f"sem assinatura, e esta máquina já viu neste repositório uma "
                    f"política de assinatura ({memoria}) que repositorio.json não "
                    f"tem mais ({CAMPO} removido)"
                )
        except (OSError, ErroBackup) as e:  # a cache: never fatal
            log.debug("%s: %s", memoria, e)

    # -- the record ------------------------------------------------------------------
    def _carregar(self, registro: Any) -> None:
        self._registro, self._publica, self._erro_registro = None, None, None
        if registro is None:
            return
        try:
            self._publica = self._autenticar(registro)
            self._registro = registro
        except ErroIntegridade as e:
            self._erro_registro = str(e)

    def _autenticar(self, registro: Any) -> Ed25519PublicKey:
        return autenticar_registro(
            registro,
            self.repo.id,
            f"{self._origem_cab}: {CAMPO}",
            self.assinador.impressao if self.assinador else None,
            self.chave_hmac,
        )

    @property
    def registrada(self) -> bool:
        return self._registro is not None

    def _registrar(self) -> None:
        """Write the record before the first signed publish (once per repository)."""
        assinador = self.assinador
        assert assinador is not None and assinador.privada is not None
        cab = self.repo.cabecalho_gravado()
        if cab is None or cab.get("id") != self.repo.id:
            raise ErroIntegridade(
                f"{self._origem_cab}: cabeçalho ausente ou trocado; nada foi publicado"
            )
        if self._removida:
            raise ErroIntegridade(
                f"{self._origem_cab}: {self._removida}. Nada foi publicado. Reponha "
                "repositorio.json de uma cópia"
            )
        if cab.get(CAMPO) is not None:  # another machine registered it meanwhile
            self.repo.adotar_campo(CAMPO, cab[CAMPO])
            self._carregar(cab[CAMPO])
            return
        anteriores: dict[str, str] = {}
        for modelo, versao, sc in self._sidecars_crus():
            if isinstance(sc, ErroBackup):
                continue  # unreadable: never grandfathered
            if sc.assinatura:
                if self._assinatura_v2_valida(sc):
                    raise ErroIntegridade(
                        f"{self._origem_cab}: {modelo} {versao} foi assinada sob uma "
                        f"política de assinatura registrada, mas o cabeçalho não tem "
                        f"mais '{CAMPO}' (removido?). Nada foi publicado. Reponha "
                        "repositorio.json de uma cópia e rode `inicializar_backup.py "
                        "verificar`"
                    )
                continue
            anteriores[f"{modelo}/{versao}"] = digest_sidecar(sc)
        registro = montar_registro(assinador, anteriores, self.repo.id, self.chave_hmac)
        self.repo.gravar_campo(cab, CAMPO, registro)
        self._carregar(registro)
        self._lembrar()
        log.info(
            "Política de assinatura registrada no cabeçalho do repositório (chave %s; "
            "%d versão(ões) anteriores sem assinatura aceitas)",
            assinador.impressao,
            len(anteriores),
        )

    # -- raw reads (no policy check: used to look at the other versions) ----------
    def _ler_cru(self, modelo: str, versao: str) -> Sidecar:
        return self.repo.ler_sem_politica(modelo, versao)

    def _sidecars_crus(
        self, modelo: str | None = None
    ) -> Iterator[tuple[str, str, Sidecar | ErroBackup]]:
        for chave in self.repo.chaves_sidecars(modelo):
            try:
                modelo, versao = self.repo.nome_da_chave(chave)
            except ErroBackup as e:  # hidden names, unreadable: no names to give
                yield "", "", e
                continue
            try:
                yield modelo, versao, self._ler_cru(modelo, versao)
            except ErroBackup as e:
                yield modelo, versao, e

    def _chave_conferencia(self) -> Ed25519PublicKey | None:
        if self._publica is not None:
            return self._publica
        return self.assinador.publica if self.assinador else None

    def _assinatura_v2_valida(self, sc: Sidecar) -> bool:
        return assinatura_v2_valida(self._chave_conferencia(), sc)

    def _removida_no_modelo(self, modelo: str) -> str | None:
        """A version of `modelo` signed under a policy the header no longer has."""
        for _, versao, sc in self._sidecars_crus(modelo):
            if isinstance(sc, Sidecar) and self._assinatura_v2_valida(sc):
                return versao
        return None

    # -- the Assinador protocol ------------------------------------------------------
    def assinar(self, sidecar: Sidecar) -> Sidecar:
        assinador = self.assinador
        if assinador is not None and assinador.privada is not None:
            if self._erro_registro:
                raise ErroIntegridade(self._erro_registro)
            if not self.registrada:
                self._registrar()
            valor = assinador.privada.sign(mensagem_v2(sidecar))
            return dataclasses.replace(
                sidecar,
                assinatura={
                    "algoritmo": ALGORITMO,
                    "chave_publica": assinador.impressao,
                    "dominio": 2,
                    "valor": base64.b64encode(valor).decode("ascii"),
                },
            )
        if not self.registrada and not self._erro_registro:
            self._reler_cabecalho()  # registered by another machine since we opened?
        if self.registrada or self._erro_registro:
            raise ErroConfiguracao(
                f"{self._origem_cab}: o repositório exige versões assinadas (política "
                f"registrada com a chave {self._registro_chave()}), e esta máquina "
                "não tem a chave privada: configure seguranca.assinatura.habilitada "
                "e chave_privada. Nada foi publicado."
            )
        return sidecar

    def _reler_cabecalho(self) -> None:
        cab = self.repo.cabecalho_gravado()
        if cab and cab.get("id") == self.repo.id and cab.get(CAMPO) is not None:
            self.repo.adotar_campo(CAMPO, cab[CAMPO])
            self._carregar(cab[CAMPO])
            self._lembrar()

    def _registro_chave(self) -> str:
        return str((self._registro or {}).get("chave_publica", "?"))

    def conferir(self, sidecar: Sidecar, origem: str) -> None:
        if self._erro_registro and not self.aceitar_sem_assinatura:
            raise ErroIntegridade(self._erro_registro)
        a = sidecar.assinatura
        if a:
            self._conferir_assinada(sidecar, origem)
            return
        if (
            self.assinador is not None
            and self.assinador.obrigatoria
            and not self.aceitar_sem_assinatura
        ):
            self.assinador.conferir(sidecar, origem)  # raises: required
        motivo = self._motivo_recusa(sidecar)
        if motivo is None:
            return
        if self.aceitar_sem_assinatura:
            log.warning("%s: %s; aceita por --aceitar-sem-assinatura", origem, motivo)
            return
        raise ErroIntegridade(
            f"{origem}: {motivo}; recusado (use --aceitar-sem-assinatura só se souber "
            "por que esta versão não tem assinatura)"
        )

    def _motivo_recusa(self, sidecar: Sidecar) -> str | None:
        if self._registro is not None:
            chave = f"{sidecar.modelo}/{sidecar.versao}"
            anterior = self._registro["anteriores"].get(chave)
            if anterior is None:
                return (
                    "sem assinatura, mas o repositório exige assinatura desde "
                    f"{self._registro.get('desde')} ({CAMPO} em repositorio.json): "
                    "assinatura removida ou versão forjada"
                )
            if anterior != digest_sidecar(sidecar):
                return (
                    "versão anterior à política de assinatura, mas alterada depois "
                    "que a política foi registrada"
                )
            return None
        if self._removida:
            return self._removida
        if self.assinador is not None and self._chave_conferencia() is not None:
            versao = self._removida_no_modelo(sidecar.modelo)
            if versao is not None:
                self._removida = self._texto_removida(sidecar.modelo, versao)
                return self._removida
        return None

    def _texto_removida(self, modelo: str, versao: str) -> str:
        return (
            f"sem assinatura, e {modelo} {versao} foi assinada sob uma política de "
            f"assinatura que repositorio.json não tem mais ({CAMPO} removido)"
        )

    def _conferir_assinada(self, sidecar: Sidecar, origem: str) -> None:
        a = sidecar.assinatura
        dominio = a.get("dominio", 1) if isinstance(a, dict) else None
        publica = self._chave_conferencia()
        if dominio == 2:
            if publica is None:
                return  # nothing to check with on this machine
            if not isinstance(a, dict) or a.get("chave_publica") != impressao(publica):
                raise ErroIntegridade(
                    f"{origem}: assinado por outra chave "
                    f"({a.get('chave_publica') if isinstance(a, dict) else '?'}; "
                    f"a esperada é {impressao(publica)}); recusado"
                )
            if not self._assinatura_v2_valida(sidecar):
                raise ErroIntegridade(
                    f"{origem}: assinatura Ed25519 inválida (metadado alterado ou "
                    "assinatura de outra versão); recusado"
                )
            if self._registro is None and not self.aceitar_sem_assinatura:
                self._removida = self._texto_removida(sidecar.modelo, sidecar.versao)
                raise ErroIntegridade(
                    f"{origem}: assinada sob uma política de assinatura, mas "
                    f"repositorio.json não tem mais '{CAMPO}' (removido?): "
                    "versões sem assinatura não podem mais ser distinguidas das "
                    "despidas; reponha o cabeçalho de uma cópia"
                )
            return
        # v1: signed before policies were recorded
        if self.assinador is not None:
            self.assinador.conferir(sidecar, origem)
        elif publica is not None:
            AssinadorEd25519(None, publica).conferir(sidecar, origem)

    @contextmanager
    def permitir_sem_assinatura(self, permitir: bool = True) -> Iterator[None]:
        anterior = self.aceitar_sem_assinatura
        self.aceitar_sem_assinatura = anterior or permitir
        try:
            yield
        finally:
            self.aceitar_sem_assinatura = anterior
