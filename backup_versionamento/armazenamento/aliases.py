"""Alias history: an append-only log of moves per (model, alias), in the repository.

Each move (set or remove) is one write-once object::

    modelos/<modelo>/aliases/<alias>/<sequencia:010d>.json

(`modelos/<idm>/aliases/<ida>/...` with keyed ids when the repository hides
names: `sidecar.Nomes`).

The sequence number is claimed by exclusive create (`link()` locally,
`If-None-Match: *` on S3): two machines moving one alias at once both land,
one after the other, and the loser's entry names the winner's version as the
previous one. Nothing is ever overwritten. Each entry carries the SHA-256 of the
previous entry's bytes, so a removed or edited middle entry breaks the chain and
is refused when the history is read. Entries are sealed like sidecars: encrypted
and authenticated (AAD binds model, alias and sequence) when encryption is on,
Ed25519-signed when signing is on (docs/FORMATO.md, "Aliases").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import blake3

from ..erros import (
    ErroArgumento,
    ErroConfiguracao,
    ErroIntegridade,
    ErroObjetoCorrompido,
    ErroRepositorio,
)
from .backends import Backend
from .blob import TIPO_ALIAS, Codificador
from .sidecar import Nomes, id_objeto_chave

ESQUEMA_ALIAS = 1
PASTA = "aliases"
SUFIXO = ".json"
DOMINIO_ALIAS = b"backup_versionamento/alias/v1\x00"
ACOES = ("definir", "remover")
TAMANHO_MAXIMO_ALIAS = 64
LIMITE_MOTIVO = 2000
_NOME_ALIAS = re.compile(r"^[A-Za-z0-9_-]+$")
_ARQUIVO = re.compile(r"^(\d{10})\.json$")
# Claims lost to other writers in a row before giving up (each one is progress
# for someone else, so this only ends a pathological storm).
TENTATIVAS = 200


class AssinadorBytes(Protocol):
    """What signing needs (seguranca.assinatura.AssinadorEd25519 provides it)."""

    def assinar_bytes(self, dados: bytes) -> dict[str, Any] | None: ...

    def conferir_bytes(self, dados: bytes, assinatura: Any, origem: str) -> None: ...


def validar_nome_alias(alias: Any) -> str:
    """Letters, digits, '-' and '_': an alias becomes a key segment and a git ref."""
    if not isinstance(alias, str) or not _NOME_ALIAS.match(alias):
        mostrado = alias if isinstance(alias, str) else type(alias).__name__
        raise ErroArgumento(
            f"nome de alias inválido: {mostrado!r}; use só letras sem acento, "
            "dígitos, '-' e '_' (ex.: producao, candidato-2)"
        )
    if len(alias) > TAMANHO_MAXIMO_ALIAS:
        raise ErroArgumento(
            f"nome de alias longo demais ({len(alias)} caracteres); use até "
            f"{TAMANHO_MAXIMO_ALIAS}"
        )
    return alias


def prefixo_aliases(modelo: str, nomes: Nomes | None = None) -> str:
    return f"{(nomes or Nomes()).prefixo(modelo)}{PASTA}/"


def chave_entrada(
    modelo: str, alias: str, sequencia: int, nomes: Nomes | None = None
) -> str:
    nomes = nomes or Nomes()
    seg = nomes.segmento_alias(modelo, alias)
    return f"{prefixo_aliases(modelo, nomes)}{seg}/{sequencia:010d}{SUFIXO}"


def id_objeto_alias(modelo: str, alias: str, sequencia: int) -> bytes:
    """AAD object id: an entry moved to another model, alias or slot is refused."""
    return blake3.blake3(
        f"alias\x00{modelo}\x00{alias}\x00{sequencia}".encode()
    ).digest()


@dataclass(frozen=True)
class EntradaAlias:
    """One move of an alias: `versao` None means the alias was removed."""

    modelo: str
    alias: str
    sequencia: int
    acao: str
    versao: str | None
    versao_anterior: str | None
    usuario: str
    host: str
    criado_em: str
    motivo: str = ""
    hash_anterior: str | None = None
    assinatura: dict[str, Any] | None = None
    esquema: int = ESQUEMA_ALIAS

    def como_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def bytes_canonicos(self) -> bytes:
        return json.dumps(
            self.como_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    def mensagem_assinada(self) -> bytes:
        return (
            DOMINIO_ALIAS + dataclasses.replace(self, assinatura=None).bytes_canonicos()
        )

    def publico(self) -> dict[str, Any]:
        """The view `historico_alias` returns (no signature blob)."""
        d = self.como_dict()
        d.pop("esquema")
        d["assinada"] = d.pop("assinatura") is not None
        d.pop("hash_anterior")
        return d

    @classmethod
    def de_dict(cls, dados: Any, origem: str) -> EntradaAlias:
        def ruim(motivo: str) -> ErroIntegridade:
            return ErroIntegridade(f"{origem}: histórico de alias inválido ({motivo})")

        if not isinstance(dados, dict):
            raise ruim("não é um objeto JSON")
        if dados.get("esquema") != ESQUEMA_ALIAS:
            raise ruim(f"esquema {dados.get('esquema')!r} desconhecido")
        campos = {f.name for f in dataclasses.fields(cls)}
        if set(dados) != campos:
            raise ruim(f"campos {sorted(set(dados) ^ campos)} inesperados/ausentes")
        for campo in ("modelo", "alias", "usuario", "host", "criado_em", "motivo"):
            if not isinstance(dados[campo], str):
                raise ruim(f"campo '{campo}' não é texto")
        if not isinstance(dados["sequencia"], int) or dados["sequencia"] < 1:
            raise ruim("sequência inválida")
        if dados["acao"] not in ACOES:
            raise ruim(f"ação {dados['acao']!r} desconhecida")
        for campo in ("versao", "versao_anterior", "hash_anterior"):
            if dados[campo] is not None and not isinstance(dados[campo], str):
                raise ruim(f"campo '{campo}' com tipo errado")
        if (dados["acao"] == "definir") != (dados["versao"] is not None):
            raise ruim("ação e versão não combinam")
        return cls(**dados)


class HistoricoAliases:
    """Read and append alias histories of one repository (see module docstring)."""

    def __init__(
        self,
        backend: Backend,
        codificador: Codificador,
        assinador: Callable[[], AssinadorBytes | None] = lambda: None,
        descricao: str = "",
        nomes: Nomes | None = None,
    ) -> None:
        self.backend = backend
        self.codificador = codificador
        self.nomeador = nomes or Nomes()
        # Read at each call: the security layer wires the signer after opening.
        self._assinador = assinador
        self.descricao = descricao or backend.descrever()

    # -- sealing -------------------------------------------------------------------
    def _chave(self, modelo: str, alias: str, sequencia: int) -> str:
        return chave_entrada(modelo, alias, sequencia, self.nomeador)

    def _aad(self, chave: str, modelo: str, alias: str, sequencia: int) -> bytes:
        # Hidden names: the key itself is bound (the alias is unknown until read).
        if self.nomeador.ocultos:
            return id_objeto_chave(chave)
        return id_objeto_alias(modelo, alias, sequencia)

    def _selar(self, e: EntradaAlias) -> bytes | list[bytes | memoryview]:
        claro = e.bytes_canonicos()
        if self.codificador.cifra is None:
            return claro
        chave = self._chave(e.modelo, e.alias, e.sequencia)
        return self.codificador.codificar(
            claro,
            TIPO_ALIAS,
            self._aad(chave, e.modelo, e.alias, e.sequencia),
            sempre_tentar=True,
        )

    def _abrir(self, modelo: str, alias: str, sequencia: int) -> EntradaAlias:
        return self._abrir_em(
            self._chave(modelo, alias, sequencia), modelo, alias, sequencia
        )

    def _abrir_em(
        self, chave: str, modelo: str, alias: str | None, sequencia: int
    ) -> EntradaAlias:
        """Read the entry at `chave`; `alias` None: hidden, learnt from the entry."""
        origem = f"{self.descricao}/{chave}"
        bruto = self.backend.ler(chave)
        if self.codificador.cifra is not None:
            try:
                bruto = bytes(
                    self.codificador.decodificar(
                        bruto,
                        TIPO_ALIAS,
                        self._aad(chave, modelo, alias or "", sequencia),
                        nome=chave,
                    )
                )
            except ErroObjetoCorrompido as e:
                raise ErroObjetoCorrompido(
                    f"{origem}: histórico de alias recusado ({e.mensagem})", chave
                ) from None
        try:
            dados = json.loads(bruto)
        except (ValueError, UnicodeDecodeError) as e:
            raise ErroIntegridade(
                f"{origem}: histórico de alias corrompido (JSON inválido: {e})"
            ) from None
        entrada = EntradaAlias.de_dict(dados, origem)
        if (entrada.modelo, entrada.alias, entrada.sequencia) != (
            modelo,
            entrada.alias if alias is None else alias,
            sequencia,
        ) or self._chave(modelo, entrada.alias, sequencia) != chave:
            raise ErroIntegridade(
                f"{origem}: a entrada diz ser {entrada.modelo} @{entrada.alias} "
                f"nº {entrada.sequencia} (copiada ou trocada); recusada"
            )
        if entrada.bytes_canonicos() != bytes(bruto):
            raise ErroIntegridade(f"{origem}: entrada não canônica (editada?)")
        assinador = self._assinador()
        if assinador is not None:
            assinador.conferir_bytes(
                entrada.mensagem_assinada(), entrada.assinatura, origem
            )
        return entrada

    # -- listing -------------------------------------------------------------------
    def _sequencias(self, modelo: str) -> dict[str, list[int]]:
        """alias -> its sequence numbers, sorted (one listing for the model)."""
        prefixo = prefixo_aliases(modelo, self.nomeador)
        saida: dict[str, list[int]] = {}
        for info in self.backend.listar(prefixo):
            resto = info.chave[len(prefixo) :].split("/")
            if len(resto) != 2 or not _NOME_ALIAS.match(resto[0]):
                continue
            m = _ARQUIVO.match(resto[1])
            if m:
                saida.setdefault(resto[0], []).append(int(m[1]))
        for lista in saida.values():
            lista.sort()
        if not self.nomeador.ocultos:
            return saida
        # Keyed ids: the alias's name is inside its (encrypted) entries.
        nomeados = {}
        for seg, seqs in saida.items():
            chave = f"{prefixo}{seg}/{seqs[-1]:010d}{SUFIXO}"
            nomeados[self._abrir_em(chave, modelo, None, seqs[-1]).alias] = seqs
        return nomeados

    def ultima(self, modelo: str, alias: str) -> EntradaAlias | None:
        seqs = self._sequencias_de(modelo, alias)
        return self._abrir(modelo, alias, seqs[-1]) if seqs else None

    def _sequencias_de(self, modelo: str, alias: str) -> list[int]:
        prefixo = f"{prefixo_aliases(modelo, self.nomeador)}"
        prefixo += f"{self.nomeador.segmento_alias(modelo, alias)}/"
        seqs = []
        for info in self.backend.listar(prefixo):
            m = _ARQUIVO.match(info.chave[len(prefixo) :])
            if m:
                seqs.append(int(m[1]))
        return sorted(seqs)

    def atuais(self, modelo: str) -> dict[str, EntradaAlias]:
        """Every alias of `modelo` that points at a version now (its last entry)."""
        saida = {}
        for alias, seqs in sorted(self._sequencias(modelo).items()):
            ultima = self._abrir(modelo, alias, seqs[-1])
            if ultima.versao is not None:
                saida[alias] = ultima
        return saida

    def nomes(self, modelo: str) -> list[str]:
        """Every alias that has a history (current or removed)."""
        return sorted(self._sequencias(modelo))

    def historico(self, modelo: str, alias: str) -> list[EntradaAlias]:
        """The whole history, oldest first, with its chain checked."""
        seqs = self._sequencias_de(modelo, alias)
        entradas: list[EntradaAlias] = []
        hash_anterior: str | None = None
        for esperado, seq in enumerate(seqs, start=1):
            if seq != esperado:
                raise ErroIntegridade(
                    f"{self.descricao}/{self._chave(modelo, alias, esperado)}: "
                    f"entrada nº {esperado} do histórico de @{alias} ausente "
                    "(apagada?); o histórico não é confiável"
                )
            e = self._abrir(modelo, alias, seq)
            if e.hash_anterior != hash_anterior:
                raise ErroIntegridade(
                    f"{self.descricao}/{self._chave(modelo, alias, seq)}: não "
                    f"encadeia com a entrada nº {seq - 1} do histórico de @{alias} "
                    "(alterada ou trocada); recusado"
                )
            hash_anterior = hashlib.sha256(e.bytes_canonicos()).hexdigest()
            entradas.append(e)
        return entradas

    # -- appending -----------------------------------------------------------------
    def anexar(
        self,
        modelo: str,
        alias: str,
        versao: str | None,
        *,
        usuario: str,
        host: str,
        criado_em: Callable[[], str],
        motivo: str = "",
        exigir_atual: bool = False,
    ) -> tuple[EntradaAlias, bool]:
        """Append one move; retry on the next number when another writer won.

        Returns (the entry, whether this call wrote it): an alias that already
        points at `versao` gets no new entry. `exigir_atual` (a removal): refuse
        when the alias points at nothing.
        """
        validar_nome_alias(alias)
        for tentativa in range(TENTATIVAS):
            seqs = self._sequencias_de(modelo, alias)
            anterior = self._abrir(modelo, alias, seqs[-1]) if seqs else None
            atual = anterior.versao if anterior is not None else None
            if exigir_atual and atual is None:
                raise ErroArgumento(
                    f"o alias @{alias} do modelo {modelo!r} não aponta para nenhuma "
                    "versão; veja os aliases com `inicializar_backup.py alias "
                    f"listar --modelo {modelo}`"
                )
            if anterior is not None and versao is not None and atual == versao:
                return anterior, False
            entrada = EntradaAlias(
                modelo=modelo,
                alias=alias,
                sequencia=(seqs[-1] + 1) if seqs else 1,
                acao="definir" if versao is not None else "remover",
                versao=versao,
                versao_anterior=atual,
                usuario=usuario,
                host=host,
                criado_em=criado_em(),
                motivo=motivo,
                hash_anterior=(
                    hashlib.sha256(anterior.bytes_canonicos()).hexdigest()
                    if anterior is not None
                    else None
                ),
            )
            assinador = self._assinador()
            if assinador is not None:
                assinatura = assinador.assinar_bytes(entrada.mensagem_assinada())
                if assinatura is None and getattr(assinador, "obrigatoria", False):
                    # An unsigned entry would make the alias unreadable for all.
                    raise ErroConfiguracao(
                        "seguranca.assinatura.obrigatoria: esta máquina não tem a "
                        "chave privada (seguranca.assinatura.chave_privada) para "
                        f"assinar a mudança do alias @{alias}; nada foi gravado"
                    )
                entrada = dataclasses.replace(entrada, assinatura=assinatura)
            chave = self._chave(modelo, alias, entrada.sequencia)
            if self.backend.gravar(chave, self._selar(entrada), exclusivo=True):
                return entrada, True
            time.sleep(random.uniform(0.0, 0.01) * min(tentativa + 1, 10))
        raise ErroRepositorio(
            f"{self.descricao}: o alias @{alias} de {modelo!r} mudou {TENTATIVAS} "
            "vezes seguidas enquanto era gravado; tente de novo"
        )
