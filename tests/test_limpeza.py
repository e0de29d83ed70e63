"""`limpeza` end to end: retention on real sidecars, GC frees real bytes."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.armazenamento.backends import BackendMemoria
from backup_versionamento.armazenamento.trava import travar
from tests.ajuda_cifra import gravar_sidecar_json, ler_sidecar_json

from .conftest import aleatorio, cli, cli_json, escrever

MiB = 1024 * 1024
AGORA = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def _envelhecer(
    repo: Path, modelo: str, versao: str, dias: float, agora: datetime = AGORA
) -> None:
    """Backdate a version's creation time (as if it were made `dias` before `agora`)."""
    arq = repo / "modelos" / modelo / f"{versao}.json"
    sc = ler_sidecar_json(arq)
    quando = agora - timedelta(days=dias)
    sc["criado_em"] = quando.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    gravar_sidecar_json(arq, sc)


def _historico(
    tmp_path: Path, repo: Path, idades: list[float], agora: datetime = AGORA
) -> dict[str, bytes]:
    conteudos = {}
    m = tmp_path / "m.h5"
    with GerenciadorBackupVersionamento(repo, {}) as g:
        for i, _ in enumerate(idades):
            dados = aleatorio(MiB, i)
            escrever(m, dados)
            conteudos[g.criar_backup(m, "retreino")] = dados
    for (versao, _), dias in zip(conteudos.items(), idades, strict=True):
        _envelhecer(repo, "m.h5", versao, dias, agora)
    return conteudos


