"""Configuration: defaults for every key, strict validation, path resolution.

The defaults below *are* the schema: a user value must have the same JSON type as
its default (ints are accepted where a float is expected), unknown keys are errors,
and a few keys carry extra rules (`_REGRAS`). Every problem is reported with the
key's full path, all at once, and nothing runs.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import segredos
from .base.endereco import e_local
from .base.escrita import mensagem_os
from .base.padroes import THREADS_BACKUP, THREADS_COMPRESSAO
from .erros import ErroConfiguracao
from .eventos import EVENTOS
from .politica.retencao import MODOS_TEMPO, PoliticaRetencao
from .politica.versoes import AUTO, INCREMENTOS
from .seguranca.acesso import PAPEIS
from .texto import decodificar_json, inteiro_enorme

NOME_ARQUIVO_PADRAO = "config_backup.json"

# The spec's retention defaults live with the policy.
_RETENCAO = PoliticaRetencao()

PADRAO: dict[str, Any] = {
    "diretorios": {
        "base": "./backups_modelos",
        "modelos": "./backups_modelos/modelos",
        # Per-machine caches, locks and daemon files ("" = $XDG_CACHE_HOME/...).
        "estado": "",
    },
    "backup_automatico": {
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
    "retencao": {
        "por_tempo": {
            "ultimos_7_dias": _RETENCAO.ultimos_7_dias,
            "ultimos_30_dias": _RETENCAO.ultimos_30_dias,
            "ultimos_90_dias": _RETENCAO.ultimos_90_dias,
        },
        "por_quantidade": {"maximo_versoes_por_modelo": _RETENCAO.maximo_versoes},
        "manter_melhores": {
            "metrica": _RETENCAO.metrica_melhores,
            "quantidade": _RETENCAO.quantidade_melhores,
            "maior_melhor": _RETENCAO.maior_melhor,
        },
        "carencia_coleta_minutos": 60,
        "espera_backups_minutos": 10,
    },
    "validacao": {
        "modo": "avisar",
        "teste_carregamento": True,
        "tempo_limite_segundos": 120,
        "memoria_limite_mb": 4096,
        "globais_permitidos": [],
    },
    "espaco_disco": {"aviso_mb": 1024, "reserva_mb": 100},
    "integracao": {
        "git": {
            "habilitada": False,
            "auto_commit": True,
            "branch_backups": "backups",
            # "" = the git repository that holds each model.
            "repositorio": "",
            "tag_por_versao": False,
        },
        "cloud_storage": {
            "habilitado": False,
            "provedor": "aws_s3",
            "bucket": "",
            "prefixo": "backups_modelos",
            "regiao": "",
            "endpoint_url": "",
            # A short-lived command waits this long for its push before exiting.
            "espera_ao_sair_segundos": 30.0,
            # Mirror: also delete from the bucket what limpeza removed here.
            "apagar_no_espelho": False,
        },
        "webhook": {
            "habilitado": False,
            "url": "",
            "eventos": ["backup_criado", "backup_falhou"],
            "segredo": "",
            # The secret from a file of its own (mode 0600) instead of in clear here;
            # or from $BACKUP_VERSIONAMENTO_WEBHOOK_SEGREDO (see segredos.py).
            "segredo_arquivo": "",
            "tempo_limite_segundos": 10.0,
            "tentativas": 8,
            # A short-lived command waits this long for its deliveries at exit.
            "espera_ao_sair_segundos": 5.0,
            # More endpoints: [{"url": ..., "eventos": [...], "segredo": ...}].
            "endpoints": [],
        },
    },
    "seguranca": {
        "criptografia": {
            "habilitada": False,
            "algoritmo": "AES-256",
            "chave_arquivo": "./backups_modelos/chaves/.encryption_key",
        },
        "controle_acesso": {
            "habilitado": False,
            "usuarios_autorizados": ["admin", "ml_engineer"],
            "log_acessos": True,
            # A local repository owned by this OS group, with modes that the kernel
            # enforces: "leitor" (read) or "operador" (also create versions).
            "grupo": "",
            "papel_grupo": "leitor",
            # S3: days of Object Lock retention of the audit witnesses (0: the
            # bucket's default retention, if any).
            "auditoria_retencao_dias": 0,
        },
        "assinatura": {
            "habilitada": False,
            # PEM files from `inicializar_backup.py chaves gerar-assinatura`.
            "chave_privada": "",
            "chave_publica": "",
            # Refuse versions without a signature (not only a wrong one).
            "obrigatoria": False,
        },
    },
    "performance": {
        "threads_backup": THREADS_BACKUP,
        "threads_compressao": THREADS_COMPRESSAO,
        "buffer_size_mb": 128,
        "cache_size_mb": 256,
        "nivel_compressao": 1,
    },
    "desenvolvimento": {"modo_debug": False, "log_detalhado": False},
    "relatorios": {
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
}

# Keys whose value is a free-form mapping (no fixed sub-keys).
_MAPAS_LIVRES: set[str] = set()
# Keys that accept another JSON type besides their default's (a rule checks them).
_TIPOS_ALTERNATIVOS: dict[str, type] = {
    "seguranca.controle_acesso.usuarios_autorizados": dict,
}

_HORARIO = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# The domain modules own these lists (issue 20: each fact in one place).
_TIPOS_MUDANCA = {*INCREMENTOS, AUTO}
_BUCKETS_TEMPO = set(MODOS_TEMPO)
_CHAVES_ENDPOINT = {"url", "eventos", "segredo", "segredo_arquivo"}
_REF_GIT_PROIBIDA = re.compile(r"(^[./-])|(\.\.)|([\x00-\x20~^:?*\[\\\x7f])|(@\{)|(//)")


def _faixa(
    minimo: float, maximo: float, *, acima_de_zero: bool = False
) -> Callable[[Any], str | None]:
    """A number in [minimo, maximo] (or in (0, maximo] with `acima_de_zero`).

    Checked before any arithmetic touches the value: JSON ints have no size
    limit and NaN/Infinity parse as floats.
    """

    def regra(v: Any) -> str | None:
        if isinstance(v, float) and not math.isfinite(v):
            return f"{v} não é um número finito"
        recebido = f"(recebido {inteiro_enorme(v) or v})"
        if acima_de_zero and not v > 0:
            return f"deve ser maior que zero {recebido}"
        if v < minimo:
            return (
                f"não pode ser negativo {recebido}"
                if minimo == 0
                else f"deve estar entre {minimo} e {maximo} {recebido}"
            )
        if v > maximo:
            return f"deve ser no máximo {maximo} {recebido}"
        return None

    return regra


# Generic bounds for rules that only state a sign: large enough for any real use,
# small enough that no later arithmetic (seconds -> datetime, MB -> bytes) breaks.
_TETO_GENERICO = 10**9
_positivo = _faixa(0, _TETO_GENERICO, acima_de_zero=True)
_nao_negativo = _faixa(0, _TETO_GENERICO)


def _horarios(v: list[Any]) -> str | None:
    ruins = [h for h in v if not isinstance(h, str) or not _HORARIO.match(h)]
    return (
        f"horários inválidos {ruins}: use o formato HH:MM (00:00 a 23:59)"
        if ruins
        else None
    )


def _horario(v: str) -> str | None:
    return None if _HORARIO.match(v) else f"'{v}' não é um horário HH:MM"


def _lista_de_texto(v: list[Any]) -> str | None:
    return (
        None if all(isinstance(x, str) for x in v) else "deve ser uma lista de textos"
    )


def _extensoes(v: list[Any]) -> str | None:
    ruins = [x for x in v if not isinstance(x, str) or not x.startswith(".")]
    return (
        f"extensões inválidas {ruins}: cada uma deve começar com '.'" if ruins else None
    )


def _um_de(opcoes: set[str]) -> Callable[[Any], str | None]:
    def regra(v: Any) -> str | None:
        return (
            None
            if v in opcoes
            else f"'{v}' não é aceito; use um de: {', '.join(sorted(opcoes))}"
        )

    return regra


def _eventos(v: list[Any]) -> str | None:
    ruins = [e for e in v if e not in EVENTOS]
    return (
        f"eventos desconhecidos {ruins}; use: {', '.join(sorted(EVENTOS))}"
        if ruins
        else None
    )


def nome_ref_git_valido(nome: str) -> bool:
    """Whether `nome` can be a git branch or tag name (git check-ref-format)."""
    return bool(nome) and not (
        _REF_GIT_PROIBIDA.search(nome)
        or nome.endswith((".", "/", ".lock"))
        or nome == "@"
        or "/." in nome
        or ".lock/" in nome
    )


def _branch(v: str) -> str | None:
    return (
        None
        if nome_ref_git_valido(v)
        else f"'{v}' não é um nome de branch válido no git (sem espaços, '..', "
        "'~', '^', ':', nem começar com '-' ou '.')"
    )


def _url(v: str) -> str | None:
    if not v:
        return None
    partes = urlsplit(v)
    if partes.scheme not in ("http", "https") or not partes.hostname:
        return f"'{v}' não é uma URL http:// ou https://"
    return None


def _segredo(v: str) -> str | None:
    if not v.startswith("whsec_"):
        return None
    try:
        base64.b64decode(v[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        return "começa com 'whsec_', mas o resto não é base64 válido"
    return None


def _endpoints(v: list[Any]) -> str | None:
    problemas = []
    for i, item in enumerate(v):
        onde = f"item {i}"
        if not isinstance(item, dict):
            problemas.append(f"{onde}: esperado objeto {{url, eventos, segredo}}")
            continue
        desconhecidas = sorted(set(item) - _CHAVES_ENDPOINT)
        if desconhecidas:
            problemas.append(
                f"{onde}: chaves desconhecidas {desconhecidas} (válidas: "
                f"{', '.join(sorted(_CHAVES_ENDPOINT))})"
            )
        url = item.get("url")
        if not isinstance(url, str) or not url:
            problemas.append(f"{onde}.url: obrigatória (texto http:// ou https://)")
        elif msg := _url(url):
            problemas.append(f"{onde}.url: {msg}")
        eventos = item.get("eventos", [])
        if not isinstance(eventos, list):
            problemas.append(f"{onde}.eventos: esperado lista")
        elif msg := _eventos(eventos):
            problemas.append(f"{onde}.eventos: {msg}")
        segredo = item.get("segredo", "")
        if not isinstance(segredo, str):
            problemas.append(f"{onde}.segredo: esperado texto")
        elif msg := _segredo(segredo):
            problemas.append(f"{onde}.segredo: {msg}")
        if not isinstance(item.get("segredo_arquivo", ""), str):
            problemas.append(f"{onde}.segredo_arquivo: esperado texto (um caminho)")
    return "; ".join(problemas) or None


def _webhook(v: dict[str, Any]) -> str | None:
    if v["habilitado"] and not v["url"] and not v["endpoints"]:
        return "habilitado, mas sem destino: defina url ou endpoints"
    urls = [v["url"]] if v["url"] else []
    urls += [e.get("url") for e in v["endpoints"] if isinstance(e, dict)]
    repetidas = sorted({u for u in urls if isinstance(u, str) and urls.count(u) > 1})
    if repetidas:
        return (
            f"URL repetida {repetidas}: cada destino aparece uma vez (junte os "
            "eventos numa lista só)"
        )
    return None


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


_ENDERECO_S3 = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?")
# 'esquema:/...' or 's3:...' is an address with a slash missing (s3:/bucket), never
# a folder the user meant; two letters at least, so 'C:/dados' stays a path.
_PARECE_ENDERECO = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+:/|[sS]3:")


def _base(v: str) -> str | None:
    if not v.strip():
        return "não pode ser vazio"
    if ("://" in v or _PARECE_ENDERECO.match(v)) and not _ENDERECO_S3.fullmatch(v):
        return (
            f"'{v}' não é uma pasta nem um endereço s3://BUCKET/PREFIXO válido "
            "(o bucket tem 3 a 63 letras minúsculas, dígitos, '.' ou '-')"
        )
    return None


def _usuarios_autorizados(v: list[Any] | dict[str, Any]) -> str | None:
    if isinstance(v, list):
        return _lista_de_texto(v)
    ruins = [
        f"{u!r}"
        for u, papeis in v.items()
        if not isinstance(papeis, list)
        or not papeis
        or not all(p in PAPEIS for p in papeis)
    ]
    if ruins:
        return (
            f"papéis inválidos para {', '.join(ruins)}: cada usuário recebe uma lista "
            f"não vazia de {', '.join(PAPEIS)}"
        )
    return None


def _nuvem(v: dict[str, Any]) -> str | None:
    if v.get("habilitado") and not str(v.get("bucket", "")).strip():
        return "habilitado, mas sem bucket: defina integracao.cloud_storage.bucket"
    return None


def _assinatura(v: dict[str, Any]) -> str | None:
    if v["habilitada"] and not (v["chave_privada"] or v["chave_publica"]):
        return (
            "habilitada, mas sem chave: defina chave_privada (para assinar) e/ou "
            "chave_publica (para conferir); gere um par com "
            "`inicializar_backup.py chaves gerar-assinatura --saida PASTA`"
        )
    if v["obrigatoria"] and not v["habilitada"]:
        return "obrigatoria exige habilitada=true"
    return None


def _nao_vazio(v: str) -> str | None:
    return None if v.strip() else "não pode ser vazio"


_REGRAS: dict[str, Callable[[Any], str | None]] = {
    "diretorios.base": _base,
    "backup_automatico.intervalo_horas": _faixa(1, 24 * 366),
    "backup_automatico.horarios_execucao": _horarios,
    "backup_automatico.diretorios_monitorados": _lista_de_texto,
    "backup_automatico.extensoes_monitoradas": _extensoes,
    "backup_automatico.ignorar_arquivos": _lista_de_texto,
    "backup_automatico.periodo_silencio_segundos": _faixa(0, 3600),
    "backup_automatico.tipo_mudanca": _um_de(_TIPOS_MUDANCA),
    "backup_automatico.horario_limpeza": _horario,
    "retencao.por_tempo.ultimos_7_dias": _um_de(_BUCKETS_TEMPO),
    "retencao.por_tempo.ultimos_30_dias": _um_de(_BUCKETS_TEMPO),
    "retencao.por_tempo.ultimos_90_dias": _um_de(_BUCKETS_TEMPO),
    "retencao.por_quantidade.maximo_versoes_por_modelo": _faixa(
        1, 1_000_000, acima_de_zero=True
    ),
    "retencao.manter_melhores.quantidade": _faixa(0, 1_000_000),
    "retencao.carencia_coleta_minutos": _faixa(0, 60 * 24 * 366),
    "retencao.espera_backups_minutos": _faixa(0, 60 * 24),
    "validacao.modo": _um_de({"bloquear", "avisar", "desligado"}),
    "validacao.tempo_limite_segundos": _faixa(1, 24 * 3600),
    "validacao.memoria_limite_mb": _faixa(64, 1024 * 1024),
    "validacao.globais_permitidos": _globais_permitidos,
    "espaco_disco.aviso_mb": _faixa(0, 1024**3),
    "espaco_disco.reserva_mb": _faixa(0, 1024**3),
    "integracao.cloud_storage.provedor": _um_de({"aws_s3", "s3"}),
    "integracao.cloud_storage": _nuvem,
    "integracao.cloud_storage.endpoint_url": _url,
    "integracao.git.branch_backups": _branch,
    "integracao.webhook": _webhook,
    "integracao.webhook.url": _url,
    "integracao.webhook.eventos": _eventos,
    "integracao.webhook.segredo": _segredo,
    "integracao.webhook.tempo_limite_segundos": _positivo,
    "integracao.webhook.tentativas": _faixa(1, 100),
    "integracao.webhook.espera_ao_sair_segundos": _faixa(0, 600),
    "integracao.cloud_storage.espera_ao_sair_segundos": _faixa(0, 3600),
    "integracao.webhook.endpoints": _endpoints,
    "seguranca.criptografia.algoritmo": _um_de({"AES-256", "AES-256-GCM"}),
    "seguranca.controle_acesso.usuarios_autorizados": _usuarios_autorizados,
    "seguranca.controle_acesso.papel_grupo": _um_de({"leitor", "operador"}),
    "seguranca.controle_acesso.auditoria_retencao_dias": _faixa(0, 36500),
    "seguranca.assinatura": _assinatura,
    "performance.threads_backup": _faixa(1, 64),
    "performance.threads_compressao": _faixa(1, 64),
    "performance.buffer_size_mb": _faixa(8, 4096),
    "performance.cache_size_mb": _faixa(1, 65536),
    "performance.nivel_compressao": _faixa(1, 19),
    "relatorios.horario": _horario,
    "relatorios.cota_mb": _nao_negativo,
    "relatorios.painel_porta": _faixa(0, 65535),
    "relatorios.painel_endereco": _nao_vazio,
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


_NOMES_TIPO = {
    bool: "booleano (true/false)",
    int: "número inteiro",
    float: "número",
    str: "texto",
    list: "lista",
    dict: "objeto",
}


def _tipo_confere(padrao: Any, valor: Any) -> bool:
    if isinstance(padrao, bool) or isinstance(valor, bool):
        return isinstance(padrao, bool) and isinstance(valor, bool)
    if isinstance(padrao, float):
        return isinstance(valor, (int, float))
    return isinstance(valor, type(padrao))


def _mesclar(
    padrao: dict[str, Any], usuario: dict[str, Any], prefixo: str, problemas: list[str]
) -> dict[str, Any]:
    resultado = copy.deepcopy(padrao)
    for chave, valor in usuario.items():
        caminho = f"{prefixo}{chave}"
        if chave not in padrao:
            problemas.append(
                f"{caminho}: chave desconhecida (confira a grafia; "
                f"chaves válidas aqui: {', '.join(padrao)})"
            )
            continue
        esperado = padrao[chave]
        alternativo = _TIPOS_ALTERNATIVOS.get(caminho)
        if alternativo is not None and isinstance(valor, alternativo):
            resultado[chave] = valor
            continue
        if not _tipo_confere(esperado, valor):
            problemas.append(
                f"{caminho}: esperado {_NOMES_TIPO[type(esperado)]}, "
                f"recebido {json.dumps(valor, ensure_ascii=False)}"
            )
            continue
        if isinstance(esperado, dict) and caminho not in _MAPAS_LIVRES:
            resultado[chave] = _mesclar(esperado, valor, caminho + ".", problemas)
        else:
            resultado[chave] = valor
    return resultado


def _valor(cfg: dict[str, Any], caminho: str) -> Any:
    atual: Any = cfg
    for parte in caminho.split("."):
        atual = atual[parte]
    return atual


def validar(usuario: dict[str, Any], origem: str = "configuração") -> dict[str, Any]:
    """Merge `usuario` over the defaults; raise ErroConfiguracao listing problems."""
    problemas: list[str] = []
    if not isinstance(usuario, dict):
        raise ErroConfiguracao(
            f"{origem}: o conteúdo deve ser um objeto JSON ({{...}})"
        )
    cfg = _mesclar(PADRAO, usuario, "", problemas)
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
    problema = _base(str(base))
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
    if msg := _segredo(cfg["integracao"]["webhook"]["segredo"]):
        raise ErroConfiguracao(f"integracao.webhook.segredo: {msg}")
    if base is not None:
        ajustar_base(cfg, base)
    elif "modelos" not in dados.get("diretorios", {}):
        cfg["diretorios"]["modelos"] = _modelos_de(cfg["diretorios"]["base"])
    checar_diretorio_modelos(cfg)
    return cfg


def ler_arquivo(arquivo: Path) -> dict[str, Any]:
    """Parse a config file into a raw dict, with errors that name the file."""
    if not arquivo.exists():
        raise ErroConfiguracao(
            f"{arquivo}: arquivo de configuração não encontrado; confira o caminho "
            "passado em --config ou rode sem --config para usar os padrões"
        )
    try:
        texto = arquivo.read_text(encoding="utf-8")
    except OSError as e:
        raise ErroConfiguracao(
            f"{arquivo}: não foi possível ler ({mensagem_os(e)})"
        ) from None
    except UnicodeDecodeError as e:
        raise ErroConfiguracao(f"{arquivo}: não foi possível ler ({e})") from None
    try:
        dados = decodificar_json(texto)
    except ValueError as e:
        raise ErroConfiguracao(f"{arquivo}: {e}") from None
    if not isinstance(dados, dict):
        raise ErroConfiguracao(
            f"{arquivo}: o conteúdo deve ser um objeto JSON ({{...}})"
        )
    return dados


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
