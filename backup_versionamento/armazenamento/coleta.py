"""Garbage collection: delete chunk objects that no sidecar references.

Runs under the repository lock held exclusive, so no backup is between writing
its chunks and publishing its sidecar. Objects younger than the grace period are
kept anyway (a second guard for filesystems where flock is advisory only). An
unreadable sidecar aborts the collection: its references are unknown, and
deleting on a guess could destroy a version.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..erros import ErroBackup, ErroIntegridade
from .escrita_atomica import SUFIXO_TEMP, sincronizar_pasta
from .objetos import PREFIXO


def coletar(repo: Any, carencia_s: float) -> dict[str, int]:
    """Remove unreferenced objects and stale temp files; report what was freed."""
    referenciados: set[str] = set()
    for modelo, versao, sc in repo.iterar_sidecars():
        if isinstance(sc, ErroBackup):
            raise ErroIntegridade(
                f"coleta de lixo cancelada: a versão {versao} de {modelo} está "
                f"ilegível ({sc}); rode `inicializar_backup.py verificar` e resolva "
                "antes. Nada foi apagado."
            )
        for ent in sc["entradas"]:
            referenciados.update(b[0] for b in ent.get("blocos", []))
    limite = time.time() - carencia_s
    removidos = bytes_liberados = temporarios = mantidos_carencia = 0
    raiz = repo.base / PREFIXO
    for sub in sorted(os.scandir(raiz), key=lambda e: e.name) if raiz.is_dir() else []:
        if not sub.is_dir():
            continue
        tocou = False
        for obj in os.scandir(sub.path):
            nome = obj.name
            info = obj.stat()
            if nome.endswith(SUFIXO_TEMP):
                if info.st_mtime < limite:
                    os.unlink(obj.path)
                    temporarios += 1
                    bytes_liberados += info.st_size
                    tocou = True
                continue
            if nome in referenciados:
                continue
            if info.st_mtime >= limite:
                mantidos_carencia += 1
                continue
            os.unlink(obj.path)
            removidos += 1
            bytes_liberados += info.st_size
            tocou = True
        if tocou:
            sincronizar_pasta(sub.path)
    return {
        "objetos_removidos": removidos,
        "temporarios_removidos": temporarios,
        "bytes_liberados": bytes_liberados,
        "objetos_em_carencia": mantidos_carencia,
        "objetos_referenciados": len(referenciados),
    }
