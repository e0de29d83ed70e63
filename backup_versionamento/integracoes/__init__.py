"""Integrations: subscribers of the event bus, never called by the engine.

atividade  the activity journal, logs/atividade.jsonl (always on)
git        each new version's metadata committed to a branch (integracao.git)
webhooks   signed POSTs from a queue on disk (integracao.webhook)
espelho    the local repository pushed to S3 after each change (cloud_storage)
saude      last success / last error of each integration, for `status`
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atividade import DiarioAtividade, ler_atividade
from .saude import Saude

# lazy: startup time (docs/DESEMPENHO.md); git, webhooks and the mirror load
# only when the configuration turns them on.
if TYPE_CHECKING:
    from ..armazenamento.backends import Backend
    from ..eventos import BarramentoEventos
    from .espelho import Espelho
    from .git import IntegracaoGit
    from .webhooks import Webhooks

__all__ = ["Integracoes", "ler_atividade"]


class Integracoes:
    """Wire the configured integrations to a manager's bus; report their health."""

    def __init__(
        self,
        config: dict[str, Any],
        eventos: BarramentoEventos,
        *,
        pasta_estado: Path,
        pasta_logs: Path,
        ler_sidecar: Callable[[str, str], dict[str, Any]],
        backend: Backend | None = None,
    ) -> None:
        cfg = config["integracao"]
        self.config_git = cfg["git"]
        eventos.inscrever(DiarioAtividade(pasta_logs), nome="atividade")
        self.saude_git = Saude(pasta_estado, "git")
        self.saude_webhook = Saude(pasta_estado, "webhook")
        self.git: IntegracaoGit | None = None
        self.webhooks: Webhooks | None = None
        self.saude_espelho = Saude(pasta_estado, "espelho")
        self.espelho: Espelho | None = None
        # Mirror mode: a local repository copied to the bucket. A repository
        # already in S3 (base s3://...) needs no mirror.
        if (
            cfg["cloud_storage"]["habilitado"]
            and backend is not None
            and backend.exclusao_real
        ):
            from .espelho import EVENTOS_ESPELHO, Espelho

            self.espelho = Espelho(
                config, backend, self.saude_espelho, pasta_estado=pasta_estado
            )
            eventos.inscrever(self.espelho, EVENTOS_ESPELHO, nome="espelho")
        if cfg["git"]["habilitada"]:
            from .git import EVENTOS_GIT, IntegracaoGit

            self.git = IntegracaoGit(cfg["git"], ler_sidecar, self.saude_git)
            eventos.inscrever(self.git, EVENTOS_GIT, nome="git")
        if cfg["webhook"]["habilitado"]:
            from .webhooks import Webhooks

            self.webhooks = Webhooks(cfg["webhook"], pasta_estado, self.saude_webhook)
            nomes = set().union(*(d.eventos for d in self.webhooks.destinos))
            eventos.inscrever(self.webhooks, nomes, nome="webhook")
            self.webhooks.iniciar()
        # After the bus delivered its last events: finish the sends (bounded).
        eventos.ao_fechar(self.concluir)

    def concluir(self) -> None:
        """Before exit: push what the mirror lacks and send due webhooks, bounded.

        What does not finish in time stays pending for the next process.
        """
        if self.espelho is not None:
            self.espelho.concluir()
        if self.webhooks is not None:
            self.webhooks.concluir()

    def fechar(self) -> None:
        """Stop the webhook sender (pending deliveries stay on disk)."""
        if self.espelho is not None:
            self.espelho.parar()
        if self.webhooks is not None:
            self.webhooks.parar()

    def status(self) -> dict[str, Any]:
        """Health of each enabled integration (shared by every process)."""
        saida: dict[str, Any] = {}
        if self.git is not None:
            saude = self.saude_git.ler()
            saida["git"] = {
                "branch": self.config_git["branch_backups"],
                "repositorio": self.config_git["repositorio"] or None,
                "ultimo_sucesso": saude.get("ultimo_sucesso"),
                "ultimo_erro": saude.get("ultimo_erro"),
                "erros": saude.get("erros", 0),
            }
        if self.webhooks is not None:
            from .webhooks import url_segura

            saude = self.saude_webhook.ler()
            saida["webhook"] = {
                "destinos": [url_segura(d.url) for d in self.webhooks.destinos],
                "pendentes": self.webhooks.pendentes(),
                "falhas_definitivas": self.webhooks.falhas_definitivas(),
                "ultimo_sucesso": saude.get("ultimo_sucesso"),
                "ultimo_erro": saude.get("ultimo_erro"),
            }
        if self.espelho is not None:
            saude = self.saude_espelho.ler()
            saida["espelho"] = {
                "destino": self.espelho.endereco,
                "ultimo_sucesso": saude.get("ultimo_sucesso"),
                "ultimo_erro": saude.get("ultimo_erro"),
                "erros": saude.get("erros", 0),
            }
        return saida
