"""Cleanup: the retention policy applied, then the garbage collection; pins."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from ..registro import NOME_LOGGER
from ..texto import plural
from .backup import ESPERA_TRAVA_S
from .consulta import ServicoConsulta, nome_de
from .contexto import Contexto

log = logging.getLogger(NOME_LOGGER)


class ServicoLimpeza:
    def __init__(self, ctx: Contexto, consulta: ServicoConsulta) -> None:
        self.ctx = ctx
        self.consulta = consulta

    def limpeza(
        self,
        simular: bool = False,
        modelo: str | None = None,
        agora: datetime | None = None,
    ) -> dict[str, Any]:
        """Apply the retention policy, then collect unreferenced chunks.

        `simular` only returns the plan. Sidecars go first, chunks after, all
        under the repository lock held exclusive (running backups finish first).
        """
        # lazy: startup time (docs/DESEMPENHO.md); only a cleanup needs these
        from ..armazenamento.coleta import coletar
        from ..politica.retencao import PoliticaRetencao, aplicar_politica

        politica = PoliticaRetencao.de_config(self.ctx.config["retencao"])
        agora = agora or datetime.now(timezone.utc)
        modelos = [modelo] if modelo else self.consulta.listar_modelos()
        plano = {
            m: aplicar_politica(
                self.consulta.listar_versoes(m),
                politica,
                agora,
                self.consulta.versoes_com_alias(m),
            )
            for m in modelos
        }
        remover = [(m, d) for m, ds in plano.items() for d in ds if not d.manter]
        saida: dict[str, Any] = {
            "simulado": simular,
            "modelos": {m: [d.como_dict() for d in ds] for m, ds in plano.items()},
            "versoes_removidas": [f"{m} {d.versao}" for m, d in remover],
            "versoes_mantidas": sum(d.manter for ds in plano.values() for d in ds),
        }
        if simular:
            return saida
        carencia = self.ctx.config["retencao"]["carencia_coleta_minutos"] * 60
        espera_backups = self.ctx.config["retencao"]["espera_backups_minutos"] * 60
        # Backups of this machine finish first, then no backup of any machine
        # holds a lease: nothing deletes a pack a running backup may reuse.
        with self.ctx.repo.exclusivo(ESPERA_TRAVA_S, espera_backups) as trava:
            remover = self._sem_aliases_novos(remover, saida)
            if remover:
                trava.exigir_valida()
            for m, d in remover:
                self.ctx.repo.remover_versao(m, d.versao)
                log.info(
                    "Versão removida: %s %s (%s)", m, d.versao, "; ".join(d.motivos)
                )
                self.ctx.eventos.emitir(
                    "versao_removida", modelo=m, versao=d.versao, motivos=d.motivos
                )
            coleta = coletar(
                self.ctx.repo, carencia, antes_de_apagar=trava.exigir_valida
            )
        saida.update(coleta)
        log.info(
            "Limpeza concluída: %s, %s, %s, %d bytes liberados",
            plural(len(remover), "versão removida", "versões removidas"),
            plural(coleta["pacotes_removidos"], "pacote removido", "pacotes removidos"),
            plural(
                coleta["pacotes_reempacotados"],
                "pacote reempacotado",
                "pacotes reempacotados",
            ),
            coleta["bytes_liberados"],
        )
        self.ctx.eventos.emitir(
            "limpeza_concluida",
            **coleta,
            modelo=modelo,
            versoes_removidas=len(remover),
            versoes_mantidas=saida["versoes_mantidas"],
        )
        return saida

    def _sem_aliases_novos(
        self, remover: list[tuple[str, Any]], saida: dict[str, Any]
    ) -> list[tuple[str, Any]]:
        """Drop from `remover` what an alias moved onto after the plan was made."""
        atuais = {
            m: self.consulta.versoes_com_alias(m) for m in {m for m, _ in remover}
        }
        fica = []
        for m, d in remover:
            nomes = atuais[m].get(d.versao)
            if not nomes:
                fica.append((m, d))
                continue
            d.manter = True
            d.motivos = [f"apontada pelo alias @{a}" for a in sorted(nomes)]
            saida["versoes_removidas"].remove(f"{m} {d.versao}")
            saida["versoes_mantidas"] += 1
            for item in saida["modelos"][m]:
                if item["versao"] == d.versao:
                    item.update(d.como_dict())
            log.info(
                "Versão mantida: %s %s (alias definido durante a limpeza)", m, d.versao
            )
        return fica

    def fixar(self, modelo: str, versao: str, fixa: bool = True) -> str:
        """Pin a version so retention never removes it (or unpin it)."""
        v = self.consulta.resolver_versao(modelo, versao)
        self.ctx.repo.fixar(nome_de(modelo), v, fixa)
        log.info("Versão %s: %s %s", "fixada" if fixa else "desafixada", modelo, v)
        self.ctx.eventos.emitir(
            "versao_fixada" if fixa else "versao_desafixada",
            modelo=nome_de(modelo),
            versao=v,
        )
        return v

    def quebrar_trava(self) -> dict[str, Any] | None:
        """Remove a stale collection lock object (shared stores); what it held."""
        return self.ctx.repo.quebrar_trava_limpeza()

    def quebrar_concessoes(self) -> list[dict[str, Any]]:
        """Remove expired backup leases (their backups died); what they held."""
        return self.ctx.repo.quebrar_concessoes()
