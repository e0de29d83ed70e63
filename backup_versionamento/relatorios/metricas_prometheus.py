"""`/metrics`: the repository and its daemon in the Prometheus text format.

A private `CollectorRegistry` (never the library's global one) holds one custom
collector that reads a fresh snapshot on every scrape, so the numbers are the
repository's, not a copy kept in memory. Counters come from the activity journal;
gauges from the facade (`status`, `listar_versoes`) and the daemon's state file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from ..automacao import ler_estado_daemon
from ..base.tempo import momento_ou_none

if TYPE_CHECKING:
    from .painel import Painel

PREFIXO = "backup_versionamento"
TIPO_CONTEUDO = CONTENT_TYPE_LATEST


def _ts(texto: Any) -> float | None:
    m = momento_ou_none(texto)
    return m.timestamp() if m else None


class ColetorBackup(Collector):
    def __init__(self, painel: Painel) -> None:
        self.painel = painel

    def collect(self) -> Iterator[Metric]:
        inicio = time.perf_counter()
        p = self.painel
        p.atualizar()
        g = p.g
        st = g.status()
        versoes = p.modelos(st)
        n = PREFIXO

        def gauge(nome: str, doc: str, valor: float | None) -> Metric | None:
            if valor is None:
                return None
            return GaugeMetricFamily(f"{n}_{nome}", doc, value=valor)

        simples = [
            gauge("modelos", "Modelos no repositório", st["modelos"]),
            gauge("versoes", "Versões no repositório", st["versoes"]),
            gauge(
                "repositorio_bytes_logicos",
                "Soma dos tamanhos de todas as versões",
                st["tamanho_logico"],
            ),
            gauge(
                "repositorio_bytes_armazenados",
                "Bytes dos pacotes no repositório",
                st["tamanho_armazenado"],
            ),
            gauge("repositorio_pacotes", "Pacotes no repositório", st["pacotes"]),
            gauge("disco_livre_bytes", "Espaço livre no disco", st["espaco_livre"]),
            gauge(
                "atividade_linhas_invalidas",
                "Linhas ignoradas no diário de atividade",
                p.linhas_invalidas,
            ),
        ]
        yield from (m for m in simples if m is not None)

        por_modelo = {
            "versoes": GaugeMetricFamily(
                f"{n}_modelo_versoes", "Versões do modelo", labels=["modelo"]
            ),
            "logicos": GaugeMetricFamily(
                f"{n}_modelo_bytes_logicos",
                "Soma dos tamanhos das versões do modelo",
                labels=["modelo"],
            ),
            "adicionados": GaugeMetricFamily(
                f"{n}_modelo_bytes_adicionados",
                "Bytes novos que as versões do modelo gravaram",
                labels=["modelo"],
            ),
            "ultimo": GaugeMetricFamily(
                f"{n}_ultimo_sucesso_timestamp_seconds",
                "Momento (Unix) da versão mais recente do modelo",
                labels=["modelo"],
            ),
        }
        for modelo, lista in versoes.items():
            por_modelo["versoes"].add_metric([modelo], len(lista))
            por_modelo["logicos"].add_metric(
                [modelo], sum(int(v["tamanho"]) for v in lista)
            )
            por_modelo["adicionados"].add_metric(
                [modelo], sum(int(v.get("tamanho_armazenado") or 0) for v in lista)
            )
            ts = _ts(lista[-1]["criado_em"]) if lista else None
            if ts is not None:
                por_modelo["ultimo"].add_metric([modelo], ts)
        yield from por_modelo.values()

        backups = CounterMetricFamily(
            f"{n}_backups",
            "Backups que criaram versão (diário de atividade)",
            labels=["modelo", "origem"],
        )
        for (modelo, origem), q in sorted(p.backups.items()):
            backups.add_metric([modelo, origem], q)
        yield backups
        ignorados = CounterMetricFamily(
            f"{n}_backups_ignorados",
            "Backups sem mudanças (conteúdo já guardado)",
            labels=["modelo"],
        )
        for modelo, q in sorted(p.ignorados.items()):
            ignorados.add_metric([modelo], q)
        yield ignorados
        falhas = CounterMetricFamily(
            f"{n}_falhas_backup", "Backups que falharam", labels=["modelo"]
        )
        for modelo, q in sorted(p.falhas.items()):
            falhas.add_metric([modelo], q)
        yield falhas
        restauracoes = CounterMetricFamily(
            f"{n}_restauracoes", "Restaurações", labels=["resultado"]
        )
        for resultado in ("ok", "falha"):
            restauracoes.add_metric([resultado], p.restauracoes[resultado])
        yield restauracoes
        duracao = SummaryMetricFamily(
            f"{n}_backup_duracao_segundos",
            "Duração dos backups que criaram versão",
            labels=["modelo"],
        )
        for modelo, (quantos, soma) in sorted(p.duracoes.items()):
            duracao.add_metric([modelo], count_value=quantos, sum_value=soma)
        yield duracao

        yield from _daemon(ler_estado_daemon(g.pasta_estado))
        yield GaugeMetricFamily(
            f"{n}_coleta_duracao_segundos",
            "Tempo para montar esta coleta",
            value=time.perf_counter() - inicio,
        )


def _daemon(d: dict[str, Any]) -> Iterator[Metric]:
    n = PREFIXO
    yield GaugeMetricFamily(
        f"{n}_daemon_rodando",
        "1 se o daemon está rodando",
        value=int(bool(d["rodando"])),
    )
    for chave, nome, doc in (
        ("falhas", "daemon_falhas", "Falhas desde que o daemon iniciou"),
        ("backups_criados", "daemon_backups_criados", "Backups desde que iniciou"),
        ("pendentes", "daemon_fila_pendentes", "Modelos esperando na fila"),
    ):
        valor = d.get(chave)
        if d["rodando"] and isinstance(valor, int):
            yield GaugeMetricFamily(f"{n}_{nome}", doc, value=valor)
    for chave, nome, doc in (
        ("iniciado_em", "daemon_iniciado", "Início do daemon"),
        ("atualizado_em", "daemon_atualizado", "Última gravação do estado do daemon"),
    ):
        ts = _ts(d.get(chave)) if d["rodando"] else None
        if ts is not None:
            yield GaugeMetricFamily(f"{n}_{nome}_timestamp_seconds", doc, value=ts)
    varredura = d.get("ultima_varredura") or {}
    ts = _ts(varredura.get("em")) if d["rodando"] else None
    if ts is not None:
        yield GaugeMetricFamily(
            f"{n}_daemon_ultima_varredura_timestamp_seconds",
            "Última varredura das pastas monitoradas",
            value=ts,
        )


def gerar(painel: Painel) -> bytes:
    """One scrape: a private registry with our collector, in the text format."""
    registro = CollectorRegistry(auto_describe=False)
    registro.register(ColetorBackup(painel))
    return generate_latest(registro)
