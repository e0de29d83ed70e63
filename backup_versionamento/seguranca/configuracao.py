"""The `seguranca` section of the configuration: encryption, access, signatures."""

from __future__ import annotations

from typing import Any

from ..base.configuracao import Secao, faixa, lista_de_texto, um_de
from .acesso import PAPEIS
from .grupo import PAPEIS_GRUPO


def _usuarios_autorizados(v: list[Any] | dict[str, Any]) -> str | None:
    if isinstance(v, list):
        return lista_de_texto(v)
    ruins = [
        f"{u!r}"
        for u, papeis in v.items()
        if not isinstance(papeis, list)
        or not papeis
        or not all(p in PAPEIS for p in papeis)
    ]
    if ruins:
        return (
            f"papéis inválidos para {', '.join(ruins)}: cada usuário recebe uma lista "
            f"não vazia de {', '.join(PAPEIS)}"
        )
    return None


def _assinatura(v: dict[str, Any]) -> str | None:
    if v["habilitada"] and not (v["chave_privada"] or v["chave_publica"]):
        return (
            "habilitada, mas sem chave: defina chave_privada (para assinar) e/ou "
            "chave_publica (para conferir); gere um par com "
            "`inicializar_backup.py chaves gerar-assinatura --saida PASTA`"
        )
    if v["obrigatoria"] and not v["habilitada"]:
        return "obrigatoria exige habilitada=true"
    return None


SECAO_CONFIG = Secao(
    "seguranca",
    {
        "criptografia": {
            "habilitada": False,
            "algoritmo": "AES-256",
            "chave_arquivo": "./backups_modelos/chaves/.encryption_key",
        },
        "controle_acesso": {
            "habilitado": False,
            "usuarios_autorizados": ["admin", "ml_engineer"],
            "log_acessos": True,
            # A local repository owned by this OS group, with modes that the kernel
            # enforces: "leitor" (read) or "operador" (also create versions).
            "grupo": "",
            "papel_grupo": "leitor",
            # S3: days of Object Lock retention of the audit witnesses (0: the
            # bucket's default retention, if any).
            "auditoria_retencao_dias": 0,
        },
        "assinatura": {
            "habilitada": False,
            # PEM files from `inicializar_backup.py chaves gerar-assinatura`.
            "chave_privada": "",
            "chave_publica": "",
            # Refuse versions without a signature (not only a wrong one).
            "obrigatoria": False,
        },
    },
    {
        "seguranca.criptografia.algoritmo": um_de({"AES-256", "AES-256-GCM"}),
        "seguranca.controle_acesso.usuarios_autorizados": _usuarios_autorizados,
        "seguranca.controle_acesso.papel_grupo": um_de(set(PAPEIS_GRUPO)),
        "seguranca.controle_acesso.auditoria_retencao_dias": faixa(0, 36500),
        "seguranca.assinatura": _assinatura,
    },
    {"seguranca.controle_acesso.usuarios_autorizados": dict},
)
