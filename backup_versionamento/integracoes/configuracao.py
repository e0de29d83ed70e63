"""The `integracao` section of the configuration: git, the S3 mirror, webhooks.

Light on purpose: the configuration loads it on every command, while git,
webhooks and the mirror themselves load only when turned on (docs/DESEMPENHO.md).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlsplit

from ..base.configuracao import Secao, faixa, positivo, um_de
from ..eventos import EVENTOS

_CHAVES_ENDPOINT = {"url", "eventos", "segredo", "segredo_arquivo"}
_REF_GIT_PROIBIDA = re.compile(r"(^[./-])|(\.\.)|([\x00-\x20~^:?*\[\\\x7f])|(@\{)|(//)")


def nome_ref_git_valido(nome: str) -> bool:
    """Whether `nome` can be a git branch or tag name (git check-ref-format)."""
    return bool(nome) and not (
        _REF_GIT_PROIBIDA.search(nome)
        or nome.endswith((".", "/", ".lock"))
        or nome == "@"
        or "/." in nome
        or ".lock/" in nome
    )


def _branch(v: str) -> str | None:
    return (
        None
        if nome_ref_git_valido(v)
        else f"'{v}' não é um nome de branch válido no git (sem espaços, '..', "
        "'~', '^', ':', nem começar com '-' ou '.')"
    )


def _url(v: str) -> str | None:
    if not v:
        return None
    partes = urlsplit(v)
    if partes.scheme not in ("http", "https") or not partes.hostname:
        return f"'{v}' não é uma URL http:// ou https://"
    return None


def problema_segredo(v: str) -> str | None:
    """A 'whsec_' webhook secret must be base64 after the prefix."""
    if not v.startswith("whsec_"):
        return None
    try:
        base64.b64decode(v[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        return "começa com 'whsec_', mas o resto não é base64 válido"
    return None


def _eventos(v: list[Any]) -> str | None:
    ruins = [e for e in v if e not in EVENTOS]
    return (
        f"eventos desconhecidos {ruins}; use: {', '.join(sorted(EVENTOS))}"
        if ruins
        else None
    )


def _endpoint(i: int, item: Any) -> list[str]:
    onde = f"item {i}"
    if not isinstance(item, dict):
        return [f"{onde}: esperado objeto {{url, eventos, segredo}}"]
    problemas = []
    desconhecidas = sorted(set(item) - _CHAVES_ENDPOINT)
    if desconhecidas:
        problemas.append(
            f"{onde}: chaves desconhecidas {desconhecidas} (válidas: "
            f"{', '.join(sorted(_CHAVES_ENDPOINT))})"
        )
    url = item.get("url")
    if not isinstance(url, str) or not url:
        problemas.append(f"{onde}.url: obrigatória (texto http:// ou https://)")
    elif msg := _url(url):
        problemas.append(f"{onde}.url: {msg}")
    eventos = item.get("eventos", [])
    if not isinstance(eventos, list):
        problemas.append(f"{onde}.eventos: esperado lista")
    elif msg := _eventos(eventos):
        problemas.append(f"{onde}.eventos: {msg}")
    segredo = item.get("segredo", "")
    if not isinstance(segredo, str):
        problemas.append(f"{onde}.segredo: esperado texto")
    elif msg := problema_segredo(segredo):
        problemas.append(f"{onde}.segredo: {msg}")
    if not isinstance(item.get("segredo_arquivo", ""), str):
        problemas.append(f"{onde}.segredo_arquivo: esperado texto (um caminho)")
    return problemas


def _endpoints(v: list[Any]) -> str | None:
    problemas = [p for i, item in enumerate(v) for p in _endpoint(i, item)]
    return "; ".join(problemas) or None


def _webhook(v: dict[str, Any]) -> str | None:
    if v["habilitado"] and not v["url"] and not v["endpoints"]:
        return "habilitado, mas sem destino: defina url ou endpoints"
    urls = [v["url"]] if v["url"] else []
    urls += [e.get("url") for e in v["endpoints"] if isinstance(e, dict)]
    repetidas = sorted({u for u in urls if isinstance(u, str) and urls.count(u) > 1})
    if repetidas:
        return (
            f"URL repetida {repetidas}: cada destino aparece uma vez (junte os "
            "eventos numa lista só)"
        )
    return None


def _nuvem(v: dict[str, Any]) -> str | None:
    if v.get("habilitado") and not str(v.get("bucket", "")).strip():
        return "habilitado, mas sem bucket: defina integracao.cloud_storage.bucket"
    return None


SECAO_CONFIG = Secao(
    "integracao",
    {
        "git": {
            "habilitada": False,
            "auto_commit": True,
            "branch_backups": "backups",
            # "" = the git repository that holds each model.
            "repositorio": "",
            "tag_por_versao": False,
        },
        "cloud_storage": {
            "habilitado": False,
            "provedor": "aws_s3",
            "bucket": "",
            "prefixo": "backups_modelos",
            "regiao": "",
            "endpoint_url": "",
            # A short-lived command waits this long for its push before exiting.
            "espera_ao_sair_segundos": 30.0,
            # Mirror: also delete from the bucket what limpeza removed here.
            "apagar_no_espelho": False,
        },
        "webhook": {
            "habilitado": False,
            "url": "",
            "eventos": ["backup_criado", "backup_falhou"],
            "segredo": "",
            # The secret from a file of its own (mode 0600) instead of in clear here;
            # or from $BACKUP_VERSIONAMENTO_WEBHOOK_SEGREDO (see segredos.py).
            "segredo_arquivo": "",
            "tempo_limite_segundos": 10.0,
            "tentativas": 8,
            # A short-lived command waits this long for its deliveries at exit.
            "espera_ao_sair_segundos": 5.0,
            # More endpoints: [{"url": ..., "eventos": [...], "segredo": ...}].
            "endpoints": [],
        },
    },
    {
        "integracao.cloud_storage.provedor": um_de({"aws_s3", "s3"}),
        "integracao.cloud_storage": _nuvem,
        "integracao.cloud_storage.endpoint_url": _url,
        "integracao.git.branch_backups": _branch,
        "integracao.webhook": _webhook,
        "integracao.webhook.url": _url,
        "integracao.webhook.eventos": _eventos,
        "integracao.webhook.segredo": problema_segredo,
        "integracao.webhook.tempo_limite_segundos": positivo,
        "integracao.webhook.tentativas": faixa(1, 100),
        "integracao.webhook.espera_ao_sair_segundos": faixa(0, 600),
        "integracao.cloud_storage.espera_ao_sair_segundos": faixa(0, 3600),
        "integracao.webhook.endpoints": _endpoints,
    },
)
