"""The `relatorios` configuration section: the daily report and the live page.

A schema module (docs/ARQUITETURA.md): imports only the base, so config.py can
assemble it without loading the report's templates or server.
"""

from __future__ import annotations

from typing import Any

from .. import segredos
from ..base.configuracao import Secao, faixa, horario, nao_negativo, nao_vazio

SECAO_CONFIG = Secao(
    "relatorios",
    {
        # The daemon writes <base>/relatorios/relatorio_diario.* daily at `horario`.
        "habilitado": True,
        "horario": "06:00",
        # Quota of the repository for the "when does it fill" projection (0 = none).
        "cota_mb": 0,
        # The daemon's live page and /metrics (porta 0 = not served).
        "painel_porta": 8765,
        "painel_endereco": "127.0.0.1",
        "painel_token": "",
        # The token from a 0600 file, or $BACKUP_VERSIONAMENTO_PAINEL_TOKEN.
        "painel_token_arquivo": "",
    },
    {
        "relatorios.horario": horario,
        "relatorios.cota_mb": nao_negativo,
        "relatorios.painel_porta": faixa(0, 65535),
        "relatorios.painel_endereco": nao_vazio,
    },
)

ENDERECOS_LOCAIS = {"127.0.0.1", "::1", "localhost"}


def problema_painel(cfg: dict[str, Any]) -> str | None:
    """Anyone who can reach a non-loopback address could read the dashboard.

    Needs the whole configuration (the token may come from a file or the
    environment), so config.py runs it once every section is valid.
    """
    r = cfg["relatorios"]
    if r["painel_endereco"] not in ENDERECOS_LOCAIS and not (
        segredos.token_do_painel_disponivel(cfg)
    ):
        return (
            f"relatorios.painel_endereco: '{r['painel_endereco']}' não é local; "
            "defina relatorios.painel_token_arquivo (ou painel_token, ou "
            f"${segredos.VARIAVEL_PAINEL}: um segredo que o navegador e o "
            "Prometheus enviam) ou use 127.0.0.1"
        )
    return None
