"""Retention policy: a pure function from a model's versions to keep/remove decisions.

Nothing here touches the disk; the caller deletes what `aplicar_politica` marks as
removable (sidecars first, then unreferenced chunks). Every decision carries its
reasons in Portuguese so `limpeza --simular`, `status` and reports can explain it.

Rules, applied to the versions of ONE model (all times in UTC):

1. Protected versions are always kept:
   - the latest version, meaning the highest semantic version ("mais recente");
   - versions pinned by the user, ``fixada: True`` ("fixada pelo usuário");
   - versions an alias points at, from ``aliases`` (version -> alias names),
     like a pin ("apontada pelo alias @producao");
   - with ``manter_melhores.metrica`` set and ``quantidade`` > 0, the best
     ``quantidade`` versions by that metric ("melhor por acertos_13 (2º)").
     Higher is better unless ``maior_melhor`` is false. Only versions whose
     ``metricas`` hold that name as a finite number (not a bool) compete; ties go
     to the newer version. The best are chosen among all versions, of any age.
2. Time windows. A version is inside the N-day window when
   ``agora - criado_em <= N days`` (the boundary itself is inside; a version dated
   in the future counts as age zero). The windows are 7, 30 and 90 days and nest;
   each has its own mode and each is applied on its own, so a version is kept
   when any window that contains it selects it:
   - ``todas``: every version in the window ("últimos 7 dias");
   - ``diarias``: per UTC calendar day, the newest version in the window created
     that day ("diária de 2026-11-20");
   - ``semanais``: the same per ISO week ("semanal 2026-W46");
   - ``mensais``: the same per calendar month ("mensal 2026-11");
   - ``nenhuma``: this window keeps nothing.
   "Newest" is by ``criado_em``, ties broken by the higher semantic version, like
   restic's ``forget --keep-daily``. A version older than 90 days is removed
   ("mais antiga que 90 dias") unless rule 1 keeps it.
3. Cap: when more than ``maximo_versoes_por_modelo`` versions survive rules 1-2,
   the oldest unprotected ones are removed until the count fits ("excede o máximo
   de 50 versões"). Protected versions COUNT toward the cap but are never removed
   by it, so the cap bounds the total whenever it can; if the protected versions
   alone reach it, every unprotected version goes.

Decisions come back in the input order. Malformed input (missing ``versao`` or
``criado_em``, a bad date or semver, a duplicated version) raises
`ErroIntegridade`: it means a corrupt sidecar, and deleting on a guess is worse
than stopping.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..base.configuracao import Secao, faixa, um_de
from ..base.tempo import ler_momento
from ..erros import ErroConfiguracao, ErroIntegridade
from .versoes import Versao, e_versao

MODOS_TEMPO = ("todas", "diarias", "semanais", "mensais", "nenhuma")
JANELAS_DIAS = (7, 30, 90)


@dataclass(frozen=True)
class PoliticaRetencao:
    """The retention settings, already checked. Defaults are the spec's."""

    ultimos_7_dias: str = "todas"
    ultimos_30_dias: str = "diarias"
    ultimos_90_dias: str = "semanais"
    maximo_versoes: int = 50
    metrica_melhores: str = ""
    quantidade_melhores: int = 0
    maior_melhor: bool = True

    def __post_init__(self) -> None:
        problemas = []
        for dias, modo in self.janelas():
            if modo not in MODOS_TEMPO:
                problemas.append(
                    f"retencao.por_tempo.ultimos_{dias}_dias: '{modo}' não é aceito; "
                    f"use um de: {', '.join(MODOS_TEMPO)}"
                )
        if (
            isinstance(self.maximo_versoes, bool)
            or not isinstance(self.maximo_versoes, int)
            or self.maximo_versoes < 1
        ):
            problemas.append(
                "retencao.por_quantidade.maximo_versoes_por_modelo: "
                f"deve ser um inteiro maior que zero, recebido "
                f"{self.maximo_versoes!r}"
            )
        if (
            isinstance(self.quantidade_melhores, bool)
            or not isinstance(self.quantidade_melhores, int)
            or self.quantidade_melhores < 0
        ):
            problemas.append(
                "retencao.manter_melhores.quantidade: deve ser um inteiro "
                f"não negativo, recebido {self.quantidade_melhores!r}"
            )
        if not isinstance(self.metrica_melhores, str):
            problemas.append(
                "retencao.manter_melhores.metrica: deve ser um texto, "
                f"recebido {self.metrica_melhores!r}"
            )
        if problemas:
            raise ErroConfiguracao(
                "política de retenção inválida:\n"
                + "\n".join(f"  - {p}" for p in problemas),
                problemas,
            )

    def janelas(self) -> tuple[tuple[int, str], ...]:
        """(days, mode) for each time window, smallest first."""
        return (
            (7, self.ultimos_7_dias),
            (30, self.ultimos_30_dias),
            (90, self.ultimos_90_dias),
        )

    @property
    def melhores_ativo(self) -> bool:
        return bool(self.metrica_melhores) and self.quantidade_melhores > 0

    @classmethod
    def de_config(cls, cfg_retencao: Mapping[str, Any]) -> PoliticaRetencao:
        """Build from the ``retencao`` section of the configuration.

        Missing keys take the spec's defaults, so a partial dict works too.
        """
        tempo = cfg_retencao.get("por_tempo", {})
        quantidade = cfg_retencao.get("por_quantidade", {})
        melhores = cfg_retencao.get("manter_melhores", {})
        padrao = cls()
        return cls(
            ultimos_7_dias=tempo.get("ultimos_7_dias", padrao.ultimos_7_dias),
            ultimos_30_dias=tempo.get("ultimos_30_dias", padrao.ultimos_30_dias),
            ultimos_90_dias=tempo.get("ultimos_90_dias", padrao.ultimos_90_dias),
            maximo_versoes=quantidade.get(
                "maximo_versoes_por_modelo", padrao.maximo_versoes
            ),
            metrica_melhores=melhores.get("metrica", padrao.metrica_melhores),
            quantidade_melhores=melhores.get("quantidade", padrao.quantidade_melhores),
            maior_melhor=melhores.get("maior_melhor", padrao.maior_melhor),
        )


