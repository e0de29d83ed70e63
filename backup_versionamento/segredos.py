"""Secrets (webhook secret, dashboard token) from the environment or a 0600 file.

The spec's keys (`integracao.webhook.segredo`, `relatorios.painel_token`) keep
working, but a secret in clear in `config_backup.json` travels with every copy of
the file; so each one may also come from an environment variable or from a file
of its own (`segredo_arquivo`, `painel_token_arquivo`) that only its owner can
read. Resolution fills the spec's key, so the rest of the program reads one place.
Precedence: environment variable, then file, then the key in the configuration.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .base.escrita import mensagem_os
from .erros import ErroConfiguracao
from .registro import NOME_LOGGER

log = logging.getLogger(NOME_LOGGER)

VARIAVEL_WEBHOOK = "BACKUP_VERSIONAMENTO_WEBHOOK_SEGREDO"
VARIAVEL_PAINEL = "BACKUP_VERSIONAMENTO_PAINEL_TOKEN"
TAMANHO_MAXIMO = 64 * 1024


def ler_arquivo_segredo(caminho: str | Path, chave: str) -> str:
    """The secret in `caminho` (trailing newline dropped); refused unless 0600-like."""
    arq = Path(caminho)
    try:
        st = os.stat(arq)
    except OSError as e:
        raise ErroConfiguracao(
            f"{chave}: {arq}: {mensagem_os(e)}; crie o arquivo com o segredo "
            f"(`install -m 600 /dev/null {arq}` e depois escreva nele)"
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise ErroConfiguracao(f"{chave}: {arq}: não é um arquivo comum")
    if st.st_mode & 0o077:
        raise ErroConfiguracao(
            f"{chave}: {arq}: permissões {stat.S_IMODE(st.st_mode):04o} deixam outros "
            f"usuários lerem o segredo; rode `chmod 600 {arq}`"
        )
    if st.st_size > TAMANHO_MAXIMO:
        raise ErroConfiguracao(f"{chave}: {arq}: grande demais para um segredo")
    try:
        texto = arq.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        detalhe = mensagem_os(e) if isinstance(e, OSError) else str(e)
        raise ErroConfiguracao(f"{chave}: {arq}: ilegível ({detalhe})") from None
    segredo = texto.rstrip("\r\n")
    if not segredo.strip():
        raise ErroConfiguracao(f"{chave}: {arq}: arquivo vazio; escreva o segredo nele")
    return segredo


def _lugares(cfg: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str, str, str]]:
    """(section, key, file key, env var or '') of every secret in `cfg`."""
    webhook = cfg["integracao"]["webhook"]
    yield webhook, "segredo", "segredo_arquivo", VARIAVEL_WEBHOOK
    for item in webhook["endpoints"]:
        if isinstance(item, dict):
            yield item, "segredo", "segredo_arquivo", ""
    yield cfg["relatorios"], "painel_token", "painel_token_arquivo", VARIAVEL_PAINEL


def _nome(secao: dict[str, Any], cfg: dict[str, Any], chave: str) -> str:
    webhook = cfg["integracao"]["webhook"]
    if secao is webhook:
        return f"integracao.webhook.{chave}"
    if secao is cfg["relatorios"]:
        return f"relatorios.{chave}"
    return f"integracao.webhook.endpoints[{webhook['endpoints'].index(secao)}].{chave}"


def caminhos_relativos(cfg: dict[str, Any], raiz: Path) -> None:
    """Anchor relative secret files at the configuration file's folder."""
    for secao, _, chave_arq, _ in _lugares(cfg):
        valor = secao.get(chave_arq) or ""
        if valor:
            p = Path(valor).expanduser()
            secao[chave_arq] = str(p if p.is_absolute() else (raiz / p).resolve())


def token_do_painel_disponivel(cfg: dict[str, Any]) -> bool:
    """Whether the dashboard will have a token (before files are read)."""
    r = cfg["relatorios"]
    return bool(
        r["painel_token"].strip()
        or r["painel_token_arquivo"]
        or os.environ.get(VARIAVEL_PAINEL, "").strip()
    )


def resolver(cfg: dict[str, Any]) -> None:
    """Fill each secret's key from its environment variable or its file."""
    for secao, chave, chave_arq, variavel in _lugares(cfg):
        arquivo = secao.get(chave_arq) or ""
        if arquivo and secao.get(chave):
            raise ErroConfiguracao(
                f"{_nome(secao, cfg, chave)} e {_nome(secao, cfg, chave_arq)}: use só "
                f"um (de preferência o arquivo, fora do config_backup.json)"
            )
        do_ambiente = os.environ.get(variavel, "") if variavel else ""
        if do_ambiente.strip():
            secao[chave] = do_ambiente
        elif arquivo:
            secao[chave] = ler_arquivo_segredo(arquivo, _nome(secao, cfg, chave_arq))


def avisar_se_exposto(dados: dict[str, Any], arquivo: Path) -> None:
    """Warn when a secret sits in clear in a config file other users can read."""
    try:
        modo = stat.S_IMODE(os.stat(arquivo).st_mode)
    except OSError:
        return
    if not modo & 0o044:
        return
    webhook = (dados.get("integracao") or {}).get("webhook") or {}
    expostos = []
    if isinstance(webhook, dict):
        if webhook.get("segredo"):
            expostos.append("integracao.webhook.segredo")
        for i, item in enumerate(webhook.get("endpoints") or []):
            if isinstance(item, dict) and item.get("segredo"):
                expostos.append(f"integracao.webhook.endpoints[{i}].segredo")
    relatorios = dados.get("relatorios") or {}
    if isinstance(relatorios, dict) and relatorios.get("painel_token"):
        expostos.append("relatorios.painel_token")
    if expostos:
        log.warning(
            "%s: %s em claro num arquivo que outros usuários podem ler (permissões "
            "%04o). Mova para um arquivo 0600 (segredo_arquivo / "
            "painel_token_arquivo) ou para as variáveis %s / %s, ou rode chmod 600 %s",
            arquivo,
            ", ".join(expostos),
            modo,
            VARIAVEL_WEBHOOK,
            VARIAVEL_PAINEL,
            arquivo,
        )
