"""Shared checks of the failure-path tests: nothing lost, nothing left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.coleta import LIMIAR_REEMPACOTAR
from backup_versionamento.armazenamento.fragmento import (
    PREFIXO as PREFIXO_FRAGMENTOS,
)
from backup_versionamento.armazenamento.fragmento import decodificar_fragmento
from backup_versionamento.armazenamento.pacote import PREFIXO as PREFIXO_PACOTES
from backup_versionamento.armazenamento.pacote import id_da_chave

from .conftest import RAIZ

MiB = 1024 * 1024
# Fast settings: no model validation, no disk reserve (tests use tiny tmpfs).
CFG: dict[str, Any] = {
    "validacao": {"modo": "desligado"},
    "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
}
# What a repository folder may hold at its top level.
TOPO_PERMITIDO = {"repositorio.json", "modelos", "pacotes", "indices", "logs"}

Esperado = dict[tuple[str, str], bytes]


def com(**secoes: dict[str, Any]) -> dict[str, Any]:
    """CFG with some sections replaced (shallow per section)."""
    cfg = json.loads(json.dumps(CFG))
    for nome, valores in secoes.items():
        cfg.setdefault(nome, {}).update(valores)
    return cfg


def matar_em(
    base: Path, cfg: dict[str, Any], etapa: str, operacao: str, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run the operation in a child that SIGKILLs itself at `etapa`; it must die."""
    pedido = {
        "base": str(base),
        "config": cfg,
        "operacao": operacao,
        "etapa": etapa,
        **extra,
    }
    r = subprocess.run(
        [
            sys.executable,
            str(RAIZ / "tests" / "executor_falhas.py"),
            json.dumps(pedido),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == -9, (
        f"o filho não morreu na etapa {etapa} (saída {r.returncode}): a etapa não "
        f"aconteceu ou falhou antes\n{r.stdout}\n{r.stderr}"
    )
    return r


def conferir(
    base: Path,
    cfg: dict[str, Any],
    esperado: Esperado,
    destino: Path,
    *,
    g: GerenciadorBackupVersionamento | None = None,
) -> None:
    """The repository verifies and holds exactly `esperado`, byte-exact."""
    proprio = g is None
    g = g or GerenciadorBackupVersionamento(base, cfg)
    try:
        rel = g.verificar_integridade(completa=True)
        assert rel["ok"], rel["problemas"]
        achadas = {
            (m, v["versao"]) for m in g.listar_modelos() for v in g.listar_versoes(m)
        }
        assert achadas == set(esperado)
        for (modelo, versao), dados in esperado.items():
            alvo = destino / f"{modelo}-{versao}"
            dest = g.restaurar_backup(modelo, versao, alvo, sobrescrever=True)
            assert Path(dest).read_bytes() == dados, f"{modelo} {versao} difere"
    finally:
        if proprio:
            g.fechar()


def sem_temporarios(base: Path) -> None:
    """No hidden or temp file anywhere, nothing unknown at the top level."""
    ocultos = [p for p in base.rglob(".*")]
    assert not ocultos, f"sobras no repositório: {ocultos}"
    topo = {p.name for p in base.iterdir()}
    assert topo <= TOPO_PERMITIDO, topo - TOPO_PERMITIDO


def auditar(g: GerenciadorBackupVersionamento, relatorio: dict[str, Any]) -> None:
    """After a limpeza: nothing unreferenced remains but what the report names.

    One index fragment; every live chunk is in it and points to an existing
    pack; every pack is listed by it; a pack's dead share is below the repack
    threshold (kept on purpose, counted in `pacotes_mantidos`).
    """
    assert relatorio["pacotes_em_carencia"] == 0, relatorio
    repo = g.repo
    vivos: set[str] = set()
    for modelo, versao, sc in repo.iterar_sidecars():
        assert not isinstance(sc, Exception), f"{modelo} {versao}: {sc}"
        vivos.update(i for i, _ in sc.blocos())
    backend = repo.backend
    pacotes = {id_da_chave(i.chave): i.tamanho for i in backend.listar(PREFIXO_PACOTES)}
    fragmentos = [i.chave for i in backend.listar(PREFIXO_FRAGMENTOS)]
    if not vivos:
        assert not pacotes and not fragmentos
        return
    assert len(fragmentos) == 1, f"índice não compactado: {fragmentos}"
    id_frag = fragmentos[0][len(PREFIXO_FRAGMENTOS) :]
    locais = decodificar_fragmento(
        repo.codificador, id_frag, backend.ler(fragmentos[0])
    )
    assert vivos <= set(locais), f"blocos vivos fora do índice: {vivos - set(locais)}"
    usados = {loc.pacote for loc in locais.values()}
    assert usados <= set(pacotes), (
        f"índice aponta pacotes ausentes: {usados - set(pacotes)}"
    )
    assert set(pacotes) <= usados, f"pacotes órfãos: {set(pacotes) - usados}"
    for id_pacote, tamanho in pacotes.items():
        # The pack's trailer agrees with the index (and is intact).
        no_trailer = repo.objetos.ler_trailer(id_pacote, tamanho)
        for i, loc in locais.items():
            if loc.pacote == id_pacote:
                assert no_trailer.get(i) == loc, f"pacote {id_pacote}: {i} difere"
        vivo = sum(
            loc.tamanho
            for i, loc in locais.items()
            if loc.pacote == id_pacote and i in vivos
        )
        assert vivo > 0, f"pacote {id_pacote} sem nada vivo ficou"
        morto = 1 - vivo / tamanho
        assert morto < LIMIAR_REEMPACOTAR, (
            f"pacote {id_pacote} com {morto:.0%} morto não foi reempacotado"
        )
    assert len(pacotes) == relatorio["pacotes_mantidos"] + relatorio["pacotes_novos"]