@dataclass
class Decisao:
    """What happens to one version, and why."""

    versao: str
    manter: bool
    motivos: list[str] = field(default_factory=list)

    def como_dict(self) -> dict[str, Any]:
        return {
            "versao": self.versao,
            "manter": self.manter,
            "motivos": list(self.motivos),
        }


@dataclass
class _Versao:
    indice: int
    versao: str
    criado_em: datetime
    chave_semver: tuple[Any, ...]
    metricas: Mapping[str, Any]
    fixada: bool

    @property
    def ordem(self) -> tuple[datetime, tuple[Any, ...]]:
        """Chronological order; semver breaks ties in the timestamp."""
        return (self.criado_em, self.chave_semver)


def chave_semver(versao: str) -> tuple[Any, ...]:
    """Sort key: the repository's one semver parser (`politica.versoes`)."""
    if not e_versao(versao):
        raise ErroIntegridade(
            f"versão '{versao}' não segue o formato semântico MAJOR.MINOR.PATCH"
        )
    v = Versao.ler(versao)
    return (v.major, v.minor, v.patch)


def _data(texto: Any, versao: str) -> datetime:
    if not isinstance(texto, str):
        raise ErroIntegridade(
            f"versão {versao}: criado_em ausente ou não é texto ({texto!r})"
        )
    try:
        quando = ler_momento(texto)
    except ValueError:
        raise ErroIntegridade(
            f"versão {versao}: criado_em '{texto}' não é uma data ISO 8601"
        ) from None
    return quando.astimezone(timezone.utc)


