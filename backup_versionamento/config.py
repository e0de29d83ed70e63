"""Configuration: assembles every domain's section, then loads and resolves paths.

Each domain describes its own section (defaults that *are* the schema, and rules;
`base/configuracao.py`): the store (`armazenamento/configuracao.py`), automatic
backup (`automacao/configuracao.py`), retention (`politica/retencao.py`),
validation (`validacao/configuracao.py`), security (`seguranca/configuracao.py`),
the integrations (`integracoes/configuracao.py`), logging (`registro.py`) and
reports (`relatorios/configuracao.py`). Those schema modules import only the
base (docs/ARQUITETURA.md), so this one may import them from any layer. It only
assembles them, checks across sections and resolves paths. Every problem is
reported with the key's full path, all at once, and nothing runs.
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
from .automacao.configuracao import SECAO_CONFIG as BACKUP_AUTOMATICO
from .base.configuracao import Regra, Secao, ler_arquivo, mesclar
from .base.configuracao import valor as _valor
from .base.endereco import e_local
from .erros import ErroConfiguracao
from .integracoes.configuracao import SECAO_CONFIG as INTEGRACAO
from .integracoes.configuracao import nome_ref_git_valido, problema_segredo
from .politica.retencao import SECAO_CONFIG as RETENCAO
from .registro import SECAO_CONFIG as DESENVOLVIMENTO
from .relatorios.configuracao import SECAO_CONFIG as RELATORIOS
from .relatorios.configuracao import problema_painel
from .seguranca.configuracao import SECAO_CONFIG as SEGURANCA
from .validacao.configuracao import SECAO_CONFIG as VALIDACAO

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
        msg = problema_painel(cfg)
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
