"""Access control: which operating-system user may do what (seguranca.controle_acesso).

An accident guard on a shared machine, not a security boundary: anyone who can
read the repository's files can read them without this program. File permissions
and encryption are the real boundary (docs/SEGURANCA.md).

`usuarios_autorizados` is a list of names (everyone listed may do everything) or
a map name -> roles. Roles: backup, restaurar, limpeza, admin (admin may do all).
Reading (listar, status, verificar, comparar) needs any role.
"""

from __future__ import annotations

import os
import pwd
from typing import Any

from ..erros import ErroAcessoNegado

PAPEIS = ("backup", "restaurar", "limpeza", "admin")
CONSULTA = "consulta"  # any role will do


def usuario_atual() -> str:
    """The effective OS user's name (not $USER/$LOGNAME, which anyone can set)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class ControleAcesso:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.habilitado = bool(cfg["habilitado"])
        usuarios = cfg["usuarios_autorizados"]
        if isinstance(usuarios, dict):
            self.papeis: dict[str, set[str]] = {u: set(p) for u, p in usuarios.items()}
        else:
            self.papeis = {u: set(PAPEIS) for u in usuarios}

    def papeis_de(self, usuario: str) -> set[str]:
        papeis = self.papeis.get(usuario, set())
        return set(PAPEIS) if "admin" in papeis else papeis

    def permitido(self, papel: str, usuario: str) -> bool:
        if not self.habilitado:
            return True
        papeis = self.papeis_de(usuario)
        return bool(papeis) if papel == CONSULTA else papel in papeis

    def autorizar(self, papel: str, acao: str, usuario: str | None = None) -> None:
        """ErroAcessoNegado when `usuario` (default: the OS user) lacks `papel`."""
        quem = usuario or usuario_atual()
        if self.permitido(papel, quem):
            return
        tem = sorted(self.papeis_de(quem))
        exige = "algum papel" if papel == CONSULTA else f"o papel {papel!r}"
        raise ErroAcessoNegado(
            f"acesso negado: o usuário {quem!r} não pode {acao} (exige {exige}; "
            f"papéis dele: {', '.join(tem) if tem else 'nenhum'}). Peça a um "
            "administrador para incluí-lo em seguranca.controle_acesso."
            "usuarios_autorizados"
        )
