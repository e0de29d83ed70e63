"""The repository's master key as configured: made for a new encrypted
repository, opened for an existing one (the two hooks of `Repositorio.abrir`),
and wrapped for more people (`chaves` subcommand).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..armazenamento.sidecar import CAMPO_NOMES_CHAVEADOS
from ..erros import ErroCriptografia
from .credenciais import credenciais, credenciais_de_criacao

# lazy: startup time (docs/DESEMPENHO.md); `cryptography` loads only when the
# configuration or the repository header asks for encryption.
if TYPE_CHECKING:
    from ..armazenamento.backends import Backend
    from ..armazenamento.blob import Cifra
    from .chaves import Chaveiro, Credencial


# Every new encrypted repository hides model names and versions in its object
# keys (docs/FORMATO.md, "Nomes chaveados"). Only the tests' encrypted rerun of
# the older suites, which address sidecars by path, turns it off.
NOMES_CHAVEADOS_NOVOS = True


class ChaveMestra:
    def __init__(
        self, cripto: dict[str, Any], backend: Backend, base: Path | None
    ) -> None:
        self.cripto = cripto
        self.backend = backend
        self.base = base
        self.mestra: bytes | None = None
        self.id_chave: str | None = None
        self.id_repositorio: str | None = None

    @property
    def arquivo_chave(self) -> Path:
        return Path(self.cripto["chave_arquivo"])

    def derivar(self, uso: str) -> bytes | None:
        """The subkey for `uso` ('auditoria', 'politica': cifra.USO_*), or None in
        a plain repository (then `cryptography` is not even loaded)."""
        if self.mestra is None or not self.id_repositorio:
            return None
        from . import cifra

        usos = {
            "auditoria": cifra.USO_AUDITORIA,
            "campos_auditoria": cifra.USO_AUDITORIA_CAMPOS,
            "politica": cifra.USO_POLITICA,
        }
        return cifra.derivar(self.mestra, usos[uso], self.id_repositorio)

    def preparar_criacao(self, cab: dict[str, Any]) -> list[str]:
        """Hook of Repositorio.abrir: a new encrypted repository's keys and header."""
        if not self.cripto["habilitada"]:
            return []
        from .chaves import Chaveiro, chave_objeto
        from .cifra import ALGORITMO, impressao_mestra

        creds = credenciais_de_criacao(self.arquivo_chave, self.base)
        mestra = os.urandom(32)
        chaveiro = Chaveiro(self.backend, cab["id"])
        escritas = [chave_objeto(chaveiro.embrulhar(mestra, c)) for c in creds]
        cab["ids_chaveados"] = True
        if NOMES_CHAVEADOS_NOVOS:
            cab[CAMPO_NOMES_CHAVEADOS] = True
        cab["criptografia"] = {
            "algoritmo": ALGORITMO,
            "derivacao": "HKDF-SHA256",
            "impressao": impressao_mestra(mestra, cab["id"]),
        }
        self.mestra, self.id_repositorio = mestra, cab["id"]
        return escritas

    def chaves(self, cab: dict[str, Any]) -> tuple[Cifra | None, bytes | None]:
        """Hook of Repositorio.abrir: cipher and chunk-id key of an existing header."""
        desc = self.backend.descrever()
        cc = cab.get("criptografia")
        if not cc:
            if self.cripto["habilitada"]:
                raise ErroCriptografia(
                    f"{desc}: o repositório não é criptografado, mas "
                    "seguranca.criptografia.habilitada é true. A criptografia não é "
                    "ligada num repositório existente: crie um repositório novo com "
                    "criptografia e copie as versões para ele (docs/SEGURANCA.md, "
                    '"Passar a usar criptografia"), ou deixe habilitada=false. '
                    "Nada foi lido nem escrito."
                )
            return None, None
        from .chaves import Chaveiro
        from .cifra import (
            ALGORITMO,
            USO_DADOS,
            USO_IDS,
            CifraAESGCM,
            derivar,
            impressao_mestra,
        )

        if not isinstance(cc, dict) or cc.get("algoritmo") != ALGORITMO:
            raise ErroCriptografia(
                f"{desc}: criptografia {cc!r} desconhecida; esta versão usa {ALGORITMO}"
            )
        id_repo = str(cab["id"])
        impressao = str(cc.get("impressao"))
        if not (
            self.mestra is not None
            and self.id_repositorio == id_repo
            and impressao_mestra(self.mestra, id_repo) == impressao
        ):
            dica = f"o arquivo de chave {self.arquivo_chave} não existe"
            self.mestra, self.id_chave = Chaveiro(self.backend, id_repo).abrir(
                credenciais(self.arquivo_chave), impressao, dica
            )
            self.id_repositorio = id_repo
        chave_ids = (
            derivar(self.mestra, USO_IDS, id_repo) if cab.get("ids_chaveados") else None
        )
        return CifraAESGCM(derivar(self.mestra, USO_DADOS, id_repo)), chave_ids

    # -- key management (`chaves` subcommand) -------------------------------------
    def _chaveiro_aberto(self) -> tuple[Chaveiro, bytes]:
        from .chaves import Chaveiro

        if self.mestra is None or self.id_repositorio is None:
            raise ErroCriptografia(
                f"{self.backend.descrever()}: o repositório não é criptografado; não "
                "há chaves a gerenciar"
            )
        return Chaveiro(self.backend, self.id_repositorio), self.mestra

    def adicionar(self, credencial: Credencial, usuario: str | None = None) -> str:
        """Wrap the master key for one more key file or passphrase; data untouched.

        `usuario`: the person the key is for (one key object per person).
        """
        chaveiro, mestra = self._chaveiro_aberto()
        return chaveiro.embrulhar(mestra, credencial, usuario=usuario)

    def remover_de(self, usuario: str) -> list[str]:
        chaveiro, _ = self._chaveiro_aberto()
        return chaveiro.remover_de(usuario)

    def remover(self, id_chave: str) -> None:
        chaveiro, _ = self._chaveiro_aberto()
        chaveiro.remover(id_chave)

    def reembrulhar(self, id_chave: str, credencial: Credencial) -> str:
        """Replace key object `id_chave` by one under a new credential (new first)."""
        chaveiro, mestra = self._chaveiro_aberto()
        if not any(o["id"] == id_chave for o in chaveiro.listar()):
            raise ErroCriptografia(
                f"chave {id_chave!r} não existe neste repositório "
                "(veja `chaves listar`)"
            )
        novo = chaveiro.embrulhar(mestra, credencial)
        chaveiro.remover(id_chave)
        return novo
