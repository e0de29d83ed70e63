"""A local repository owned by a team group, with modes that enforce the roles.

`controle_acesso.grupo` names an OS group; `papel_grupo` says what its members
may do, enforced by the kernel rather than by this program:

- leitor: folders 2750, files 0640. Members list, verify and restore; they cannot
  create, change or delete anything (their logs go to their own state folder).
- operador: folders 3770 (setgid + sticky), files 0640. Members also create
  versions; the sticky bit stops them from deleting or replacing files that
  others created (a published version, another's pack).
- admin: the owner of the repository folder (and root): pins, keys, cleanup.

Others get nothing. The setgid bit makes every new file and folder belong to
the group. The owner applies the modes to what already exists once, when the
configuration changes (the root folder's group or mode differs).
"""

from __future__ import annotations

import grp
import logging
import os
import stat
from pathlib import Path
from typing import Any

from ..erros import ErroConfiguracao
from ..registro import NOME_LOGGER

log = logging.getLogger(NOME_LOGGER)

PAPEIS_GRUPO = ("leitor", "operador")
MODO_PASTA = {"leitor": 0o2750, "operador": 0o3770}
MODO_ARQUIVO = 0o640
# Logs are appended by every operator and rotated by renaming: no sticky bit.
MODO_PASTA_LOGS = {"leitor": 0o2750, "operador": 0o2770}
MODO_ARQUIVO_LOG = {"leitor": 0o640, "operador": 0o660}
# Folders made once by the owner, so that the packs' and versions' folders, where
# cleanup deletes, belong to the administrator rather than to an operator.
PASTAS_FIXAS = ["pacotes", "indices", "modelos", "logs"] + [
    f"pacotes/{i:02x}" for i in range(256)
]


def gid_do_grupo(grupo: str) -> int:
    try:
        return grp.getgrnam(grupo).gr_gid
    except KeyError:
        raise ErroConfiguracao(
            f"seguranca.controle_acesso.grupo: o grupo {grupo!r} não existe nesta "
            f"máquina; crie-o (`groupadd {grupo}`) e ponha nele a equipe "
            "(`usermod -aG GRUPO USUARIO`)"
        ) from None


def preparar_backend(cfg_acesso: dict[str, Any], backend: Any) -> None:
    """Modes of what this process will create (before anything is written)."""
    if not cfg_acesso["grupo"] or not hasattr(backend, "usar_grupo"):
        return
    gid_do_grupo(cfg_acesso["grupo"])
    backend.usar_grupo(MODO_PASTA[cfg_acesso["papel_grupo"]])


def aplicar(base: Path, cfg_acesso: dict[str, Any]) -> None:
    """The owner gives the repository to the group with the role's modes."""
    grupo, papel = cfg_acesso["grupo"], cfg_acesso["papel_grupo"]
    if not grupo:
        return
    gid = gid_do_grupo(grupo)
    try:
        st = base.stat()
    except OSError:
        return
    if st.st_uid != os.geteuid():
        return  # only the owner (the administrator) changes modes
    modo = MODO_PASTA[papel]
    if st.st_gid == gid and stat.S_IMODE(st.st_mode) == modo:
        return
    for nome in PASTAS_FIXAS:
        p = base / nome
        try:
            p.mkdir(exist_ok=True)
        except OSError as e:
            log.warning("%s: pasta não criada (%s)", p, e)
    n = 0
    for raiz, pastas, arquivos in os.walk(base):
        em_logs = Path(raiz) == base / "logs"
        n += _ajustar(
            Path(raiz),
            gid,
            MODO_PASTA_LOGS[papel] if em_logs else modo,
        )
        for nome in arquivos:
            n += _ajustar(
                Path(raiz) / nome,
                gid,
                MODO_ARQUIVO_LOG[papel] if em_logs else MODO_ARQUIVO,
            )
        pastas[:] = [p for p in pastas if not os.path.islink(os.path.join(raiz, p))]
    for nome in ("backup_system.log", "auditoria.jsonl"):  # appended in place
        arq = base / "logs" / nome
        if not arq.exists():
            try:
                fd = os.open(arq, os.O_WRONLY | os.O_CREAT, MODO_ARQUIVO_LOG[papel])
                os.close(fd)
                n += _ajustar(arq, gid, MODO_ARQUIVO_LOG[papel])
            except OSError as e:
                log.debug("%s: %s", arq, e)
    log.info(
        "Repositório %s entregue ao grupo %s (papel %s): %d objetos ajustados",
        base,
        grupo,
        papel,
        n,
    )


def _ajustar(caminho: Path, gid: int, modo: int) -> int:
    try:
        st = caminho.lstat()
        if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid():
            return 0
        if st.st_gid != gid:
            os.chown(caminho, -1, gid)
        os.chmod(caminho, modo)
        return 1
    except OSError as e:
        log.warning("%s: permissões não ajustadas (%s)", caminho, e)
        return 0
