"""Configuration: assembles every domain's section, then loads and resolves paths.

Each domain describes its own section (defaults that *are* the schema, and rules;
`base/configuracao.py`): the store (`armazenamento/configuracao.py`), retention
(`politica/retencao.py`), security (`seguranca/configuracao.py`) and the
integrations (`integracoes/configuracao.py`). The sections of the layers above
this one (automatic backup, reports) and of the validation (not loaded by every
command, docs/DESEMPENHO.md) are described here, with their facts imported from
where they live. Every problem is reported with the key's full path, all at
once, and nothing runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import segredos
from .armazenamento.configuracao import (
    DIRETORIOS,
    ESPACO_DISCO,
    PERFORMANCE,
    problema_base,
)
from .base.configuracao import (
    Regra,
    Secao,
    faixa,
    horario,
    horarios,
    ler_arquivo,
    lista_de_texto,
    mesclar,
    nao_negativo,
    nao_vazio,
    um_de,
)
from .base.configuracao import valor as _valor
from .base.endereco import e_local
from .base.padroes import MEMORIA_LIMITE_VALIDACAO_MB, TEMPO_LIMITE_VALIDACAO_S
from .erros import ErroConfiguracao
from .integracoes.configuracao import SECAO_CONFIG as INTEGRACAO
from .integracoes.configuracao import nome_ref_git_valido, problema_segredo
from .politica.retencao import SECAO_CONFIG as RETENCAO
from .politica.versoes import AUTO, INCREMENTOS
from .seguranca.configuracao import SECAO_CONFIG as SEGURANCA

__all__ = [
    "PADRAO",
    "ajustar_base",
    "carregar",
    "checar_diretorio_modelos",
    "de_dicionario",
    "ler_arquivo",
    "nome_ref_git_valido",
    "validar",
]

NOME_ARQUIVO_PADRAO = "config_backup.json"


def _extensoes(v: list[Any]) -> str | None:
    ruins = [x for x in v if not isinstance(x, str) or not x.startswith(".")]
    return (
        f"extensões inválidas {ruins}: cada uma deve começar com '.'" if ruins else None
    )


BACKUP_AUTOMATICO = Secao(
    "backup_automatico",
    {
        "habilitado": True,
        "intervalo_horas": 6,
        "horarios_execucao": [],
        "diretorios_monitorados": ["./modelo", "./models"],
        # .json/.txt (XGBoost, LightGBM) are left out on purpose: watched folders
        # are full of such files that are not models. Add them when you need to.
        "extensoes_monitoradas": [
            ".h5",
            ".keras",
            ".pkl",
            ".joblib",
            ".pt",
            ".pth",
            ".onnx",
            ".ubj",
            ".tflite",
        ],
        "ignorar_arquivos": ["temp_*", "*.tmp"],
        "monitorar_tempo_real": True,
        "periodo_silencio_segundos": 5.0,
        "tipo_mudanca": "retreino",
        "limpeza_automatica": False,
        "horario_limpeza": "03:30",
    },
    {
        "backup_automatico.intervalo_horas": faixa(1, 24 * 366),
        "backup_automatico.horarios_execucao": horarios,
        "backup_automatico.diretorios_monitorados": lista_de_texto,
        "backup_automatico.extensoes_monitoradas": _extensoes,
        "backup_automatico.ignorar_arquivos": lista_de_texto,
        "backup_automatico.periodo_silencio_segundos": faixa(0, 3600),
        "backup_automatico.tipo_mudanca": um_de({*INCREMENTOS, AUTO}),
        "backup_automatico.horario_limpeza": horario,
    },
)


def _globais_permitidos(v: list[Any]) -> str | None:
    if not all(isinstance(x, str) for x in v):
        return "deve ser uma lista de textos"
    if not v:
        return None
    # The deny list lives with the pickle scanner, the one place that knows what
    # is dangerous (the sandboxed child loads that file by path, so it must stay
    # self-contained); imported here, lazily, only when the key is used.
    from .validacao.pickle_seguro import motivo_global_recusado

    ruins = [f"{x!r} ({m})" for x in v if (m := motivo_global_recusado(x))]
    if ruins:
        return (
            f"recusado: {'; '.join(ruins)}. Esta lista só libera classes de dados "
            "(ex.: 'meu_pacote.modelos.MinhaClasse' ou 'meu_pacote.modelos.*'); "
            "remova esses itens"
        )
    return None


VALIDACAO = Secao(
    "validacao",
    {
        "modo": "avisar",
        "teste_carregamento": True,
        "tempo_limite_segundos": TEMPO_LIMITE_VALIDACAO_S,
        "memoria_limite_mb": MEMORIA_LIMITE_VALIDACAO_MB,
        "globais_permitidos": [],
    },
    {
        "validacao.modo": um_de({"bloquear", "avisar", "desligado"}),
        "validacao.tempo_limite_segundos": faixa(1, 24 * 3600),
        "validacao.memoria_limite_mb": faixa(64, 1024 * 1024),
        "validacao.globais_permitidos": _globais_permitidos,
    },
)

DESENVOLVIMENTO = Secao(
    "desenvolvimento", {"modo_debug": False, "log_detalhado": False}
)

RELATORIOS = Secao(
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

# In the order of the file and of the problems reported.
SECOES: tuple[Secao, ...] = (
    DIRETORIOS,
    BACKUP_AUTOMATICO,
    RETENCAO,
    VALIDACAO,
    ESPACO_DISCO,
    INTEGRACAO,
    SEGURANCA,
    PERFORMANCE,
    DESENVOLVIMENTO,
    RELATORIOS,
)
PADRAO: dict[str, Any] = {s.nome: s.padrao for s in SECOES}
_REGRAS: dict[str, Regra] = {k: r for s in SECOES for k, r in s.regras.items()}
_TIPOS_ALTERNATIVOS: dict[str, type] = {
    k: t for s in SECOES for k, t in s.tipos_alternativos.items()
}

ENDERECOS_LOCAIS = {"127.0.0.1", "::1", "localhost"}


def _checar_painel(cfg: dict[str, Any]) -> str | None:
    """Anyone who can reach a non-loopback address could read the dashboard."""
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


def validar(usuario: dict[str, Any], origem: str = "configuração") -> dict[str, Any]:
    """Merge `usuario` over the defaults; raise ErroConfiguracao listing problems."""
    problemas: list[str] = []
    if not isinstance(usuario, dict):
        raise ErroConfiguracao(
            f"{origem}: o conteúdo deve ser um objeto JSON ({{...}})"
        )
    cfg = mesclar(PADRAO, usuario, "", problemas, _TIPOS_ALTERNATIVOS)
    for caminho, regra in _REGRAS.items():
        if caminho.split(".")[0] in usuario or not problemas:
            msg = regra(_valor(cfg, caminho))
            if msg:
                problemas.append(f"{caminho}: {msg}")
    if not problemas:
        msg = _checar_painel(cfg)
        if msg:
            problemas.append(msg)
    if problemas:
        linhas = "\n".join(f"  - {p}" for p in problemas)
        raise ErroConfiguracao(f"{origem}: configuração inválida:\n{linhas}", problemas)
    return cfg


def _resolver_caminhos(cfg: dict[str, Any], raiz: Path) -> None:
    """Turn relative paths into absolute ones, anchored at the config file's folder.

    The daemon changes its working folder to '/', so nothing may stay relative.
    """

    def absoluto(p: str) -> str:
        if not e_local(p):
            return p.rstrip("/")  # s3://bucket/prefix: an address, not a path
        caminho = Path(p).expanduser()
        return str(caminho if caminho.is_absolute() else (raiz / caminho).resolve())

    d = cfg["diretorios"]
    modelos_informado = d["modelos"]
    d["base"] = absoluto(d["base"])
    d["modelos"] = absoluto(modelos_informado)
    if d["estado"]:
        d["estado"] = absoluto(d["estado"])
    ba = cfg["backup_automatico"]
    ba["diretorios_monitorados"] = [absoluto(p) for p in ba["diretorios_monitorados"]]
    cripto = cfg["seguranca"]["criptografia"]
    cripto["chave_arquivo"] = absoluto(cripto["chave_arquivo"])
    assinatura = cfg["seguranca"]["assinatura"]
    for campo in ("chave_privada", "chave_publica"):
        if assinatura[campo]:
            assinatura[campo] = absoluto(assinatura[campo])
    git = cfg["integracao"]["git"]
    if git["repositorio"]:
        git["repositorio"] = absoluto(git["repositorio"])


def ajustar_base(cfg: dict[str, Any], base: str | Path) -> None:
    """Point the configuration at another repository folder (API/CLI override)."""
    problema = problema_base(str(base))
    if problema:
        raise ErroConfiguracao(f"--base: {problema}")
    if not e_local(base):
        cfg["diretorios"]["base"] = str(base).rstrip("/")
        cfg["diretorios"]["modelos"] = _modelos_de(cfg["diretorios"]["base"])
        return
    base_abs = str(Path(base).expanduser().resolve())
    cfg["diretorios"]["base"] = base_abs
    cfg["diretorios"]["modelos"] = str(Path(base_abs) / "modelos")


def _modelos_de(base: str) -> str:
    return f"{base}/modelos" if not e_local(base) else str(Path(base) / "modelos")


def checar_diretorio_modelos(cfg: dict[str, Any]) -> None:
    """Format v1 keeps sidecars in <base>/modelos; say so if the user asks otherwise."""
    base = cfg["diretorios"]["base"]
    esperado = _modelos_de(base)
    informado = cfg["diretorios"]["modelos"]
    if (informado if not e_local(base) else Path(informado)) != (
        esperado if not e_local(base) else Path(esperado)
    ):
        raise ErroConfiguracao(
            f"diretorios.modelos: no formato v1 os metadados ficam em <base>/modelos "
            f"({esperado}); recebido {cfg['diretorios']['modelos']}. Remova a chave ou "
            "use esse valor."
        )


def _finalizar(
    cfg: dict[str, Any], dados: dict[str, Any], raiz: Path, base: str | Path | None
) -> dict[str, Any]:
    _resolver_caminhos(cfg, raiz)
    segredos.caminhos_relativos(cfg, raiz)
    segredos.resolver(cfg)
    if msg := problema_segredo(cfg["integracao"]["webhook"]["segredo"]):
        raise ErroConfiguracao(f"integracao.webhook.segredo: {msg}")
    if base is not None:
        ajustar_base(cfg, base)
    elif "modelos" not in dados.get("diretorios", {}):
        cfg["diretorios"]["modelos"] = _modelos_de(cfg["diretorios"]["base"])
    checar_diretorio_modelos(cfg)
    return cfg


def carregar(
    caminho: str | Path | None = None, *, base: str | Path | None = None
) -> dict[str, Any]:
    """Load the effective configuration.

    `caminho=None` looks for ./config_backup.json and falls back to the defaults.
    Relative paths are anchored at the config file's folder.
    """
    if caminho is None:
        candidato = Path.cwd() / NOME_ARQUIVO_PADRAO
        caminho = candidato if candidato.is_file() else None
    if caminho is None:
        return _finalizar(validar({}, "padrões"), {}, Path.cwd(), base)
    arquivo = Path(caminho)
    dados = ler_arquivo(arquivo)
    segredos.avisar_se_exposto(dados, arquivo)
    return _finalizar(
        validar(dados, str(arquivo)), dados, arquivo.resolve().parent, base
    )


def de_dicionario(
    dados: dict[str, Any], base: str | Path | None = None
) -> dict[str, Any]:
    """Configuration from an in-memory dict (the Python API), paths relative to cwd."""
    return _finalizar(validar(dados, "configuração"), dados, Path.cwd(), base)
