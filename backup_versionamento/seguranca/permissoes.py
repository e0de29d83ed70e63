"""File modes of a protected local repository (docs/SEGURANCA.md).

With encryption or access control on, 'others' lose access to the repository
folder (the group is kept: a shared team) and logs/ becomes 0750 with files at
most 0640, whatever the umask made them.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from ..registro import NOME_LOGGER

log = logging.getLogger(NOME_LOGGER)

MODO_PASTA_LOGS = 0o750
MODO_ARQUIVO_LOG = 0o640


def restringir_logs(pasta: Path) -> None:
    """logs/ 0750 and its files at most 0640, whatever the umask made them."""
    try:
        itens = [pasta, *pasta.iterdir()] if pasta.is_dir() else []
        for item in itens:
            st = item.lstat()
            if st.st_uid != os.geteuid() or stat.S_ISLNK(st.st_mode):
                continue
            teto = MODO_PASTA_LOGS if stat.S_ISDIR(st.st_mode) else MODO_ARQUIVO_LOG
            modo = stat.S_IMODE(st.st_mode)
            if modo & ~teto:
                os.chmod(item, modo & teto)
    except OSError as e:
        log.debug("%s: permissões não ajustadas (%s)", pasta, e)


def restringir(base: Path) -> None:
    """No access for 'others' on the repository folder (group kept: a shared team)."""
    try:
        st = base.stat()
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o007:
            os.chmod(base, stat.S_IMODE(st.st_mode) & ~0o007)
    except OSError as e:
        log.debug("%s: permissões não ajustadas (%s)", base, e)