def test_limpeza_remove_o_velho_e_libera_espaco(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    cfg = {"retencao": {"carencia_coleta_minutos": 0}}
    conteudos = _historico(tmp_path, repo, [200, 100, 95, 40, 3, 1])
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        g.fixar_versao("m.h5", "1.1.0")
        plano = g.limpeza(simular=True, agora=AGORA)
        assert plano["versoes_removidas"] == ["m.h5 1.0.0", "m.h5 1.2.0"]
        assert len(g.listar_versoes("m.h5")) == 6  # simulation changes nothing
        antes = g.status()["tamanho_armazenado"]
        r = g.limpeza(agora=AGORA)
        assert r["versoes_removidas"] == ["m.h5 1.0.0", "m.h5 1.2.0"]
        assert r["bytes_liberados"] > 1.8 * MiB
        assert g.status()["tamanho_armazenado"] == antes - r["bytes_liberados"]
        restantes = [v["versao"] for v in g.listar_versoes("m.h5")]
        assert restantes == ["1.1.0", "1.3.0", "1.4.0", "1.5.0"]
        assert g.verificar_integridade(completa=True)["ok"]
        for v in restantes:
            dest = g.restaurar_backup("m.h5", v, tmp_path / v)
            assert Path(dest).read_bytes() == conteudos[v]
    log = (repo / "logs" / "backup_system.log").read_text()
    assert "Versão removida: m.h5 1.0.0" in log


def test_limpeza_maximo_de_versoes_via_cli(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    # The CLI runs on the real clock: age the versions relative to it.
    _historico(tmp_path, repo, [0.1] * 5, datetime.now(timezone.utc))
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps(
            {
                "diretorios": {"base": str(repo)},
                "retencao": {
                    "por_quantidade": {"maximo_versoes_por_modelo": 2},
                    "carencia_coleta_minutos": 0,
                },
            }
        )
    )
    r = cli("limpeza", "--simular", "--config", str(cfg))
    assert r.returncode == 0 and "Nada foi alterado" in r.stdout
    assert "excede o máximo de 2 versões" in r.stdout
    dados = cli_json("limpeza", "--config", str(cfg))
    assert len(dados["versoes_removidas"]) == 3
    versoes = cli_json("listar", "--modelo", "m.h5", "--config", str(cfg))
    assert [v["versao"] for v in versoes] == ["1.3.0", "1.4.0"]
    assert cli("verificar", "--completa", "--config", str(cfg)).returncode == 0


def test_repositorio_local_libera_na_hora(tmp_path: Path) -> None:
    # A local repository's lock truly excludes writers: the grace period does
    # not hold anything back.
    repo = tmp_path / "repo"
    _historico(tmp_path, repo, [300, 1])
    with GerenciadorBackupVersionamento(repo, {}) as g:  # default grace: 60 min
        antes = g.status()["tamanho_armazenado"]
        r = g.limpeza(agora=AGORA)
        assert r["versoes_removidas"] == ["m.h5 1.0.0"]
        assert r["pacotes_em_carencia"] == 0
        assert r["bytes_liberados"] > 0.9 * MiB
        assert g.status()["tamanho_armazenado"] == antes - r["bytes_liberados"]


def test_carencia_protege_pacotes_recentes_sem_trava_exclusiva(
    tmp_path: Path,
) -> None:
    # An object store shared by machines: flock excludes nobody there, so young
    # packs wait for the grace period, and the report says so.
    memoria = BackendMemoria()
    m = tmp_path / "m.h5"
    with GerenciadorBackupVersionamento(tmp_path / "x", {}, backend=memoria) as g:
        escrever(m, aleatorio(MiB, 1))
        g.criar_backup(m, "retreino")
        escrever(m, aleatorio(MiB, 2))
        g.criar_backup(m, "retreino")
        g.repo.remover_versao("m.h5", "1.0.0")
        r = g.limpeza(agora=AGORA)
        assert r["pacotes_removidos"] == 0 and r["pacotes_em_carencia"] > 0
        assert r["bytes_liberados"] == 0
        for info in list(memoria.listar("pacotes/")):
            memoria.envelhecer(info.chave, 2 * 3600)
        r = g.limpeza(agora=AGORA)
        assert r["pacotes_removidos"] > 0 and r["bytes_liberados"] > 0.9 * MiB
        dest = g.restaurar_backup("m.h5", "1.1.0", tmp_path / "r")
        assert Path(dest).read_bytes() == aleatorio(MiB, 2)


def test_backup_durante_limpeza_nao_perde_nada(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _historico(tmp_path, repo, [300, 200, 1])
    cfg = {"retencao": {"carencia_coleta_minutos": 0}}
    novo = escrever(tmp_path / "novo.h5", aleatorio(8 * MiB, 99))
    resultado: dict[str, str] = {}
    with GerenciadorBackupVersionamento(repo, cfg) as g:
        # Hold the collector's exclusive lock, start a backup, then let GC run:
        # the backup must wait and then land complete.
        with travar(g.repo.caminho_trava("repositorio")):
            t = threading.Thread(
                target=lambda: resultado.update(v=g.criar_backup(novo, "melhoria")),
                name="backup-teste",
            )
            t.start()
            time.sleep(0.5)
            assert "v" not in resultado  # blocked behind the lock
        t.join(60)
        assert resultado["v"] == "1.0.0"
        g.limpeza(agora=AGORA)
        assert g.verificar_integridade(completa=True)["ok"]
        dest = g.restaurar_backup("novo.h5", "1.0.0", tmp_path / "r")
        assert Path(dest).read_bytes() == novo.read_bytes()


def test_coleta_recusa_com_sidecar_ilegivel(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _historico(tmp_path, repo, [300, 1])
    (repo / "modelos" / "m.h5" / "1.1.0.json").write_text("{quebrado")
    antes = sorted(repo.glob("pacotes/*/*"))
    r = cli("limpeza", "--base", str(repo))
    assert r.returncode == 9 and "Nada foi apagado" in r.stderr
    assert sorted(repo.glob("pacotes/*/*")) == antes


def test_fixar_e_desafixar(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _historico(tmp_path, repo, [300, 1])
    assert (
        cli(
            "fixar", "--base", str(repo), "--modelo", "m.h5", "--versao", "1.0.0"
        ).returncode
        == 0
    )
    versoes = cli_json("listar", "--base", str(repo), "--modelo", "m.h5")
    assert [v["fixada"] for v in versoes] == [True, False]
    assert (
        cli(
            "desafixar", "--base", str(repo), "--modelo", "m.h5", "--versao", "1.0.0"
        ).returncode
        == 0
    )
    versoes = cli_json("listar", "--base", str(repo), "--modelo", "m.h5")
    assert [v["fixada"] for v in versoes] == [False, False]
    r = cli("fixar", "--base", str(repo), "--modelo", "m.h5", "--versao", "7.0.0")
    assert r.returncode == 6


def test_limpeza_em_outro_processo_durante_backup(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import RAIZ

    repo = tmp_path / "repo"
    _historico(tmp_path, repo, [300, 1])
    grande = escrever(tmp_path / "grande.h5", aleatorio(120 * MiB, 5))
    codigo = (
        f"import sys; sys.path.insert(0, {str(RAIZ)!r})\n"
        "from tests import ajuda_cifra; ajuda_cifra.aplicar()\n"
        "from backup_versionamento import GerenciadorBackupVersionamento\n"
        f"g = GerenciadorBackupVersionamento({str(repo)!r}, {{}})\n"
        f"print(g.criar_backup({str(grande)!r}, 'melhoria'))\n"
    )
    filho = subprocess.Popen(
        [sys.executable, "-c", codigo], stdout=subprocess.PIPE, text=True
    )
    # Wait until the child is writing chunks, then collect with no grace period.
    limite = time.monotonic() + 30
    while time.monotonic() < limite and len(list(repo.glob("pacotes/*/*"))) < 2:
        time.sleep(0.02)
    with GerenciadorBackupVersionamento(
        repo, {"retencao": {"carencia_coleta_minutos": 0}}
    ) as g:
        r = g.limpeza(agora=AGORA)
        assert r["versoes_removidas"] == ["m.h5 1.0.0"]
    assert filho.communicate(timeout=120)[0].strip() == "1.0.0"
    assert filho.returncode == 0
    with GerenciadorBackupVersionamento(repo, {}) as g:
        assert g.verificar_integridade(completa=True)["ok"]
        dest = g.restaurar_backup("grande.h5", "1.0.0", tmp_path / "r")
        assert Path(dest).read_bytes() == grande.read_bytes()