def _normalizar(versoes: Sequence[Mapping[str, Any]]) -> list[_Versao]:
    vistas: set[str] = set()
    saida = []
    for i, v in enumerate(versoes):
        versao = v.get("versao")
        if not isinstance(versao, str):
            raise ErroIntegridade(
                f"item {i} da lista de versões sem 'versao' válida ({versao!r})"
            )
        if versao in vistas:
            raise ErroIntegridade(f"versão {versao} aparece mais de uma vez")
        vistas.add(versao)
        metricas = v.get("metricas") or {}
        saida.append(
            _Versao(
                indice=i,
                versao=versao,
                criado_em=_data(v.get("criado_em"), versao),
                chave_semver=chave_semver(versao),
                metricas=metricas if isinstance(metricas, Mapping) else {},
                fixada=v.get("fixada") is True,
            )
        )
    return saida


def _valor_metrica(v: _Versao, nome: str) -> float | None:
    valor = v.metricas.get(nome)
    if isinstance(valor, bool) or not isinstance(valor, (int, float)):
        return None
    return float(valor) if math.isfinite(valor) else None


def _melhores(versoes: list[_Versao], politica: PoliticaRetencao) -> dict[int, int]:
    """Index of each best version -> its rank (1 = best)."""
    if not politica.melhores_ativo:
        return {}
    nome = politica.metrica_melhores
    com_valor = [
        (val, v) for v in versoes if (val := _valor_metrica(v, nome)) is not None
    ]
    # Newest first, then a stable sort by value: equal values keep newest first.
    com_valor.sort(key=lambda par: par[1].ordem, reverse=True)
    sinal = -1.0 if politica.maior_melhor else 1.0
    com_valor.sort(key=lambda par: sinal * par[0])
    return {
        v.indice: pos
        for pos, (_, v) in enumerate(com_valor[: politica.quantidade_melhores], start=1)
    }


_BALDES: dict[str, tuple[Callable[[datetime], str], str, str]] = {
    # mode -> (bucket key, reason to keep, reason to remove)
    "diarias": (
        lambda d: d.date().isoformat(),
        "diária de {b}",
        "não é a mais recente do dia {b}",
    ),
    "semanais": (
        lambda d: "{}-W{:02d}".format(*d.isocalendar()[:2]),
        "semanal {b}",
        "não é a mais recente da semana {b}",
    ),
    "mensais": (
        lambda d: f"{d.year:04d}-{d.month:02d}",
        "mensal {b}",
        "não é a mais recente do mês {b}",
    ),
}


