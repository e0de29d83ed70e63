"""Test hook: the suites again, encrypted (BACKUP_VERSIONAMENTO_TESTE_CIFRA=1).

Only the tests use this: `aplicar()` patches the configuration defaults *in this
process* so every repository created without an explicit `seguranca.criptografia`
is encrypted with the key file named by BACKUP_VERSIONAMENTO_TESTE_CHAVE (set per
test by tests/conftest.py). Child processes of the tests (the CLI, the crash
executor) call it too. Run as a script, it is the CLI with the patch applied.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

RAIZ = Path(__file__).resolve().parent.parent
VARIAVEL_LIGAR = "BACKUP_VERSIONAMENTO_TESTE_CIFRA"
VARIAVEL_CHAVE = "BACKUP_VERSIONAMENTO_TESTE_CHAVE"


def ligada() -> bool:
    return os.environ.get(VARIAVEL_LIGAR) == "1"


def aplicar() -> None:
    """Encryption on by default in this process (no-op unless the suite asks)."""
    chave = os.environ.get(VARIAVEL_CHAVE)
    if not ligada() or not chave:
        return
    if str(RAIZ) not in sys.path:
        sys.path.insert(0, str(RAIZ))
    from backup_versionamento import config

    cripto = config.PADRAO["seguranca"]["criptografia"]
    cripto["habilitada"] = True
    cripto["chave_arquivo"] = chave
    # The CLI also reads ./config_backup.json (every key spelled out): force it.
    validar = config.validar

    def validar_cifrado(usuario: Any, origem: str = "configuração") -> Any:
        cfg = validar(usuario, origem)
        cfg["seguranca"]["criptografia"].update(habilitada=True, chave_arquivo=chave)
        return cfg

    config.validar = validar_cifrado  # type: ignore[assignment]
    # These suites address sidecars by path (modelos/<modelo>/<versao>.json):
    # names in clear; tests/test_metadados_ocultos.py covers hidden names.
    from backup_versionamento.seguranca import mestra

    mestra.NOMES_CHAVEADOS_NOVOS = False


def ler_sidecar_json(arq: Path) -> Any:
    """A sidecar's JSON as stored at `arq` (decrypted in the encrypted rerun)."""
    if not ligada():
        return json.loads(arq.read_text())
    repo, modelo, versao = _partes(arq)
    from backup_versionamento import GerenciadorBackupVersionamento

    with GerenciadorBackupVersionamento(repo, {}) as g:
        return json.loads(g.repo.abrir_sidecar(modelo, versao, arq.read_bytes()))


def gravar_sidecar_json(arq: Path, dados: Any) -> None:
    """Overwrite the sidecar at `arq` with `dados` (encrypted in the encrypted run)."""
    if not ligada():
        arq.write_text(json.dumps(dados))
        return
    repo, modelo, versao = _partes(arq)
    from backup_versionamento import GerenciadorBackupVersionamento

    with GerenciadorBackupVersionamento(repo, {}) as g:
        partes = g.repo.selar_sidecar(modelo, versao, json.dumps(dados).encode())
        arq.write_bytes(b"".join(partes) if isinstance(partes, list) else partes)


def _partes(arq: Path) -> tuple[Path, str, str]:
    # <repo>/modelos/<modelo>/<versao>.json
    return arq.parents[2], arq.parent.name, arq.name[: -len(".json")]


if __name__ == "__main__":
    aplicar()
    from backup_versionamento.cli import main

    sys.exit(main(sys.argv[1:]))
