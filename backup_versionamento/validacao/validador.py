"""validar_modelo / inspecionar_modelo / analisar_modelo: the public face of validacao.

Order of work for one model: detect the format, check its structure without
running anything from it, then (only if that passed) load it for real in a
sandboxed child. The same child run also describes the model when describing it
needs loading, so a backup with `tipo_mudanca="auto"` starts one child, not two.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base.padroes import MEMORIA_LIMITE_VALIDACAO_MB, TEMPO_LIMITE_VALIDACAO_S
from ..erros import ErroArquivoNaoEncontrado, ErroPermissao, ErroValidacao
from . import formatos as fmt

if TYPE_CHECKING:
    from .estrutural import ResultadoEstrutural
    from .sandbox import ResultadoIsolado

TEMPO_LIMITE_PADRAO = float(TEMPO_LIMITE_VALIDACAO_S)
MEMORIA_LIMITE_PADRAO_MB = MEMORIA_LIMITE_VALIDACAO_MB


def _tamanho(caminho: Path) -> int:
    if caminho.is_dir():
        return sum(p.stat().st_size for p in caminho.rglob("*") if p.is_file())
    return caminho.stat().st_size


def _carga_vazia(motivo: str) -> dict[str, Any]:
    return {
        "executado": False,
        "ok": None,
        "motivo": motivo,
        "versao_biblioteca": None,
        "duracao_s": None,
        "detalhes": {},
    }


def _relatorio_base(caminho: Path, info: fmt.InfoFormato) -> dict[str, Any]:
    return {
        "arquivo": str(caminho),
        "formato": info.formato,
        "descricao_formato": info.descricao,
        "biblioteca": info.biblioteca,
        "valido": True,
        "estrutural": {"ok": True, "problemas": [], "avisos": [], "detalhes": {}},
        "carregamento": _carga_vazia("não executado"),
        "problemas": [],
        "avisos": list(info.avisos),
        "duracao_s": 0.0,
    }


def _carga_do_filho(res: ResultadoIsolado) -> dict[str, Any]:
    dados = res.dados
    if dados is None:
        carga = _carga_vazia(res.motivo or "o processo de teste não respondeu")
        carga.update(
            {
                "executado": True,
                "ok": False,
                "tempo_esgotado": res.tempo_esgotado,
                "duracao_s": round(res.duracao_s, 3),
            }
        )
        return carga
    ok = dados.get("ok")
    motivo = dados.get("motivo") or (
        f"carregado com sucesso ({dados.get('versao_biblioteca')})" if ok else "falhou"
    )
    return {
        "executado": bool(dados.get("executado")),
        "ok": ok,
        "motivo": motivo,
        "versao_biblioteca": dados.get("versao_biblioteca"),
        "duracao_s": round(res.duracao_s, 3),
        "detalhes": dados.get("detalhes", {}),
    }


def _motivo_sem_carga(estr: ResultadoEstrutural, teste_carregamento: bool) -> str:
    if not estr.ok:
        v = estr.varredura
        if v is not None and (v.perigosos or v.nao_permitidos):
            return "não executado: a varredura de segurança reprovou o arquivo"
        return "não executado: a verificação estrutural falhou"
    if not estr.carregar:
        return f"não executado: {estr.motivo_sem_carga}"
    if not teste_carregamento:
        return "teste de carregamento desativado"
    return "não executado"


def analisar_modelo(
    caminho: Path,
    *,
    teste_carregamento: bool = True,
    inspecionar: bool = True,
    tempo_limite: float = TEMPO_LIMITE_PADRAO,
    memoria_limite_mb: int = MEMORIA_LIMITE_PADRAO_MB,
    globais_permitidos: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(validation report, architecture description or None), one child at most."""
    inicio = time.monotonic()
    caminho = Path(caminho)
    if not caminho.exists():
        raise ErroArquivoNaoEncontrado(f"{caminho}: arquivo ou pasta não encontrado")
    nome = caminho.name
    extras = tuple(globais_permitidos)
    try:
        info = fmt.detectar_formato(caminho)
    except PermissionError:
        raise ErroPermissao(f"{caminho}: sem permissão de leitura") from None
    rel = _relatorio_base(caminho, info)
    if info.formato == fmt.DESCONHECIDO:
        rel["avisos"].append(f"{nome}: formato não reconhecido: só o hash é verificado")
        rel["carregamento"] = _carga_vazia("formato não reconhecido")
        rel["duracao_s"] = round(time.monotonic() - inicio, 3)
        return rel, None
    # lazy: startup time (docs/DESEMPENHO.md); an unknown format (.bin) needs none
    from .estrutural import verificar_estrutura
    from .inspecao import FORMATOS_NO_FILHO, de_resultado_filho, inspecionar_estatico
    from .sandbox import SCRIPT_FILHO, executar_isolado

    estr = verificar_estrutura(caminho, info, extras=extras, tempo_limite=tempo_limite)
    rel["biblioteca"] = estr.biblioteca or info.biblioteca
    rel["estrutural"] = estr.como_dict()
    rel["problemas"].extend(f"{nome}: {p}" for p in estr.problemas)
    rel["avisos"].extend(f"{nome}: {a}" for a in estr.avisos)

    inspecao: dict[str, Any] | None = None
    no_filho = info.formato in FORMATOS_NO_FILHO
    if inspecionar and estr.ok and not no_filho:
        inspecao = inspecionar_estatico(caminho, info)
    inspecionar_no_filho = inspecionar and no_filho and estr.ok and estr.carregar
    if estr.ok and estr.carregar and (teste_carregamento or inspecionar_no_filho):
        alvo = estr.alvo_carga or caminho
        tarefa = {
            "acao": "carregar",
            "formato": estr.formato_carga or info.formato,
            "caminho": str(alvo.resolve()),
            "inspecionar": inspecionar_no_filho,
            "extras": list(extras),
            **estr.tarefa_extra,
        }
        res = executar_isolado(
            SCRIPT_FILHO,
            tarefa,
            tempo_limite=tempo_limite,
            memoria_limite_mb=memoria_limite_mb,
            arquivo_limite_mb=2 * (_tamanho(alvo) >> 20) + 256,
        )
        if teste_carregamento:
            carga = _carga_do_filho(res)
            rel["carregamento"] = carga
            if carga["ok"] is False:
                rel["problemas"].append(
                    f"{nome}: teste de carregamento falhou: {carga['motivo']}"
                )
            elif carga["ok"] is None:
                rel["avisos"].append(f"{nome}: {carga['motivo']}")
        if res.dados is not None:
            rel["avisos"].extend(f"{nome}: {a}" for a in res.dados.get("avisos", []))
            if inspecionar_no_filho and res.dados.get("ok"):
                inspecao = de_resultado_filho(info, rel["biblioteca"], res.dados)
    else:
        rel["carregamento"] = _carga_vazia(_motivo_sem_carga(estr, teste_carregamento))
    rel["valido"] = bool(estr.ok and rel["carregamento"]["ok"] is not False)
    rel["duracao_s"] = round(time.monotonic() - inicio, 3)
    return rel, inspecao


