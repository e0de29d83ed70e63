"""Measure the maintained pickle scanners against this project's malicious corpus.

For every malicious file the tests build (tests/modelos_reais.py) and a few benign
models, ask our own static scan (validacao.pickle_seguro, through
verificar_estrutura), picklescan, fickling and modelscan whether the file is
dangerous, and print a Markdown table: case -> caught by each. The decision it
supports is written down in docs/VALIDACAO.md.

    pip install picklescan fickling modelscan   # or --escaneres DIR below
    python benchmarks/scanners_pickle.py [--escaneres /tmp/escaneres_pickle]

Needs numpy, scikit-learn, joblib and torch (the `teste` and `modelos` extras) to
build the corpus. No file is ever loaded: every scanner here is static, and a
marker file proves no payload ran (a case whose marker appears is reported).
Exit code 1 if a scanner is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

RAIZ = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(RAIZ))

PEGOU = "pegou"
NAO_PEGOU = "**não pegou**"
OK = "ok"
FALSO_ALARME = "**falso alarme**"


def _corpus(pasta: Path) -> list[tuple[str, bool, Path, Path]]:
    """(case, malicious?, file, marker) for each file of the test corpus."""
    from tests import modelos_reais as mr

    casos: list[tuple[str, bool, Path, Path]] = []

    def marcador(nome: str) -> Path:
        return pasta / f"MARCADOR_{nome}"

    for protocolo in (0, 2, 4, 5):
        nome = f"pickle_malicioso_p{protocolo}"
        m = marcador(nome)
        casos.append(
            (nome, True, mr.pickle_malicioso(pasta / f"{nome}.pkl", m, protocolo), m)
        )
    for rotulo, compress, em_array in (
        ("sem_compressao", 0, False),
        ("zlib3", 3, False),
        ("gzip3", ("gzip", 3), False),
        ("array_de_objetos", 0, True),
        ("array_de_objetos_xz", ("xz", 1), True),
    ):
        nome = f"joblib_malicioso_{rotulo}"
        m = marcador(nome)
        arquivo = mr.joblib_malicioso(pasta / f"{nome}.joblib", m, compress, em_array)
        casos.append((nome, True, arquivo, m))
    m = marcador("torch")
    casos.append(
        ("torch_data_pkl_malicioso", True, mr.torch_malicioso(pasta / "t.pt", m), m)
    )
    m = marcador("pilha")
    casos.append(
        ("truque_de_pilha", True, mr.pickle_truque_pilha(pasta / "pilha.pkl", m), m)
    )
    m = marcador("diferencial")
    casos.append(
        (
            "joblib_diferencial",
            True,
            mr.joblib_diferencial(pasta / "diferencial.joblib", m),
            m,
        )
    )
    nada = pasta / "MARCADOR_benigno"
    floresta = mr.floresta(3)
    casos += [
        (
            "benigno_sklearn_pkl",
            False,
            mr.salvar_pickle(floresta, pasta / "rf.pkl"),
            nada,
        ),
        (
            "benigno_sklearn_joblib_z3",
            False,
            mr.salvar_joblib(floresta, pasta / "rf.joblib", 3),
            nada,
        ),
        (
            "benigno_torch_state_dict",
            False,
            mr.salvar_torch(mr.torch_rede().state_dict(), pasta / "rede.pt"),
            nada,
        ),
    ]
    return casos


# --- one function per scanner: (flagged as dangerous?, why it could not read) ---------


Veredito = tuple[bool, str | None]


def _nosso(arquivo: Path) -> Veredito:
    from backup_versionamento.validacao import detectar_formato
    from backup_versionamento.validacao.estrutural import verificar_estrutura

    r = verificar_estrutura(arquivo, detectar_formato(arquivo))
    return not r.ok, None


def _picklescan(arquivo: Path) -> Veredito:
    from picklescan.scanner import scan_file_path

    r = scan_file_path(str(arquivo))
    marcou = bool(r.issues_count or r.infected_files)
    return marcou, "erro de leitura" if r.scan_err else None


def _fickling(arquivo: Path) -> Veredito:
    import fickling

    r = fickling.scan_file(str(arquivo), graceful=True)
    motivo = r.errors[0].split(" (")[0].split(":")[0] if r.errors else None
    return not r.is_safe, motivo


def _modelscan(arquivo: Path) -> Veredito:
    from modelscan.modelscan import ModelScan

    r = ModelScan().scan(arquivo)
    erros = r.get("errors") or []
    motivo = str(erros[0].get("description", "erro")).split(":")[0] if erros else None
    if not erros and not r.get("summary", {}).get("scanned", {}).get("total_scanned"):
        motivo = "arquivo ignorado"
    return bool(r.get("issues")), motivo


ESCANERES: dict[str, tuple[str | None, Callable[[Path], Veredito]]] = {
    "nosso (pickle_seguro)": (None, _nosso),
    "picklescan": ("picklescan", _picklescan),
    "fickling": ("fickling", _fickling),
    "modelscan": ("modelscan", _modelscan),
}


def _versao(pacote: str | None) -> str:
    if pacote is None:
        return ""
    try:
        return " " + importlib.metadata.version(pacote)
    except importlib.metadata.PackageNotFoundError:
        return " ausente"


def _celula(funcao: Callable[[Path], Veredito], arquivo: Path, malicioso: bool) -> str:
    """pegou / marcou sem ler / não pegou / não leu for a malicious file; ok /
    falso alarme for a benign one. Only "pegou" counts as catching a case: a
    scanner that flags whatever it cannot parse also flags every real model."""
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            marcou, nao_leu = funcao(arquivo)
    except Exception as e:  # a scanner that crashes did not catch the case
        return f"não leu ({type(e).__name__})"
    sem_ler = f" ({nao_leu})" if nao_leu else ""
    if malicioso:
        if marcou:
            return PEGOU if not nao_leu else f"marcou sem ler{sem_ler}"
        return f"não leu{sem_ler}" if nao_leu else NAO_PEGOU
    return f"{FALSO_ALARME}{sem_ler}" if marcou else f"{OK}{sem_ler}"


def medir(pasta: Path) -> tuple[list[str], list[list[str]], dict[str, Any]]:
    casos = _corpus(pasta)
    nomes = list(ESCANERES)
    linhas = []
    resumo: dict[str, Any] = {n: {"pegou": 0, "falsos": 0} for n in nomes}
    for caso, malicioso, arquivo, marcador in casos:
        linha = [caso, "malicioso" if malicioso else "benigno"]
        for nome in nomes:
            celula = _celula(ESCANERES[nome][1], arquivo, malicioso)
            if marcador.exists():  # never expected: a scanner ran the payload
                celula += " (EXECUTOU O ARQUIVO)"
                marcador.unlink()
            resumo[nome]["pegou"] += celula == PEGOU
            resumo[nome]["falsos"] += celula.startswith(FALSO_ALARME)
            linha.append(celula)
        linhas.append(linha)
    resumo["maliciosos"] = sum(1 for c in casos if c[1])
    resumo["benignos"] = sum(1 for c in casos if not c[1])
    return nomes, linhas, resumo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--escaneres",
        metavar="PASTA",
        help="pasta de um `pip install --target` com os escâneres (vai ao fim do "
        "sys.path, sem trocar as bibliotecas do ambiente)",
    )
    args = parser.parse_args(argv)
    if args.escaneres:
        sys.path.append(args.escaneres)
    faltam = [
        pacote
        for pacote, _ in ESCANERES.values()
        if pacote and importlib.util.find_spec(pacote) is None
    ]
    if faltam:
        print(f"faltam: {', '.join(faltam)} (pip install {' '.join(faltam)})")
        return 1
    with tempfile.TemporaryDirectory(prefix="escaneres-") as tmp:
        nomes, linhas, resumo = medir(Path(tmp))
    cabecalho = ["caso", "tipo"] + [f"{n}{_versao(ESCANERES[n][0])}" for n in nomes]
    print("| " + " | ".join(cabecalho) + " |")
    print("|" + " --- |" * len(cabecalho))
    for linha in linhas:
        print("| " + " | ".join(linha) + " |")
    totais = ["**total**", ""] + [
        f"{resumo[n]['pegou']}/{resumo['maliciosos']} pegos, "
        f"{resumo[n]['falsos']}/{resumo['benignos']} falsos alarmes"
        for n in nomes
    ]
    print("| " + " | ".join(totais) + " |")
    print(f"\nPython {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
