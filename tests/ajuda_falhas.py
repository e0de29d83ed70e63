"""Shared checks of the failure-path tests: nothing lost, nothing left behind."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.coleta import LIMIAR_REEMPACOTAR
from backup_versionamento.armazenamento.fragmento import (
    PREFIXO as PREFIXO_FRAGMENTOS,
)
from backup_versionamento.armazenamento.fragmento import decodificar_fragmento
from backup_versionamento.armazenamento.pacote import PREFIXO as PREFIXO_PACOTES
from backup_versionamento.armazenamento.pacote import id_da_chave

from .conftest import RAIZ, aleatorio, escrever

MiB = 1024 * 1024
# Fast settings: no model validation, no disk reserve (tests use tiny tmpfs).
CFG: dict[str, Any] = {
    "validacao": {"modo": "desligado"},
    "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
}
# What a repository folder may hold at its top level.
TOPO_PERMITIDO = {
    "repositorio.json",
    "modelos",
    "pacotes",
    "indices",
    "logs",
    "chaves",
    "travas",
}

Esperado = dict[tuple[str, str], bytes]


def com(**secoes: dict[str, Any]) -> dict[str, Any]:
    """CFG with some sections replaced (shallow per section)."""
    cfg = json.loads(json.dumps(CFG))
    for nome, valores in secoes.items():
        cfg.setdefault(nome, {}).update(valores)
    return cfg


def executar_filho(
    pedido: dict[str, Any], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run tests/executor_falhas.py with `pedido` (see its docstring)."""
    return subprocess.run(
        [
            sys.executable,
            str(RAIZ / "tests" / "executor_falhas.py"),
            json.dumps(pedido),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


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
    r = executar_filho(pedido)
    assert r.returncode == -9, (
        f"o filho não morreu na etapa {etapa} (saída {r.returncode}): a etapa não "
        f"aconteceu ou falhou antes\n{r.stdout}\n{r.stderr}"
    )
    return r


def sem_traceback(r: subprocess.CompletedProcess[str]) -> None:
    """No Python traceback and no 'damaged' message in a CLI run's output."""
    texto = r.stdout + r.stderr
    assert "Traceback" not in texto, texto
    assert "danificado" not in texto, texto


def conferir(
    base: Path,
    cfg: dict[str, Any],
    esperado: Esperado,
    destino: Path,
    *,
    g: GerenciadorBackupVersionamento | None = None,
    ao_menos: bool = False,
) -> None:
    """The repository verifies and holds exactly `esperado` (`ao_menos`: at
    least it; retention may not have run), byte-exact."""
    proprio = g is None
    g = g or GerenciadorBackupVersionamento(base, cfg)
    try:
        rel = g.verificar_integridade(completa=True)
        assert rel["ok"], rel["problemas"]
        achadas = {
            (m, v["versao"]) for m in g.listar_modelos() for v in g.listar_versoes(m)
        }
        if ao_menos:
            assert achadas >= set(esperado)
        else:
            assert achadas == set(esperado)
        for (modelo, versao), dados in esperado.items():
            alvo = destino / f"{modelo}-{versao}"
            dest = g.restaurar_backup(modelo, versao, alvo, sobrescrever=True)
            assert Path(dest).read_bytes() == dados, f"{modelo} {versao} difere"
    finally:
        if proprio:
            g.fechar()


def envelhecer_temporarios(base: Path, segundos: float = 3600) -> int:
    """Date the temp files a killed writer left `segundos` back (a crash long
    ago: the collection spares young ones, which may belong to a live writer)."""
    temporarios = list(base.rglob(".*.tmp"))
    for t in temporarios:
        antes = time.time() - segundos
        os.utime(t, (antes, antes))
    return len(temporarios)


def sem_temporarios(base: Path) -> None:
    """No hidden or temp file anywhere, nothing unknown at the top level."""
    ocultos = [p for p in base.rglob(".*")]
    assert not ocultos, f"sobras no repositório: {ocultos}"
    topo = {p.name for p in base.iterdir()}
    assert topo <= TOPO_PERMITIDO, topo - TOPO_PERMITIDO
    # Lock objects: the last collection's mark, or leases/locks of processes
    # that died (the next collection on this host removes them).
    for p in (base / "travas").rglob("*"):
        if p.is_file() and p.name != "limpeza_ultima.json":
            pid = json.loads(p.read_text())["pid"]
            assert not Path(f"/proc/{pid}").exists(), f"trava de processo vivo: {p}"


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


# Two versions per model survive; one pack to repack (a.bin 1.0.0 shares half of
# its chunks with 1.0.1) and one to delete (b.bin 1.0.0 shares nothing).
CFG_LIMPEZA = com(
    performance={"threads_backup": 1},
    retencao={
        "por_quantidade": {"maximo_versoes_por_modelo": 2},
        "carencia_coleta_minutos": 0,
    },
)


def repositorio_para_limpar(base: Path, src: Path) -> Esperado:
    """Six backups (six packs, six fragments); returns what must survive."""
    x = aleatorio(2 * MiB, 10)
    a2 = aleatorio(MiB, 11) + x[MiB:]
    a3 = a2[: 3 * MiB // 2] + aleatorio(MiB // 2, 12)
    conteudos = {
        "a.bin": [x, a2, a3],
        "b.bin": [aleatorio(MiB, 20), aleatorio(MiB, 21), aleatorio(MiB, 22)],
    }
    esperado: Esperado = {}
    with GerenciadorBackupVersionamento(base, CFG_LIMPEZA) as g:
        for nome, versoes in conteudos.items():
            for i, dados in enumerate(versoes):
                escrever(src / nome, dados)
                v = g.criar_backup(src / nome, "patch")
                if i:
                    esperado[(nome, v)] = dados
        assert g.repo.tamanho_pacotes()[0] == 6
        assert len(list(g.backend.listar("indices/"))) == 6
        plano = g.limpeza(simular=True)
        assert plano["versoes_removidas"] == ["a.bin 1.0.0", "b.bin 1.0.0"]
    return esperado


@contextmanager
def tmpfs(ponto: Path, tamanho: str) -> Iterator[Path]:
    """A real tmpfs of `tamanho` (e.g. "20m") at `ponto`, unmounted after.

    Skips only where mount(8) is not permitted (not root, or a sandbox that
    forbids it); any other failure is an error.
    """
    ponto.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={tamanho},mode=0755",
            "tmpfs",
            str(ponto),
        ],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        if os.geteuid() != 0 or "permission denied" in r.stderr.lower():
            pytest.skip(f"mount(8) não permitido aqui: {r.stderr.strip()}")
        raise AssertionError(f"mount tmpfs falhou: {r.stderr}")
    try:
        yield ponto
    finally:
        if subprocess.run(["umount", str(ponto)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(ponto)], check=True)


def remontar(ponto: Path, opcoes: str) -> None:
    subprocess.run(
        ["mount", "-o", f"remount,{opcoes}", str(ponto)],
        check=True,
        capture_output=True,
    )


def encher(arquivo: Path) -> int:
    """Write `arquivo` until the file system is full; return its size."""
    n = 0
    with open(arquivo, "wb", buffering=0) as f:
        for tamanho in (1 << 20, 1 << 16, 1 << 12, 1):
            bloco = os.urandom(tamanho)
            try:
                while True:
                    n += f.write(bloco)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
    return n
