"""Version sidecars: the JSON file that is the truth about one version.

A sidecar lists the model's entries (one for a single-file model, many for a
directory model such as a SavedModel) with each entry's ordered chunk list. It
is created exclusively and never overwritten.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Any

from ..erros import ErroIntegridade, ErroRepositorio

ESQUEMA_SIDECAR = 1
PREFIXO = "modelos"
_NOME_PROIBIDO = re.compile(r"[/\\\x00]")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def validar_nome_modelo(nome: str) -> str:
    """A model name becomes a folder name: refuse anything that could escape it."""
    if (
        not nome
        or nome in {".", ".."}
        or _NOME_PROIBIDO.search(nome)
        or nome.startswith(".")
    ):
        raise ErroRepositorio(
            f"nome de modelo inválido: {nome!r}; use um nome de arquivo simples, sem "
            "'/', sem começar com '.'"
        )
    return nome


def chave_sidecar(modelo: str, versao: str) -> str:
    return f"{PREFIXO}/{modelo}/{versao}.json"


def caminho_entrada_seguro(caminho: str) -> PurePosixPath:
    """Refuse absolute paths and '..' coming from a sidecar."""
    p = PurePosixPath(caminho)
    if (
        not caminho
        or p.is_absolute()
        or ".." in p.parts
        or "\\" in caminho
        or "\x00" in caminho
    ):
        raise ErroIntegridade(f"metadado com caminho inseguro recusado: {caminho!r}")
    return p


def validar_sidecar(dados: Any, origem: str) -> dict[str, Any]:
    """Check the fields restore relies on; raise ErroIntegridade naming `origem`."""

    def ruim(motivo: str) -> ErroIntegridade:
        return ErroIntegridade(f"{origem}: metadado inválido ({motivo})")

    if not isinstance(dados, dict):
        raise ruim("não é um objeto JSON")
    esquema = dados.get("esquema")
    if esquema != ESQUEMA_SIDECAR:
        raise ruim(
            f"esquema {esquema!r} desconhecido; esta versão lê o esquema "
            f"{ESQUEMA_SIDECAR}"
        )
    for campo, tipo in (
        ("modelo", str),
        ("versao", str),
        ("tipo", str),
        ("entradas", list),
        ("sha256", str),
        ("tamanho", int),
        ("criado_em", str),
    ):
        if not isinstance(dados.get(campo), tipo):
            raise ruim(f"campo '{campo}' ausente ou com tipo errado")
    if dados["tipo"] not in ("arquivo", "diretorio"):
        raise ruim(f"tipo {dados['tipo']!r} desconhecido")
    total = 0
    for ent in dados["entradas"]:
        if not isinstance(ent, dict) or not isinstance(ent.get("caminho"), str):
            raise ruim("entrada sem caminho")
        caminho_entrada_seguro(ent["caminho"])
        if ent.get("tipo") == "diretorio":
            continue
        blocos = ent.get("blocos")
        if not isinstance(blocos, list) or not _SHA256.match(
            str(ent.get("sha256", ""))
        ):
            raise ruim(f"entrada {ent['caminho']!r} sem blocos ou sha256")
        soma = 0
        for b in blocos:
            if (
                not isinstance(b, list)
                or len(b) != 2
                or not isinstance(b[0], str)
                or not isinstance(b[1], int)
            ):
                raise ruim(f"entrada {ent['caminho']!r} com bloco malformado")
            soma += b[1]
        if soma != ent.get("tamanho"):
            raise ruim(f"entrada {ent['caminho']!r}: soma dos blocos difere do tamanho")
        total += soma
    if total != dados["tamanho"]:
        raise ruim("tamanho total difere da soma das entradas")
    return dados


def ler_sidecar(bruto: bytes, origem: str) -> dict[str, Any]:
    try:
        dados = json.loads(bruto)
    except (ValueError, UnicodeDecodeError) as e:
        raise ErroIntegridade(
            f"{origem}: metadado corrompido (JSON inválido: {e})"
        ) from None
    return validar_sidecar(dados, origem)


def serializar_sidecar(dados: dict[str, Any]) -> bytes:
    return (json.dumps(dados, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def resumo_versao(sidecar: dict[str, Any]) -> dict[str, Any]:
    """The public view of a version (what listar_versoes returns)."""
    return {
        "modelo": sidecar["modelo"],
        "versao": sidecar["versao"],
        "descricao": sidecar.get("descricao", ""),
        "tipo_mudanca": sidecar.get("tipo_mudanca", ""),
        "incremento": sidecar.get("incremento", ""),
        "criado_em": sidecar["criado_em"],
        "tamanho": sidecar["tamanho"],
        "tamanho_armazenado": sidecar.get("tamanho_armazenado", 0),
        "sha256": sidecar["sha256"],
        "metricas": sidecar.get("metricas") or {},
        "tipo": sidecar["tipo"],
        "arquivos": sum(1 for e in sidecar["entradas"] if e.get("tipo") != "diretorio"),
        "usuario": sidecar.get("usuario", ""),
        "host": sidecar.get("host", ""),
        "origem": sidecar.get("origem", ""),
        "versao_anterior": sidecar.get("versao_anterior"),
        "validacao": sidecar.get("validacao"),
        "mudanca": sidecar.get("mudanca"),
        "linhagem": sidecar.get("linhagem"),
    }
