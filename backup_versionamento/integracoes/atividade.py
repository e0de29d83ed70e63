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

from ..base.tempo import momento_ou_none
from ..eventos import Evento
from ..registro import NOME_LOGGER

log = logging.getLogger(NOME_LOGGER)

NOME_ARQUIVO = "atividade.jsonl"


def arquivo_atividade(pasta_logs: str | Path) -> Path:
    """Where the journal of a repository whose logs are in `pasta_logs` lives."""
    return Path(pasta_logs) / NOME_ARQUIVO


def momento_do_evento(obj: Any) -> datetime | None:
    """The aware `momento` of a journal entry, or None if `obj` is not an event."""
    if not isinstance(obj, dict) or not isinstance(obj.get("evento"), str):
        return None
    if not isinstance(obj.get("dados", {}), dict):
        return None
    return momento_ou_none(obj.get("momento"))


def _evento_da_linha(linha: bytes) -> dict[str, Any] | None:
    """One journal line as {"evento", "momento" (aware datetime), "dados"}, or None."""
    try:
        obj = json.loads(linha)
    except (ValueError, UnicodeDecodeError):
        return None
    momento = momento_do_evento(obj)
    if momento is None:
        return None
    return {"evento": obj["evento"], "momento": momento, "dados": obj.get("dados", {})}


class DiarioAtividade:
    """Bus subscriber that appends each event to `<pasta_logs>/atividade.jsonl`."""

    def __init__(self, pasta_logs: Path) -> None:
        self.arquivo = arquivo_atividade(pasta_logs)
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
    arquivo = arquivo_atividade(pasta_logs)
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
        except ValueError:
            ev = None
        momento = momento_do_evento(ev)
        if momento is None:
            if numero < len(linhas):  # not the last piece: a bad line, not a torn one
                log.warning("%s:%d: linha ignorada (não é um evento)", arquivo, numero)
            continue  # the torn last line of a killed writer: silently skipped
        if limite is None or momento >= limite:
            eventos.append(ev)
    return eventos


class LeitorAtividade:
    """Reads the journal incrementally: each call returns only the lines appended.

    A torn last line (no newline yet) is left for the next call; invalid lines are
    counted and skipped. A journal that shrank or was replaced is read again from
    the start.
    """

    def __init__(self, arquivo: Path) -> None:
        self.arquivo = Path(arquivo)
        self.linhas_invalidas = 0
        # True after a call that started over (totals built so far are stale).
        self.recomecou = False
        self._posicao = 0
        self._inode: int | None = None

    def novos(self) -> list[dict[str, Any]]:
        try:
            with open(self.arquivo, "rb") as f:
                info = os.fstat(f.fileno())
                self.recomecou = False
                if info.st_ino != self._inode or info.st_size < self._posicao:
                    self.recomecou = self._inode is not None
                    self._inode, self._posicao = info.st_ino, 0
                    self.linhas_invalidas = 0
                f.seek(self._posicao)
                bruto = f.read()
        except FileNotFoundError:
            return []
        except OSError as e:
            log.warning("Não foi possível ler %s: %s", self.arquivo, e)
            return []
        fim = bruto.rfind(b"\n") + 1
        self._posicao += fim
        saida = []
        for linha in bruto[:fim].splitlines():
            if not linha.strip():
                continue
            ev = _evento_da_linha(linha)
            if ev is None:
                self.linhas_invalidas += 1
            else:
                saida.append(ev)
        return saida
