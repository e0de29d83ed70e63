"""`/metrics`: the repository and its daemon in the Prometheus text format.

A private `CollectorRegistry` (never the library's global one) holds one custom
collector that reads a fresh snapshot on every scrape, so the numbers are the
repository's, not a copy kept in memory. Counters come from the activity journal;
gauges from the facade (`status`, `listar_versoes`) and the daemon's state file.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

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
    from ..gerenciador import GerenciadorBackupVersionamento

PREFIXO = "backup_versionamento"
TIPO_CONTEUDO = CONTENT_TYPE_LATEST


def _ts(texto: Any) -> float | None:
    m = momento_ou_none(texto)
    return m.timestamp() if m else None


class Painel(Protocol):
    """What a scrape reads: the dashboard's facade and its journal totals
    (`painel.Painel` is one; declared here so this module needs no import of it)."""

    g: GerenciadorBackupVersionamento
    backups: Counter[tuple[str, str]]
    ignorados: Counter[str]
    falhas: Counter[str]
    restauracoes: Counter[str]
    duracoes: dict[str, tuple[int, float]]

    @property
    def linhas_invalidas(self) -> int: ...

    def atualizar(self) -> None: ...

    def modelos(self, status: dict[str, Any]) -> dict[str, list[dict[str, Any]]]: ...


class ColetorBackup(Collector):
    def __init__(self, painel: Painel) -> None:
        self.painel = painel

    def collect(self) -> Iterator[Metric]:
        inicio = time.perf_counter()
        p = self.painel
        p.atualizar()
        st = p.g.status()
        yield from _repositorio(st, p.linhas_invalidas)
        yield from _por_modelo(p.modelos(st))
        yield from _diario(p)
        yield from _daemon(ler_estado_daemon(p.g.pasta_estado))
        yield GaugeMetricFamily(
            f"{PREFIXO}_coleta_duracao_segundos",
            "Tempo para montar esta coleta",
            value=time.perf_counter() - inicio,
        )


def _repositorio(st: dict[str, Any], linhas_invalidas: int) -> Iterator[Metric]:
    """Gauges from the facade's `status()` (none for what it cannot measure)."""
    for nome, doc, valor in (
        ("modelos", "Modelos no repositório", st["modelos"]),
        ("versoes", "Versões no repositório", st["versoes"]),
        (
            "repositorio_bytes_logicos",
            "Soma dos tamanhos de todas as versões",
            st["tamanho_logico"],
        ),
        (
            "repositorio_bytes_armazenados",
            "Bytes dos pacotes no repositório",
            st["tamanho_armazenado"],
        ),
        ("repositorio_pacotes", "Pacotes no repositório", st["pacotes"]),
        ("disco_livre_bytes", "Espaço livre no disco", st["espaco_livre"]),
        (
            "atividade_linhas_invalidas",
            "Linhas ignoradas no diário de atividade",
            linhas_invalidas,
        ),
    ):
        if valor is not None:  # an object store has no free space to report
            yield GaugeMetricFamily(f"{PREFIXO}_{nome}", doc, value=valor)


def _por_modelo(versoes: dict[str, list[dict[str, Any]]]) -> Iterator[Metric]:
    """Per model: versions, logical and added bytes, the latest backup's time."""
    n = PREFIXO
    quantas = GaugeMetricFamily(
        f"{n}_modelo_versoes", "Versões do modelo", labels=["modelo"]
    )
    logicos = GaugeMetricFamily(
        f"{n}_modelo_bytes_logicos",
        "Soma dos tamanhos das versões do modelo",
        labels=["modelo"],
    )
    adicionados = GaugeMetricFamily(
        f"{n}_modelo_bytes_adicionados",
        "Bytes novos que as versões do modelo gravaram",
        labels=["modelo"],
    )
    ultimo = GaugeMetricFamily(
        f"{n}_ultimo_sucesso_timestamp_seconds",
        "Momento (Unix) da versão mais recente do modelo",
        labels=["modelo"],
    )
    for modelo, lista in versoes.items():
        quantas.add_metric([modelo], len(lista))
        logicos.add_metric([modelo], sum(int(v["tamanho"]) for v in lista))
        adicionados.add_metric(
            [modelo], sum(int(v.get("tamanho_armazenado") or 0) for v in lista)
        )
        ts = _ts(lista[-1]["criado_em"]) if lista else None
        if ts is not None:
            ultimo.add_metric([modelo], ts)
    yield from (quantas, logicos, adicionados, ultimo)


def _contador(
    nome: str, doc: str, rotulos: list[str], valores: Iterable[tuple[Any, int]]
) -> Metric:
    familia = CounterMetricFamily(f"{PREFIXO}_{nome}", doc, labels=rotulos)
    for chave, q in valores:
        familia.add_metric(list(chave) if isinstance(chave, tuple) else [chave], q)
    return familia


def _diario(p: Painel) -> Iterator[Metric]:
    """Counters and durations from the activity journal's running totals."""
    yield _contador(
        "backups",
        "Backups que criaram versão (diário de atividade)",
        ["modelo", "origem"],
        sorted(p.backups.items()),
    )
    yield _contador(
        "backups_ignorados",
        "Backups sem mudanças (conteúdo já guardado)",
        ["modelo"],
        sorted(p.ignorados.items()),
    )
    yield _contador(
        "falhas_backup", "Backups que falharam", ["modelo"], sorted(p.falhas.items())
    )
    yield _contador(
        "restauracoes",
        "Restaurações",
        ["resultado"],
        ((r, p.restauracoes[r]) for r in ("ok", "falha")),
    )
    duracao = SummaryMetricFamily(
        f"{PREFIXO}_backup_duracao_segundos",
        "Duração dos backups que criaram versão",
        labels=["modelo"],
    )
    for modelo, (quantos, soma) in sorted(p.duracoes.items()):
        duracao.add_metric([modelo], count_value=quantos, sum_value=soma)
    yield duracao


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
