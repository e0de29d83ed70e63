"""A store whose listing lags (eventually consistent, like kopia's test store).

The engine assumes strong read-after-write and list-after-write (docs/S3.md,
consistency). With conditional create, a lagging listing costs retries, never a
version; without conditional create the claims need the listing, so the probe
refuses exclusive create there instead of letting two machines share a version.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.backends import BackendLocal, BackendMemoria
from backup_versionamento.armazenamento.backends.falhas import BackendListagemAtrasada
from backup_versionamento.armazenamento.backends.reivindicacao import (
    BackendCriacaoSondada,
    BackendSemCondicional,
    sondar_listagem_imediata,
)
from backup_versionamento.erros import ErroNaoSuportado

from .ajuda_estresse import CFG
from .test_compartilhado import _publicar_em_paralelo


def _chaves(loja: BackendListagemAtrasada, prefixo: str = "") -> list[str]:
    return sorted(i.chave for i in loja.listar(prefixo))


def test_listagem_atrasada_le_na_hora_e_lista_depois() -> None:
    loja = BackendListagemAtrasada(BackendMemoria(), listagens=2)
    loja.gravar("a/1", b"um")
    assert loja.ler("a/1") == b"um" and loja.existe("a/1")
    assert loja.info("a/1") is not None
    assert _chaves(loja) == [] and _chaves(loja, "a/") == []
    assert _chaves(loja) == ["a/1"]
    loja.gravar("a/1", b"maior")  # listed with its old size until it catches up
    assert [i.tamanho for i in loja.listar("a/")] == [2]
    loja.apagar("a/1")
    assert not loja.existe("a/1")
    assert _chaves(loja) == ["a/1"] and _chaves(loja) == ["a/1"]
    assert _chaves(loja) == []
    assert sondar_listagem_imediata(loja) is False
    assert sondar_listagem_imediata(BackendMemoria()) is True


def test_sonda_recusa_sem_condicional_e_com_listagem_atrasada(tmp_path: Path) -> None:
    memoria = BackendMemoria()
    cache = tmp_path / "sondas.json"
    loja = BackendCriacaoSondada(
        BackendListagemAtrasada(BackendSemCondicional(memoria)), cache=cache
    )
    for _ in range(2):  # refused every time, never half-granted
        try:
            loja.gravar("modelos/m/1.0.0.json", b"x", exclusivo=True)
        except ErroNaoSuportado as e:
            msg = str(e)
        else:
            raise AssertionError("criação exclusiva concedida sem garantia")
    assert "If-None-Match" in msg and "listagem" in msg and "único escritor" in msg
    assert list(memoria.listar("")) == [] and not cache.exists()
    # Plain writes still work: only what needs exclusivity is refused.
    assert loja.gravar("pacotes/ab/x", b"dados") is True


def test_listagem_atrasada_com_escrita_condicional_nao_perde_versao(
    tmp_path: Path,
) -> None:
    """Two machines, listings that lag 3 calls behind: distinct versions, all kept."""
    contadas = _publicar_em_paralelo(
        tmp_path, lambda repo: BackendListagemAtrasada(BackendLocal(repo))
    )
    versoes = [v for v, _ in contadas]
    assert len(versoes) == 8 and len(set(versoes)) == 8, sorted(versoes)
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        assert len(g.listar_versoes("m.bin")) == 8
        for v, sha in contadas:
            alvo = g.restaurar_backup("m.bin", v, tmp_path / "r" / v / "m.bin")
            assert hashlib.sha256(Path(alvo).read_bytes()).hexdigest() == sha


def test_sem_condicional_e_listagem_atrasada_recusa_publicar(tmp_path: Path) -> None:
    """Both defects: the two machines are refused clearly; no version is told."""
    repo = tmp_path / "repo"
    erros: list[BaseException] = []
    contadas: list[str] = []
    largada = threading.Barrier(2)

    def maquina(n: int) -> None:
        cfg = {**CFG, "diretorios": {"estado": str(tmp_path / f"estado{n}")}}
        loja = BackendCriacaoSondada(
            BackendListagemAtrasada(BackendSemCondicional(BackendLocal(repo)))
        )
        arq = tmp_path / f"origem{n}" / "m.bin"
        arq.parent.mkdir()
        arq.write_bytes(os.urandom(30_000))
        largada.wait()
        try:
            with GerenciadorBackupVersionamento(repo, cfg, backend=loja) as g:
                contadas.append(g.criar_backup(arq, "patch"))
        except BaseException as e:
            erros.append(e)

    threads = [threading.Thread(target=maquina, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert contadas == []
    assert len(erros) == 2 and all(isinstance(e, ErroNaoSuportado) for e in erros)
    assert all("único escritor" in str(e) for e in erros), erros
    assert not list(BackendLocal(repo).listar("modelos/"))
