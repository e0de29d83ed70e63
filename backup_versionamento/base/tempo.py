"""Time, in one place: the repository's UTC timestamps and how a person sees them.

The repository, the journals and `--json` keep UTC ISO 8601 ('...Z'); only text
for a person goes through `hora_local`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def agora_iso() -> str:
    """UTC timestamp in the repository's format (ISO 8601 with 'Z')."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_utc(momento: datetime) -> str:
    """`momento` as a UTC ISO 8601 string to the second ('...Z')."""
    return momento.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ler_momento(texto: str) -> datetime:
    """Parse one of our timestamps into an aware datetime; ValueError if it is not one.

    Takes 'Z' or an offset (Python 3.10's fromisoformat does not take 'Z'); a time
    without a zone is UTC, the only zone this tool writes.
    """
    if texto.endswith(("Z", "z")):
        texto = texto[:-1] + "+00:00"
    momento = datetime.fromisoformat(texto)
    return momento if momento.tzinfo else momento.replace(tzinfo=timezone.utc)


def momento_ou_none(texto: Any) -> datetime | None:
    """`ler_momento` for untrusted data: None for anything that is not a timestamp."""
    if not isinstance(texto, str):
        return None
    try:
        return ler_momento(texto)
    except ValueError:
        return None


def hora_local(momento: str | datetime | None) -> str:
    """'2026-11-29T17:00:00Z' -> '2026-11-29 14:00:00 -03' (in the machine's zone).

    A time without a zone is taken as UTC (the repository's convention); text that
    is not a time is returned as it came, and None as '-'.
    """
    if momento is None or momento == "":
        return "-"
    if isinstance(momento, datetime):
        instante = momento
        if instante.tzinfo is None:
            instante = instante.replace(tzinfo=timezone.utc)
    else:
        lido = momento_ou_none(str(momento))
        if lido is None:
            return str(momento)
        instante = lido
    local = instante.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.strftime("%Z") or "UTC")