def validar_modelo(
    caminho: Path,
    *,
    teste_carregamento: bool = True,
    tempo_limite: float = TEMPO_LIMITE_PADRAO,
    memoria_limite_mb: int = MEMORIA_LIMITE_PADRAO_MB,
    globais_permitidos: Iterable[str] = (),
) -> dict[str, Any]:
    """JSON-able validation report of one model file or folder."""
    relatorio, _ = analisar_modelo(
        caminho,
        teste_carregamento=teste_carregamento,
        inspecionar=False,
        tempo_limite=tempo_limite,
        memoria_limite_mb=memoria_limite_mb,
        globais_permitidos=globais_permitidos,
    )
    return relatorio


def inspecionar_modelo(
    caminho: Path,
    *,
    tempo_limite: float = TEMPO_LIMITE_PADRAO,
    memoria_limite_mb: int = MEMORIA_LIMITE_PADRAO_MB,
    globais_permitidos: Iterable[str] = (),
) -> dict[str, Any] | None:
    """Architecture and weight fingerprints, or None when they cannot be told."""
    _, inspecao = analisar_modelo(
        caminho,
        teste_carregamento=False,
        inspecionar=True,
        tempo_limite=tempo_limite,
        memoria_limite_mb=memoria_limite_mb,
        globais_permitidos=globais_permitidos,
    )
    return inspecao


def opcoes_da_config(config: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for the functions above from the `validacao` config section."""
    v = config.get("validacao", {})
    return {
        "teste_carregamento": bool(v.get("teste_carregamento", True)),
        "tempo_limite": float(v.get("tempo_limite_segundos", TEMPO_LIMITE_PADRAO)),
        "memoria_limite_mb": int(v.get("memoria_limite_mb", MEMORIA_LIMITE_PADRAO_MB)),
        "globais_permitidos": tuple(v.get("globais_permitidos", ())),
    }


def erro_de_validacao(relatorio: dict[str, Any]) -> ErroValidacao:
    """The error to raise when `validacao.modo` is "bloquear" and the model failed."""
    problemas = relatorio.get("problemas") or ["motivo não informado"]
    linhas = "\n".join(f"  - {p}" for p in problemas)
    return ErroValidacao(
        f"{relatorio.get('arquivo')}: o modelo falhou na validação; "
        f"nada foi gravado:\n{linhas}"
    )
