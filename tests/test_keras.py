"""Keras: versionar_objeto/carregar_modelo and the training callback, for real.

One module for everything that imports TensorFlow (seconds to import).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import ErroArgumento, ErroTipoMudanca
from backup_versionamento.keras import CallbackBackup

from .modelos_reais import dados, keras_modelo

CFG: dict[str, Any] = {
    "validacao": {"modo": "bloquear", "teste_carregamento": False},
    "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
}


def _treino() -> tuple[np.ndarray, np.ndarray]:
    x, y = dados(5, n=48)
    return x, y.astype(np.float32)


def test_ida_e_volta_keras(tmp_path: Path) -> None:
    x, _ = _treino()
    modelo = keras_modelo((3,))
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        assert g.versionar_objeto(modelo, "rede", metricas={"acertos_13": 0.1}) == (
            "1.0.0"
        )
        assert g.listar_modelos() == ["rede.keras"]
        volta = g.carregar_modelo("rede")
    assert isinstance(volta, keras.Model)
    np.testing.assert_array_equal(
        volta.predict(x, verbose=0), modelo.predict(x, verbose=0)
    )


def test_callback_tres_epocas_todas(tmp_path: Path) -> None:
    x, y = _treino()
    modelo = keras_modelo((3,))
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        cb = CallbackBackup(g, "rede", so_melhores=False)
        hist = modelo.fit(
            x, y, validation_split=0.25, epochs=3, batch_size=12, verbose=0,
            callbacks=[cb],
        )  # fmt: skip
        versoes = g.listar_versoes("rede.keras")
        ultima = g.carregar_modelo("rede", "1.2.0")
    assert [v["versao"] for v in versoes] == ["1.0.0", "1.1.0", "1.2.0"]
    assert [c["versao"] for c in cb.versoes] == ["1.0.0", "1.1.0", "1.2.0"]
    for i, v in enumerate(versoes):
        esperado = {k: float(hist.history[k][i]) for k in hist.history}
        assert set(esperado) >= {"loss", "val_loss"}
        assert v["metricas"] == pytest.approx(esperado)
        assert v["descricao"].startswith(f"época {i + 1}/3, val_loss=")
        assert v["tipo_mudanca"] == "retreino"
    assert not cb.falhas
    np.testing.assert_array_equal(
        ultima.predict(x, verbose=0), modelo.predict(x, verbose=0)
    )


def test_callback_so_melhores_com_metricas_lotofacil(tmp_path: Path) -> None:
    """Only epochs where the monitored value improves; extra (Lotofácil) metrics."""
    x, y = _treino()
    pontos = [0.5, 0.4, 0.6]

    def marcar(epoch: int, logs: dict[str, Any]) -> None:
        logs["pontuacao"] = pontos[epoch]  # an earlier callback sets the monitor

    def lotofacil(epoca: int, logs: Any) -> dict[str, float]:
        from backup_versionamento.metricas import calcular_metricas

        apostas = [list(range(1, 16))] * 2
        sorteios = [list(range(1, 16)), list(range(11, 26))]
        return calcular_metricas(apostas, sorteios)

    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        cb = CallbackBackup(
            g, "rede", monitor="pontuacao", modo="max", metricas_extras=lotofacil
        )
        keras_modelo((3,)).fit(
            x, y, epochs=3, batch_size=12, verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=marcar), cb],
        )  # fmt: skip
        versoes = g.listar_versoes("rede.keras")
    assert [c["epoca"] for c in cb.versoes] == [1, 3]
    assert [v["versao"] for v in versoes] == ["1.0.0", "1.1.0"]
    assert versoes[1]["metricas"]["pontuacao"] == 0.6
    assert versoes[1]["metricas"]["acertos_15"] == 0.5
    assert versoes[1]["metricas"]["taxa_acerto_media"] == pytest.approx(0.5 + 5 / 30)
    assert "época 3/3" in versoes[1]["descricao"]


def test_callback_falha_no_backup_nao_para_o_treino(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    x, y = _treino()
    # A real failure: the disk reserve can never be met.
    cheio = {**CFG, "espaco_disco": {"aviso_mb": 0, "reserva_mb": 10**9}}
    with GerenciadorBackupVersionamento(tmp_path / "repo", cheio) as g:
        cb = CallbackBackup(g, "rede", so_melhores=False)
        hist = keras_modelo((3,)).fit(
            x, y, epochs=3, batch_size=12, verbose=0, callbacks=[cb]
        )
    assert len(hist.history["loss"]) == 3  # the training went to the end
    assert [f["epoca"] for f in cb.falhas] == [1, 2, 3] and not cb.versoes
    assert "3 backup(s) falharam (épocas 1, 2, 3)" in capsys.readouterr().err
    assert "o treino continua" in caplog.text


def test_callback_argumentos(tmp_path: Path) -> None:
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g:
        with pytest.raises(ErroArgumento, match="modo"):
            CallbackBackup(g, "rede", modo="maior")
        with pytest.raises(ErroTipoMudanca, match="tipo de mudança"):
            CallbackBackup(g, "rede", tipo_mudanca="gigante")
