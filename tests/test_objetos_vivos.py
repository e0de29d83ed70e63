"""versionar_objeto / carregar_modelo: live models of real libraries, round trip.

Keras lives in tests/test_keras.py (TensorFlow's import is slow: one module pays).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backup_versionamento import GerenciadorBackupVersionamento
from backup_versionamento.erros import (
    ErroArgumento,
    ErroTipoMudanca,
    ErroValidacao,
)

from .modelos_reais import dados

# The isolated load test is covered by the validation tests; here it would only
# repeat each library's import in a child.
CFG: dict[str, Any] = {
    "validacao": {"modo": "bloquear", "teste_carregamento": False},
    "espaco_disco": {"aviso_mb": 0, "reserva_mb": 0},
}


@pytest.fixture
def g(tmp_path: Path) -> Any:
    with GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as ger:
        yield ger


def test_scikit_learn(g: GerenciadorBackupVersionamento) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = dados()
    modelo = make_pipeline(
        StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0)
    ).fit(x, y)
    v = g.versionar_objeto(modelo, "floresta", metricas={"acertos_13": 0.2})
    assert v == "1.0.0"
    assert g.listar_modelos() == ["floresta.joblib"]
    assert g.listar_versoes("floresta.joblib")[0]["metricas"] == {"acertos_13": 0.2}
    volta = g.carregar_modelo("floresta")  # the extension is found
    assert type(volta) is type(modelo)
    np.testing.assert_array_equal(volta.predict_proba(x), modelo.predict_proba(x))
    # The same model again: no new version (content identical).
    assert g.versionar_objeto(modelo, "floresta") == "1.0.0"


def test_xgboost(g: GerenciadorBackupVersionamento) -> None:
    import xgboost

    x, y = dados(1)
    clf = xgboost.XGBClassifier(n_estimators=4, max_depth=2).fit(x, y)
    assert g.versionar_objeto(clf, "xgb", "minor") == "1.0.0"
    volta = g.carregar_modelo("xgb.ubj")
    assert isinstance(volta, xgboost.XGBClassifier)
    np.testing.assert_array_equal(volta.predict_proba(x), clf.predict_proba(x))
    reg = xgboost.XGBRegressor(n_estimators=3).fit(x, y.astype(np.float32))
    g.versionar_objeto(reg, "xgb", "arquitetura")
    assert isinstance(g.carregar_modelo("xgb", "2.0.0"), xgboost.XGBRegressor)
    booster = g.carregar_modelo("xgb", "1.0.0")
    assert isinstance(booster, xgboost.XGBClassifier)


def test_lightgbm(g: GerenciadorBackupVersionamento) -> None:
    import lightgbm

    x, y = dados(2)
    clf = lightgbm.LGBMClassifier(n_estimators=4, num_leaves=4, verbose=-1)
    clf.fit(x, y)
    g.versionar_objeto(clf, "lgbm", "retreino", descricao="primeiro")
    volta = g.carregar_modelo("lgbm.txt")
    assert isinstance(volta, lightgbm.Booster)
    proba = np.asarray(clf.predict_proba(x))
    np.testing.assert_allclose(volta.predict(x), proba[:, 1])


def test_pytorch(g: GerenciadorBackupVersionamento) -> None:
    import torch

    torch.manual_seed(0)
    rede: Any = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)
    )
    x = torch.from_numpy(dados(3)[0])
    g.versionar_objeto(rede, "rede", "auto")
    estado = g.carregar_modelo("rede")  # the state_dict
    assert set(estado) == set(rede.state_dict())
    outra: Any = torch.nn.Sequential(
        torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)
    )
    volta: Any = g.carregar_modelo("rede.pt", modulo_torch=outra)
    assert volta is outra
    with torch.no_grad():
        assert torch.equal(volta(x), rede(x))
    # weights changed -> auto says minor; @alias works here too
    with torch.no_grad():
        rede[0].weight.add_(1.0)
    assert g.versionar_objeto(rede, "rede", "auto") == "1.1.0"
    g.definir_alias("rede.pt", "producao", "1.0.0")
    antiga = g.carregar_modelo("rede", "@producao")
    assert torch.equal(antiga["0.weight"], outra[0].weight)


def test_pickle_malicioso_nao_e_carregado(tmp_path: Path) -> None:
    """A file the scanner flags is refused with the reason, never unpickled."""
    marca = tmp_path / "executado"

    class Ruim:
        def __reduce__(self) -> Any:
            return (os.system, (f"touch {marca}",))

    arq = tmp_path / "src" / "ruim.joblib"
    arq.parent.mkdir()
    arq.write_bytes(pickle.dumps(Ruim()))
    # Stored anyway ("avisar"), as an old repository might hold it.
    avisar = {**CFG, "validacao": {"modo": "avisar", "teste_carregamento": False}}
    with GerenciadorBackupVersionamento(tmp_path / "repo", avisar) as g:
        g.criar_backup(arq)
    with (
        GerenciadorBackupVersionamento(tmp_path / "repo", CFG) as g,
        pytest.raises(ErroValidacao, match="system") as erro,
    ):
        g.carregar_modelo("ruim.joblib")
    assert "recusado" in str(erro.value)
    assert not marca.exists()


def test_pedidos_invalidos(g: GerenciadorBackupVersionamento) -> None:
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ErroArgumento, match="não é um modelo suportado"):
        g.versionar_objeto({"pesos": [1, 2]}, "dicionario")
    modelo = LogisticRegression().fit(*dados())
    with pytest.raises(ErroTipoMudanca):
        g.versionar_objeto(modelo, "lr", "enorme")
    with pytest.raises(ErroArgumento, match="nome"):
        g.versionar_objeto(modelo, 3)  # type: ignore[arg-type]
    assert g.listar_modelos() == []
