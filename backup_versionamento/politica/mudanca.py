"""Kind of change between two versions of a model, inferred from their descriptions.

Pure functions over the dicts `validacao.inspecionar_modelo` returns (or their
"arquitetura" part): no I/O, every answer comes with its reason in Portuguese.
Architecture changed -> major; same architecture, other weights -> minor; same
weights, only metadata or container format -> patch.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

MAJOR = "major"
MINOR = "minor"
PATCH = "patch"

_LIMITE_LISTA_RESUMO = 4
_PROFUNDIDADE_PARAMETROS = 4


def _arquitetura(d: dict[str, Any]) -> dict[str, Any]:
    arq = d.get("arquitetura", d)
    return arq if isinstance(arq, dict) else {}


def _canonico(v: Any) -> str:
    return json.dumps(
        v, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def _assinatura(camada: dict[str, Any]) -> str:
    return _canonico([camada.get("classe"), camada.get("config"), camada.get("formas")])


def _resumo_camada(c: dict[str, Any], posicao: int) -> dict[str, Any]:
    return {
        "posicao": posicao,
        "nome": c.get("nome", ""),
        "classe": c.get("classe"),
        "formas": c.get("formas", []),
    }


def _achatar(d: Any, prefixo: str = "", prof: int = 0) -> dict[str, Any]:
    if isinstance(d, dict) and d and prof < _PROFUNDIDADE_PARAMETROS:
        saida: dict[str, Any] = {}
        for k, v in d.items():
            saida.update(_achatar(v, f"{prefixo}{k}.", prof + 1))
        return saida
    return {prefixo.rstrip("."): d} if prefixo else {}


def _diferencas(
    antes: dict[str, Any], depois: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    a, b = _achatar(antes), _achatar(depois)
    adicionados = {k: b[k] for k in b if k not in a}
    removidos = {k: a[k] for k in a if k not in b}
    alterados = {
        k: {"antes": a[k], "depois": b[k]}
        for k in a
        if k in b and _canonico(a[k]) != _canonico(b[k])
    }
    return adicionados, removidos, alterados


def _mudancas_camada(x: dict[str, Any], y: dict[str, Any]) -> dict[str, Any]:
    cfg_x = x.get("config") if isinstance(x.get("config"), dict) else {}
    cfg_y = y.get("config") if isinstance(y.get("config"), dict) else {}
    adicionados, removidos, alterados = _diferencas(cfg_x or {}, cfg_y or {})
    mudancas: dict[str, Any] = dict(alterados)
    mudancas.update({k: {"antes": None, "depois": v} for k, v in adicionados.items()})
    mudancas.update({k: {"antes": v, "depois": None} for k, v in removidos.items()})
    if x.get("classe") != y.get("classe"):
        mudancas["classe"] = {"antes": x.get("classe"), "depois": y.get("classe")}
    if _canonico(x.get("formas")) != _canonico(y.get("formas")):
        mudancas["formas"] = {"antes": x.get("formas"), "depois": y.get("formas")}
    return mudancas


def _curto(v: Any) -> str:
    texto = _canonico(v)
    return texto if len(texto) <= 40 else texto[:37] + "..."


def _lista(nomes: list[str]) -> str:
    extra = len(nomes) - _LIMITE_LISTA_RESUMO
    base = ", ".join(nomes[:_LIMITE_LISTA_RESUMO])
    return f"{base} e mais {extra}" if extra > 0 else base


def _texto_resumo(r: dict[str, Any]) -> str:
    partes = []
    if r["classe_anterior"] != r["classe_atual"]:
        partes.append(f"classe {r['classe_anterior']} -> {r['classe_atual']}")
    if r["camadas_adicionadas"]:
        nomes = [str(c["classe"]) for c in r["camadas_adicionadas"]]
        partes.append(f"{len(nomes)} camada(s) adicionada(s) ({_lista(nomes)})")
    if r["camadas_removidas"]:
        nomes = [str(c["classe"]) for c in r["camadas_removidas"]]
        partes.append(f"{len(nomes)} camada(s) removida(s) ({_lista(nomes)})")
    if r["camadas_alteradas"]:
        descr = []
        for c in r["camadas_alteradas"]:
            chaves = [k for k in c["mudancas"] if not k.startswith("_")] or list(
                c["mudancas"]
            )
            primeira = chaves[0] if chaves else "?"
            m = c["mudancas"].get(primeira, {})
            descr.append(
                f"{c['nome'] or c['classe']}: {primeira} "
                f"{_curto(m.get('antes'))} -> {_curto(m.get('depois'))}"
            )
        partes.append(f"{len(descr)} camada(s) alterada(s) ({_lista(descr)})")
    if r["parametros_alterados"]:
        descr = [
            f"{k} {_curto(v['antes'])} -> {_curto(v['depois'])}"
            for k, v in r["parametros_alterados"].items()
        ]
        partes.append(f"parâmetros alterados: {_lista(descr)}")
    if r["parametros_adicionados"]:
        partes.append(
            f"parâmetros adicionados: {_lista(list(r['parametros_adicionados']))}"
        )
    if r["parametros_removidos"]:
        partes.append(
            f"parâmetros removidos: {_lista(list(r['parametros_removidos']))}"
        )
    return "; ".join(partes) if partes else "nenhuma diferença de arquitetura"


# Alignment keys, strictest first: a layer that matches on a looser key is
# "changed"; one that matches on none is added or removed.
_CHAVES_ALINHAMENTO = (
    _assinatura,
    lambda c: _canonico([c.get("classe"), c.get("config")]),
    lambda c: _canonico(c.get("classe")),
)


def _alinhar(
    camadas_a: list[dict[str, Any]],
    ia: range,
    camadas_b: list[dict[str, Any]],
    ib: range,
    nivel: int,
    adicionadas: list[dict[str, Any]],
    removidas: list[dict[str, Any]],
    alteradas: list[dict[str, Any]],
) -> None:
    chave = _CHAVES_ALINHAMENTO[nivel]
    comparador = difflib.SequenceMatcher(
        a=[chave(camadas_a[i]) for i in ia],
        b=[chave(camadas_b[j]) for j in ib],
        autojunk=False,
    )
    for op, i1, i2, j1, j2 in comparador.get_opcodes():
        sub_a, sub_b = ia[i1:i2], ib[j1:j2]
        if op == "equal":
            if nivel > 0:
                for x, y in zip(sub_a, sub_b, strict=True):
                    alteradas.append(_alteracao(camadas_a, x, camadas_b, y))
        elif op == "replace" and nivel + 1 < len(_CHAVES_ALINHAMENTO):
            _alinhar(
                camadas_a,
                sub_a,
                camadas_b,
                sub_b,
                nivel + 1,
                adicionadas,
                removidas,
                alteradas,
            )
        else:
            pares = min(len(sub_a), len(sub_b)) if op == "replace" else 0
            for x, y in zip(sub_a[:pares], sub_b[:pares], strict=True):
                alteradas.append(_alteracao(camadas_a, x, camadas_b, y))
            removidas.extend(_resumo_camada(camadas_a[i], i) for i in sub_a[pares:])
            adicionadas.extend(_resumo_camada(camadas_b[j], j) for j in sub_b[pares:])


def _alteracao(
    camadas_a: list[dict[str, Any]], x: int, camadas_b: list[dict[str, Any]], y: int
) -> dict[str, Any]:
    antes, depois = camadas_a[x], camadas_b[y]
    return {
        "posicao_anterior": x,
        "posicao_atual": y,
        "nome": depois.get("nome", ""),
        "classe": depois.get("classe"),
        "mudancas": _mudancas_camada(antes, depois),
    }


def comparar_arquiteturas(
    anterior: dict[str, Any], atual: dict[str, Any]
) -> dict[str, Any]:
    """Layers and parameters added, removed and changed between two descriptions.

    Accepts inspection dicts or their "arquitetura" part. Layers are aligned by
    content (difflib), not by name, since names such as "dense_3" are generated.
    """
    a, b = _arquitetura(anterior), _arquitetura(atual)
    camadas_a = [c for c in a.get("camadas", []) if isinstance(c, dict)]
    camadas_b = [c for c in b.get("camadas", []) if isinstance(c, dict)]
    adicionadas: list[dict[str, Any]] = []
    removidas: list[dict[str, Any]] = []
    alteradas: list[dict[str, Any]] = []
    _alinhar(
        camadas_a,
        range(len(camadas_a)),
        camadas_b,
        range(len(camadas_b)),
        0,
        adicionadas,
        removidas,
        alteradas,
    )
    adicionadas.sort(key=lambda c: c["posicao"])
    removidas.sort(key=lambda c: c["posicao"])
    alteradas.sort(key=lambda c: c["posicao_atual"])
    p_adic, p_rem, p_alt = _diferencas(
        a.get("parametros", {}) or {}, b.get("parametros", {}) or {}
    )
    resultado: dict[str, Any] = {
        "tipo_anterior": a.get("tipo"),
        "tipo_atual": b.get("tipo"),
        "classe_anterior": a.get("classe"),
        "classe_atual": b.get("classe"),
        "camadas_anteriores": len(camadas_a),
        "camadas_atuais": len(camadas_b),
        "camadas_adicionadas": adicionadas,
        "camadas_removidas": removidas,
        "camadas_alteradas": alteradas,
        "parametros_adicionados": p_adic,
        "parametros_removidos": p_rem,
        "parametros_alterados": p_alt,
    }
    resultado["igual"] = not (
        adicionadas
        or removidas
        or alteradas
        or p_adic
        or p_rem
        or p_alt
        or a.get("classe") != b.get("classe")
        or a.get("tipo") != b.get("tipo")
    )
    resultado["resumo"] = _texto_resumo(resultado)
    return resultado


def _metadados_alterados(anterior: dict[str, Any], atual: dict[str, Any]) -> list[str]:
    ma = anterior.get("metadados") or {}
    mb = atual.get("metadados") or {}
    if not isinstance(ma, dict) or not isinstance(mb, dict):
        return []
    return sorted(
        k for k in set(ma) | set(mb) if _canonico(ma.get(k)) != _canonico(mb.get(k))
    )


def inferir_tipo_mudanca(
    anterior: dict[str, Any] | None, atual: dict[str, Any] | None
) -> tuple[str, str]:
    """("major"|"minor"|"patch", reason) for `tipo_mudanca="auto"`.

    `anterior` None means there is no earlier version (the first one is 1.0.0 in any
    case). `atual` None means the model could not be described: minor is assumed,
    and the reason says so.
    """
    if anterior is None:
        return MAJOR, "primeira versão"
    if atual is None:
        return MINOR, (
            "não foi possível inspecionar o modelo atual (formato sem "
            "inspeção ou falha ao carregar): assumido minor (retreino)"
        )
    bib_a, bib_b = anterior.get("biblioteca"), atual.get("biblioteca")
    fmt_a, fmt_b = anterior.get("formato"), atual.get("formato")
    arq_a, arq_b = _arquitetura(anterior), _arquitetura(atual)
    if bib_a and bib_b and bib_a != bib_b:
        return MAJOR, f"a biblioteca do modelo mudou ({bib_a} -> {bib_b})"
    if anterior.get("digest_arquitetura") != atual.get("digest_arquitetura"):
        if arq_a.get("tipo") != arq_b.get("tipo"):
            return MINOR, (
                f"o formato mudou ({fmt_a} -> {fmt_b}) e as descrições não "
                "são comparáveis entre esses formatos: assumido minor"
            )
        comparacao = comparar_arquiteturas(arq_a, arq_b)
        return MAJOR, f"arquitetura mudou: {comparacao['resumo']}"
    pesos_a, pesos_b = anterior.get("digest_pesos"), atual.get("digest_pesos")
    if pesos_a is None or pesos_b is None:
        return MINOR, (
            "mesma arquitetura; os pesos não puderam ser comparados: "
            "assumido minor (retreino)"
        )
    if pesos_a != pesos_b:
        return MINOR, "mesma arquitetura, pesos diferentes (retreino ou ajuste fino)"
    if fmt_a != fmt_b:
        return PATCH, (
            f"mesma arquitetura e mesmos pesos; só o formato mudou ({fmt_a} -> {fmt_b})"
        )
    mudados = _metadados_alterados(anterior, atual)
    if mudados:
        return PATCH, (
            "mesma arquitetura e mesmos pesos; só metadados mudaram "
            f"({', '.join(mudados[:6])})"
        )
    return PATCH, "mesma arquitetura e mesmos pesos; só metadados ou o arquivo mudaram"
