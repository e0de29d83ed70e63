"""Health of each integration, kept in the per-machine state folder.

`status` runs in another process than the backups, so the last success, the
last error and their counts live in `<pasta_estado>/integracoes/<nome>.json`,
updated under a flock (several processes may report at once).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from ..base.escrita import escrever_json_atomico
from ..base.tempo import agora_iso
from ..registro import NOME_LOGGER

log = logging.getLogger(NOME_LOGGER)


class Saude:
    """Last success / last error of one integration, shared across processes."""

    def __init__(self, pasta_estado: Path, nome: str) -> None:
        self.pasta = Path(pasta_estado) / "integracoes"
        self.arquivo = self.pasta / f"{nome}.json"
        self._trava = threading.Lock()

    def ler(self) -> dict[str, Any]:
        try:
            dados = json.loads(self.arquivo.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return dados if isinstance(dados, dict) else {}

    def sucesso(self, descricao: str) -> None:
        self._registrar("ultimo_sucesso", "sucessos", descricao)

    def erro(self, mensagem: str) -> None:
        self._registrar("ultimo_erro", "erros", mensagem)

    def _registrar(self, chave: str, contador: str, texto: str) -> None:
        try:
            self.pasta.mkdir(parents=True, exist_ok=True)
            with self._trava:
                fd = os.open(self.pasta / ".trava", os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    dados = self.ler()
                    dados[chave] = {"em": agora_iso(), "mensagem": texto}
                    dados[contador] = int(dados.get(contador, 0)) + 1
                    escrever_json_atomico(self.arquivo, dados)
                finally:
                    os.close(fd)
        except OSError as e:  # health is informative; never fail because of it
            log.warning("Não foi possível gravar %s: %s", self.arquivo, e)