def _regras_tempo(
    versoes: list[_Versao], politica: PoliticaRetencao, agora: datetime
) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Reasons to keep and reasons not to keep, per version index, from time rules."""
    manter: dict[int, list[str]] = {v.indice: [] for v in versoes}
    nao: dict[int, list[str]] = {v.indice: [] for v in versoes}
    for dias, modo in politica.janelas():
        limite = agora - timedelta(days=dias)
        dentro = [v for v in versoes if v.criado_em >= limite]
        if modo == "todas":
            for v in dentro:
                manter[v.indice].append(f"últimos {dias} dias")
            continue
        if modo == "nenhuma":
            for v in dentro:
                nao[v.indice].append(f"últimos {dias} dias: regra 'nenhuma'")
            continue
        chave, motivo_sim, motivo_nao = _BALDES[modo]
        mais_novo: dict[str, _Versao] = {}
        for v in dentro:
            b = chave(v.criado_em)
            if b not in mais_novo or v.ordem > mais_novo[b].ordem:
                mais_novo[b] = v
        for v in dentro:
            b = chave(v.criado_em)
            if mais_novo[b] is v:
                manter[v.indice].append(motivo_sim.format(b=b))
            else:
                nao[v.indice].append(f"{motivo_nao.format(b=b)} (últimos {dias} dias)")
    maior_janela = max(JANELAS_DIAS)
    for v in versoes:
        if v.criado_em < agora - timedelta(days=maior_janela):
            nao[v.indice].append(f"mais antiga que {maior_janela} dias")
    return manter, nao


def _sem_repetir(itens: list[str]) -> list[str]:
    return list(dict.fromkeys(itens))


def aplicar_politica(
    versoes: Sequence[Mapping[str, Any]],
    politica: PoliticaRetencao,
    agora: datetime,
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> list[Decisao]:
    """Decide, for every version of one model, whether to keep it and why.

    ``agora`` without a time zone is taken as UTC. ``aliases`` maps a version to
    the aliases that point at it (they protect it like a pin).
    """
    aliases = aliases or {}
    if agora.tzinfo is None:
        agora = agora.replace(tzinfo=timezone.utc)
    agora = agora.astimezone(timezone.utc)
    itens = _normalizar(versoes)
    if not itens:
        return []

    mais_recente = max(itens, key=lambda v: v.chave_semver)
    melhores = _melhores(itens, politica)
    tempo_sim, tempo_nao = _regras_tempo(itens, politica, agora)

    protegidas: set[int] = set()
    motivos: dict[int, list[str]] = {}
    for v in itens:
        lista = []
        if v is mais_recente:
            lista.append("mais recente")
        if v.fixada:
            lista.append("fixada pelo usuário")
        for nome in sorted(aliases.get(v.versao, ())):
            lista.append(f"apontada pelo alias @{nome}")
        if v.indice in melhores:
            lista.append(
                f"melhor por {politica.metrica_melhores} ({melhores[v.indice]}º)"
            )
        if lista:
            protegidas.add(v.indice)
        lista.extend(tempo_sim[v.indice])
        motivos[v.indice] = _sem_repetir(lista)

    mantidas = {i for i, m in motivos.items() if m}
    excesso = len(mantidas) - politica.maximo_versoes
    cortadas: set[int] = set()
    if excesso > 0:
        candidatas = sorted(
            (v for v in itens if v.indice in mantidas and v.indice not in protegidas),
            key=lambda v: v.ordem,
        )
        cortadas = {v.indice for v in candidatas[:excesso]}

    decisoes = []
    for v in itens:
        if v.indice in cortadas:
            decisoes.append(
                Decisao(
                    v.versao,
                    False,
                    [f"excede o máximo de {politica.maximo_versoes} versões"],
                )
            )
        elif v.indice in mantidas:
            decisoes.append(Decisao(v.versao, True, motivos[v.indice]))
        else:
            decisoes.append(Decisao(v.versao, False, _sem_repetir(tempo_nao[v.indice])))
    return decisoes


def resumo(decisoes: Sequence[Decisao]) -> dict[str, Any]:
    """Counts and version lists for reports and `limpeza --simular`."""
    mantidas = [d.versao for d in decisoes if d.manter]
    removidas = [d.versao for d in decisoes if not d.manter]
    return {
        "total": len(decisoes),
        "mantidas": len(mantidas),
        "removidas": len(removidas),
        "versoes_mantidas": mantidas,
        "versoes_removidas": removidas,
    }


# The `retencao` section of the configuration; the spec's defaults are the policy's.
_PADROES = PoliticaRetencao()
SECAO_CONFIG = Secao(
    "retencao",
    {
        "por_tempo": {
            "ultimos_7_dias": _PADROES.ultimos_7_dias,
            "ultimos_30_dias": _PADROES.ultimos_30_dias,
            "ultimos_90_dias": _PADROES.ultimos_90_dias,
        },
        "por_quantidade": {"maximo_versoes_por_modelo": _PADROES.maximo_versoes},
        "manter_melhores": {
            "metrica": _PADROES.metrica_melhores,
            "quantidade": _PADROES.quantidade_melhores,
            "maior_melhor": _PADROES.maior_melhor,
        },
        "carencia_coleta_minutos": 60,
        "espera_backups_minutos": 10,
    },
    {
        **{
            f"retencao.por_tempo.ultimos_{dias}_dias": um_de(set(MODOS_TEMPO))
            for dias in JANELAS_DIAS
        },
        "retencao.por_quantidade.maximo_versoes_por_modelo": faixa(
            1, 1_000_000, acima_de_zero=True
        ),
        "retencao.manter_melhores.quantidade": faixa(0, 1_000_000),
        "retencao.carencia_coleta_minutos": faixa(0, 60 * 24 * 366),
        "retencao.espera_backups_minutos": faixa(0, 60 * 24),
    },
)
