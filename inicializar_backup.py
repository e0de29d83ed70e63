#!/usr/bin/env python3
"""Script de inicialização: `python inicializar_backup.py <subcomando> --help`."""

import sys
from pathlib import Path

# Running from a checkout without installing: make the package importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    try:  # Ctrl+C while the libraries still import: exit quietly, like later
        from backup_versionamento.cli import executar_console
    except KeyboardInterrupt:
        sys.exit(130)
    executar_console()
