"""The activity journal: every event as one JSON line in logs/atividade.jsonl.

Always on. One line per event, `Evento.como_dict()` with sorted keys; appended
with one write() on an O_APPEND descriptor, so lines from several processes
never interleave. Reports read it back with `ler_atividade`.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..eventos import Evento, ler_momento
from ..registro import NOME_LOGGER

log = logging.getLogger(NOME_LOGGER)

NOME_ARQUIVO = "atividade.jsonl"


class DiarioAtividade:
    """Bus subscriber that appends each event to `<pasta_logs>/atividade.jsonl`."""

    def __init__(self, pasta_logs: Path) -> None:
        self.arquivo = Path(pasta_logs) / NOME_ARQUIVO
        self._avisado = False

    def __call__(self, evento: Evento) -> None:
        linha = json.dumps(evento.como_dict(), ensure_ascii=False, sort_keys=True)
        dados = (linha + "\n").encode("utf-8")
        try:
            fd = os.open(self.arquivo, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                escritos = os.write(fd, dados)
                while escritos < len(dados):  # short writes: finish the line
                    escritos += os.write(fd, dados[escritos:])
            finally:
                os.close(fd)
        except OSError as e:
            if not self._avisado:  # a read-only repository: say it once
                log.warning(
                    "Diário de atividade indisponível (%s): %s", self.arquivo, e
                )
                self._avisado = True


def ler_atividade(
    pasta_logs: str | Path, desde: datetime | None = None
) -> list[dict[str, Any]]:
    """Events of the journal, oldest first; `desde` keeps those at or after it.

    A naive `desde` is local time. A torn last line (a writer was killed
    mid-write) is skipped; so is any other line that is not an event.
    """
    arquivo = Path(pasta_logs) / NOME_ARQUIVO
    try:
        texto = arquivo.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    limite = None
    if desde is not None:
        limite = desde.astimezone(timezone.utc) if desde.tzinfo is None else desde
    eventos: list[dict[str, Any]] = []
    linhas = texto.split("\n")
    for numero, linha in enumerate(linhas, 1):
        if not linha.strip():
            continue
        try:
            ev = json.loads(linha)
            momento = ler_momento(ev["momento"])
            if not isinstance(ev.get("dados"), dict) or "evento" not in ev:
                raise ValueError("sem 'evento' ou 'dados'")
        except (ValueError, KeyError, TypeError) as e:
            if numero < len(linhas):  # not the last piece: a bad line, not a torn one
                log.warning("%s:%d: linha ignorada (%s)", arquivo, numero, e)
            continue  # the torn last line of a killed writer: silently skipped
        if limite is None or momento >= limite:
            eventos.append(ev)
    return eventos
