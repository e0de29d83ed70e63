"""Is a repository address a local folder? Asked here, once.

An address with a scheme (`s3://bucket/prefix`, `memoria://`) is not a folder;
anything else is a path on this machine. Never build a `Path` from an address
before asking: `Path("s3://b/p")` is the local path 's3:/b/p'.
"""

from __future__ import annotations

from pathlib import Path


def e_local(endereco: str | Path) -> bool:
    """True for a folder on this machine, False for an address with a scheme."""
    return isinstance(endereco, Path) or "://" not in endereco


def pasta_local(endereco: str | Path | None) -> Path | None:
    """The folder of a local repository address; None for a remote one (or None)."""
    if endereco is None or not e_local(endereco):
        return None
    return Path(endereco)
