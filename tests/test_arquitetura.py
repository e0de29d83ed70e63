"""The layer rules of DESIGN.md, checked from the source (docs/ARQUITETURA.md).

Every import of every module is read with `ast`, including the lazy ones inside
functions, and checked against the layer order: a module may import its own
layer or a lower one. Known violations are listed by name below; the test fails
when a new one appears and when a listed one is gone (so the list only shrinks).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import backup_versionamento

PACOTE = Path(backup_versionamento.__file__).parent
NOME = "backup_versionamento"

# Bottom to top; a module may import its own layer or any layer below it.
CAMADAS = (
    "base",
    "armazenamento",
    "seguranca",
    "validacao",
    "politica",
    "integracoes",
    "servicos",
    "gerenciador",
    "automacao",
    "apresentacao",
)
# Top-level package or module -> its layer (docs/ARQUITETURA.md explains each).
LUGAR: dict[str, str] = {
    "base": "base",
    "erros": "base",
    "registro": "base",
    "eventos": "base",
    "config": "integracoes",  # assembles the domains' sections (base/configuracao)
    "texto": "base",
    "argumentos": "base",
    "estado": "base",
    "estatistica": "base",
    "metricas": "base",
    "segredos": "base",
    "armazenamento": "armazenamento",
    "arvore": "armazenamento",
    "seguranca": "seguranca",
    "validacao": "validacao",
    "objetos_vivos": "validacao",
    "linhagem": "validacao",
    "politica": "politica",
    "integracoes": "integracoes",
    "servicos": "servicos",
    "gerenciador": "gerenciador",
    "__init__": "gerenciador",
    "automacao": "automacao",
    "keras": "automacao",
    "cli": "apresentacao",
    "relatorios": "apresentacao",
    "__main__": "apresentacao",
}

# Third-party libraries kept to their layer (DESIGN.md, "Layers").
SO_APRESENTACAO = {"argparse", "jinja2"}
SO_AUTOMACAO_OU_ACIMA = {"schedule", "watchdog"}
SO_S3 = {"boto3", "botocore"}
MODULO_S3 = "armazenamento.backends.s3"

# Schema modules, `<pacote>/configuracao.py` (and `registro`, whose section is the
# logging it drives): each describes its configuration section and imports only
# the base layer, its own package and ESQUEMA_PODE_IMPORTAR, so `config` may
# import them from any layer (issue 20, docs/ARQUITETURA.md).
ESQUEMA = "configuracao"
ESQUEMA_PODE_IMPORTAR = {"politica.versoes"}  # INCREMENTOS, AUTO
# Besides the base layer and the schema modules, what `config` imports: retention
# keeps its section beside the policy that reads it.
CONFIG_TAMBEM_IMPORTA = {"politica.retencao"}

# (importer, imported) pairs that still break a rule. issue 20: to remove.
EXCECOES: set[tuple[str, str]] = set()
# Edges between two base modules that close a cycle. issue 20: to remove.
# (erros re-exports base.escrita.erro_de_os lazily for arvore/leitura.py.)
CICLOS_CONHECIDOS: set[tuple[str, str]] = set()


def _modulos() -> Iterator[tuple[str, Path]]:
    for arquivo in sorted(PACOTE.rglob("*.py")):
        partes = arquivo.relative_to(PACOTE).with_suffix("").parts
        if partes[-1] == "__init__" and len(partes) > 1:
            partes = partes[:-1]
        yield ".".join(partes), arquivo


def _e_modulo(nome: str) -> bool:
    caminho = PACOTE.joinpath(*nome.split("."))
    return caminho.with_suffix(".py").is_file() or (caminho / "__init__.py").is_file()


def _importacoes(nome: str, arquivo: Path) -> Iterator[tuple[str, bool]]:
    """(imported, internal) for every import in the file, lazy ones included."""
    e_pacote = arquivo.name == "__init__.py"
    base = nome.split(".") if e_pacote else nome.split(".")[:-1]
    if nome == "__init__":
        base = []
    for no in ast.walk(ast.parse(arquivo.read_text(encoding="utf-8"))):
        if isinstance(no, ast.Import):
            for a in no.names:
                if a.name == NOME or a.name.startswith(NOME + "."):
                    yield a.name[len(NOME) + 1 :] or "__init__", True
                else:
                    yield a.name.split(".")[0], False
        elif isinstance(no, ast.ImportFrom):
            if no.level == 0:
                modulo = no.module or ""
                if modulo == NOME or modulo.startswith(NOME + "."):
                    pai = modulo[len(NOME) + 1 :]
                else:
                    yield modulo.split(".")[0], False
                    continue
            else:
                acima = base[: len(base) - (no.level - 1)] if no.level > 1 else base
                pai = ".".join([*acima, *([no.module] if no.module else [])])
            for a in no.names:
                alvo = f"{pai}.{a.name}" if pai else a.name
                if _e_modulo(alvo):
                    yield alvo, True
                else:
                    yield pai or "__init__", True


def _lugar(modulo: str) -> str:
    return LUGAR[modulo.split(".")[0]]


def _grafo() -> dict[str, set[str]]:
    return {
        nome: {alvo for alvo, interno in _importacoes(nome, arq) if interno}
        for nome, arq in _modulos()
    }


def _externos() -> dict[str, set[str]]:
    return {
        nome: {alvo for alvo, interno in _importacoes(nome, arq) if not interno}
        for nome, arq in _modulos()
    }


def _e_esquema(modulo: str) -> bool:
    partes = modulo.split(".")
    return len(partes) == 2 and partes[1] == ESQUEMA and partes[0] != "base"


def _violacoes() -> set[tuple[str, str]]:
    saida = set()
    for nome, alvos in _grafo().items():
        nivel = CAMADAS.index(_lugar(nome))
        for alvo in alvos:
            if nome == "config" and _e_esquema(alvo):
                continue  # the schema rule below: they import only the base
            if CAMADAS.index(_lugar(alvo)) > nivel:
                saida.add((nome, alvo))
    for nome, libs in _externos().items():
        lugar = _lugar(nome)
        for lib in libs:
            if lib in SO_APRESENTACAO and lugar != "apresentacao":
                saida.add((nome, lib))
            if lib in SO_AUTOMACAO_OU_ACIMA and CAMADAS.index(lugar) < CAMADAS.index(
                "automacao"
            ):
                saida.add((nome, lib))
            if lib in SO_S3 and nome != MODULO_S3:
                saida.add((nome, lib))
    return saida


def test_todo_modulo_tem_camada() -> None:
    sem = {n for n, _ in _modulos() if n.split(".")[0] not in LUGAR}
    assert not sem, f"módulos sem camada em LUGAR (e em docs/ARQUITETURA.md): {sem}"


def test_regras_de_camada() -> None:
    violacoes = _violacoes()
    novas = sorted(violacoes - EXCECOES)
    assert not novas, (
        "importação contra as camadas de docs/ARQUITETURA.md "
        f"(importa só a própria camada ou abaixo): {novas}"
    )
    resolvidas = sorted(EXCECOES - violacoes)
    assert not resolvidas, f"exceção resolvida: tire de EXCECOES: {resolvidas}"


def test_esquemas_importam_so_a_base() -> None:
    grafo = _grafo()
    esquemas = sorted(n for n in grafo if _e_esquema(n))
    # The guard sees the sections that live in layers above `config`.
    assert {"automacao.configuracao", "relatorios.configuracao"} <= set(esquemas)
    ruins = sorted(
        (nome, alvo)
        for nome in esquemas
        for alvo in grafo[nome]
        if _lugar(alvo) != "base"
        and alvo.split(".")[0] != nome.split(".")[0]
        and alvo not in ESQUEMA_PODE_IMPORTAR
    )
    assert not ruins, (
        "um módulo de esquema (<pacote>/configuracao.py) importa só a base, o "
        f"próprio pacote e {sorted(ESQUEMA_PODE_IMPORTAR)}: {ruins}"
    )


def test_config_so_monta_os_esquemas() -> None:
    alvos = _grafo()["config"]
    assert {"automacao.configuracao", "validacao.configuracao"} <= alvos
    ruins = sorted(
        a
        for a in alvos
        if _lugar(a) != "base" and not _e_esquema(a) and a not in CONFIG_TAMBEM_IMPORTA
    )
    assert not ruins, (
        "config.py importa dos outros pacotes só os módulos de esquema "
        f"(<pacote>/configuracao.py): {ruins}"
    )


def _ciclos(arestas: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    indice: dict[str, int] = {}
    baixo: dict[str, int] = {}
    pilha: list[str] = []
    na_pilha: set[str] = set()
    saida: list[set[str]] = []

    def visitar(v: str) -> None:
        indice[v] = baixo[v] = len(indice)
        pilha.append(v)
        na_pilha.add(v)
        for w in arestas.get(v, ()):
            if w not in indice:
                visitar(w)
                baixo[v] = min(baixo[v], baixo[w])
            elif w in na_pilha:
                baixo[v] = min(baixo[v], indice[w])
        if baixo[v] == indice[v]:
            comp = set()
            while True:
                w = pilha.pop()
                na_pilha.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                saida.append(comp)

    for v in sorted(arestas):
        if v not in indice:
            visitar(v)
    return saida


def test_sem_ciclo_entre_pacotes() -> None:
    grafo = _grafo()
    presentes = {(n, a) for n, alvos in grafo.items() for a in alvos}
    resolvidas = sorted(CICLOS_CONHECIDOS - presentes)
    assert not resolvidas, f"ciclo resolvido: tire de CICLOS_CONHECIDOS: {resolvidas}"
    topo: dict[str, set[str]] = {}
    for nome, alvos in grafo.items():
        for alvo in alvos:
            if (nome, alvo) in EXCECOES | CICLOS_CONHECIDOS:
                continue
            if nome == "config" and _e_esquema(alvo):
                continue  # a schema module imports only the base: no cycle back
            a, b = nome.split(".")[0], alvo.split(".")[0]
            if a != b:
                topo.setdefault(a, set()).add(b)
    ciclos = _ciclos(topo)
    assert not ciclos, f"ciclo de importação entre pacotes: {ciclos}"


# The repository's parts: the services ask the repository (armazenamento/
# coordenacao.py and Repositorio's methods) instead of reaching into these.
PARTES_DO_REPOSITORIO = {
    "backend",
    "objetos",
    "cabecalho",
    "resumos",
    "indice_blocos",
    "codificador",
}
# (module, part) still reached into (none left; the set only shrinks).
PARTES_AINDA_USADAS: set[tuple[str, str]] = set()


def _partes_usadas() -> set[tuple[str, str]]:
    """(module, part) for every `<x>.repo.<part>` outside the storage layer."""
    saida = set()
    for nome, arquivo in _modulos():
        if _lugar(nome) == "armazenamento":
            continue
        for no in ast.walk(ast.parse(arquivo.read_text(encoding="utf-8"))):
            if (
                isinstance(no, ast.Attribute)
                and no.attr in PARTES_DO_REPOSITORIO
                and isinstance(no.value, ast.Attribute)
                and no.value.attr == "repo"
            ):
                saida.add((nome, no.attr))
    return saida


def test_servicos_pedem_ao_repositorio() -> None:
    novas = sorted(_partes_usadas() - PARTES_AINDA_USADAS)
    assert not novas, (
        "acesso novo às partes do repositório (peça ao Repositorio, veja "
        f"armazenamento/coordenacao.py): {novas}"
    )
