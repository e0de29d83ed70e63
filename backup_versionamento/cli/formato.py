"""How values are written for a person: times in local time with the zone.

The repository and `--json` keep UTC ISO 8601; only text output goes through here.
"""

from __future__ import annotations

from datetime import datetime, timezone


def hora_local(momento: str | datetime | None) -> str:
    """'2026-11-29T17:00:00Z' -> '2026-11-29 14:00:00 -03' (in the machine's zone).

    A time without a zone is taken as UTC (the repository's convention); text that
    is not a time is returned as it came, and None as '-'.
    """
    if momento is None or momento == "":
        return "-"
    if isinstance(momento, datetime):
        instante = momento
    else:
        try:
            instante = datetime.fromisoformat(str(momento).replace("Z", "+00:00"))
        except ValueError:
            return str(momento)
    if instante.tzinfo is None:
        instante = instante.replace(tzinfo=timezone.utc)
    local = instante.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.strftime("%Z") or "UTC")
