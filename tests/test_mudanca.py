"""`tipo_mudanca="auto"`: the kind of change inferred from real model files, and the
pure comparison functions behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backup_versionamento.politica.mudanca import (
    comparar_arquiteturas,
    inferir_tipo_mudanca,
)
from backup_versionamento.validacao import inspecionar_modelo

from . import modelos_reais as mr


def _insp(caminho: Path) -> dict[str, Any]:
    descricao = inspecionar_modelo(caminho)
    assert descricao is not None, caminho
    return descricao


# --- Keras: architecture, weights, re-save -----------------------------------------


@pytest.fixture(scope="module")
def keras(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    d = tmp_path_factory.mktemp("keras")
    base = mr.keras_modelo()
    base.save(d / "v1.keras")
    base.save(d / "v1.h5")
    base.save(d / "v1_de_novo.keras")  # same model, same weights, saved again
    mr.treinar_um_passo(base)
    base.save(d / "v2_treinado.keras")
    mr.keras_modelo(unidades=(3, 2)).save(d / "v3_camada_extra.keras")
    # Same architecture built again in this process: Keras names its layers
    # dense_4, dense_5... and the seed gives other initial weights.
    mr.keras_modelo(semente=7).save(d / "recriado.keras")
    return {p.stem: _insp(p) for p in d.iterdir()} | {"v1_h5": _insp(d / "v1.h5")}


def test_keras_camada_adicionada_e_major(keras: dict[str, dict[str, Any]]) -> None:
    tipo, motivo = inferir_tipo_mudanca(keras["v1"], keras["v3_camada_extra"])
    assert tipo == "major"
    assert motivo.startswith("arquitetura mudou: 1 camada(s) adicionada(s) (Dense)")
    comparacao = comparar_arquiteturas(keras["v1"], keras["v3_camada_extra"])
    assert comparacao["igual"] is False
    assert [c["classe"] for c in comparacao["camadas_adicionadas"]] == ["Dense"]
    assert comparacao["camadas_adicionadas"][0]["formas"] == [[3, 2], [2]]
    assert comparacao["camadas_removidas"] == []
    # The output layer kept its config; only its input size changed.
    [alterada] = comparacao["camadas_alteradas"]
    assert alterada["mudancas"] == {
        "formas": {"antes": [[3, 1], [1]], "depois": [[2, 1], [1]]}
    }


def test_keras_retreino_e_minor(keras: dict[str, dict[str, Any]]) -> None:
    assert (
        keras["v1"]["digest_arquitetura"] == keras["v2_treinado"]["digest_arquitetura"]
    )
    assert keras["v1"]["digest_pesos"] != keras["v2_treinado"]["digest_pesos"]
    tipo, motivo = inferir_tipo_mudanca(keras["v1"], keras["v2_treinado"])
    assert (tipo, motivo) == (
        "minor",
        "mesma arquitetura, pesos diferentes (retreino ou ajuste fino)",
    )


def test_keras_regravado_e_patch(keras: dict[str, dict[str, Any]]) -> None:
    tipo, motivo = inferir_tipo_mudanca(keras["v1"], keras["v1_de_novo"])
    assert tipo == "patch"
    assert motivo.startswith("mesma arquitetura e mesmos pesos; só metadados")


def test_keras_h5_para_keras_e_patch_de_formato(
    keras: dict[str, dict[str, Any]],
) -> None:
    assert inferir_tipo_mudanca(keras["v1_h5"], keras["v1"]) == (
        "patch",
        "mesma arquitetura e mesmos pesos; só o formato mudou (keras_h5 -> keras)",
    )


def test_keras_nomes_gerados_nao_contam(keras: dict[str, dict[str, Any]]) -> None:
    nomes_v1 = [c["nome"] for c in keras["v1"]["arquitetura"]["camadas"]]
    nomes_novos = [c["nome"] for c in keras["recriado"]["arquitetura"]["camadas"]]
    assert nomes_v1 != nomes_novos
    assert inferir_tipo_mudanca(keras["v1"], keras["recriado"])[0] == "minor"


# --- scikit-learn ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sklearn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    d = tmp_path_factory.mktemp("sklearn")
    rf = mr.floresta(5)
    arquivos = [
        mr.salvar_pickle(rf, d / "rf5.pkl"),
        mr.salvar_joblib(rf, d / "rf5.joblib", 3),
        mr.salvar_pickle(mr.floresta(10), d / "rf10.pkl"),
        mr.salvar_pickle(mr.floresta(5, semente_dados=1), d / "rf5_outros_dados.pkl"),
        mr.salvar_pickle(mr.pipeline_sklearn(0), d / "pipe0.pkl"),
        mr.salvar_pickle(mr.pipeline_sklearn(1), d / "pipe1.pkl"),
    ]
    return {p.name: _insp(p) for p in arquivos}


def test_sklearn_n_estimators_e_major(sklearn: dict[str, dict[str, Any]]) -> None:
    tipo, motivo = inferir_tipo_mudanca(sklearn["rf5.pkl"], sklearn["rf10.pkl"])
    assert tipo == "major"
    assert "n_estimators 5 -> 10" in motivo
    comparacao = comparar_arquiteturas(sklearn["rf5.pkl"], sklearn["rf10.pkl"])
    assert comparacao["parametros_alterados"] == {
        "n_estimators": {"antes": 5, "depois": 10}
    }


def test_sklearn_outros_dados_e_minor(sklearn: dict[str, dict[str, Any]]) -> None:
    assert (
        inferir_tipo_mudanca(sklearn["rf5.pkl"], sklearn["rf5_outros_dados.pkl"])[0]
        == "minor"
    )
    # Nested estimators (Pipeline steps) carry the learned state too.
    assert (
        inferir_tipo_mudanca(sklearn["pipe0.pkl"], sklearn["pipe1.pkl"])[0] == "minor"
    )
    passos = [c["nome"] for c in sklearn["pipe0.pkl"]["arquitetura"]["camadas"]]
    assert passos == ["escala", "logistica"]


def test_sklearn_pickle_para_joblib_e_patch(sklearn: dict[str, dict[str, Any]]) -> None:
    assert inferir_tipo_mudanca(sklearn["rf5.pkl"], sklearn["rf5.joblib"]) == (
        "patch",
        "mesma arquitetura e mesmos pesos; só o formato mudou (pickle -> joblib)",
    )


# --- the other libraries, one case each ------------------------------------------


def test_xgboost_e_lightgbm(tmp_path: Path) -> None:
    x3 = mr.xgboost_modelo(3)
    x3.save_model(tmp_path / "x3.json")
    x3.save_model(tmp_path / "x3.ubj")
    mr.xgboost_modelo(4).save_model(tmp_path / "x4.json")
    mr.xgboost_modelo(3, semente_dados=1).save_model(tmp_path / "x3b.json")
    x = {p.name: _insp(p) for p in tmp_path.glob("x*")}
    assert inferir_tipo_mudanca(x["x3.json"], x["x4.json"])[0] == "major"
    assert inferir_tipo_mudanca(x["x3.json"], x["x3b.json"])[0] == "minor"
    assert inferir_tipo_mudanca(x["x3.json"], x["x3.ubj"])[0] == "patch"
    mr.lightgbm_modelo(3).booster_.save_model(str(tmp_path / "l3.txt"))
    mr.lightgbm_modelo(3, semente_dados=1).booster_.save_model(
        str(tmp_path / "l3b.txt")
    )
    assert (
        inferir_tipo_mudanca(_insp(tmp_path / "l3.txt"), _insp(tmp_path / "l3b.txt"))[0]
        == "minor"
    )


def test_torch_e_onnx(tmp_path: Path) -> None:
    v1 = _insp(mr.salvar_torch(mr.torch_rede(3).state_dict(), tmp_path / "v1.pt"))
    v2 = _insp(
        mr.salvar_torch(mr.torch_rede(3, semente=1).state_dict(), tmp_path / "v2.pt")
    )
    v3 = _insp(mr.salvar_torch(mr.torch_rede(5).state_dict(), tmp_path / "v3.pt"))
    assert inferir_tipo_mudanca(v1, v2)[0] == "minor"
    tipo, motivo = inferir_tipo_mudanca(v1, v3)
    assert tipo == "major" and "camada(s) alterada(s)" in motivo
    o1 = _insp(mr.onnx_modelo(tmp_path / "a.onnx", semente=0))
    o2 = _insp(mr.onnx_modelo(tmp_path / "b.onnx", semente=1))
    assert inferir_tipo_mudanca(o1, o2)[0] == "minor"


# --- pure functions --------------------------------------------------------------


def _arq(
    *camadas: tuple[str, dict[str, Any], list[list[int]]], **parametros: Any
) -> dict[str, Any]:
    arquitetura = {
        "tipo": "keras",
        "classe": "Sequential",
        "parametros": parametros,
        "camadas": [
            {"nome": f"c{i}", "classe": c, "config": cfg, "formas": f}
            for i, (c, cfg, f) in enumerate(camadas)
        ],
    }
    return {
        "formato": "keras",
        "biblioteca": "tensorflow",
        "arquitetura": arquitetura,
        "digest_arquitetura": repr(arquitetura),
        "digest_pesos": "p",
    }


def test_primeira_versao_e_modelo_nao_inspecionado() -> None:
    atual = _arq(("Dense", {"units": 2}, [[4, 2]]))
    assert inferir_tipo_mudanca(None, atual) == ("major", "primeira versão")
    tipo, motivo = inferir_tipo_mudanca(atual, None)
    assert tipo == "minor" and "não foi possível inspecionar" in motivo


def test_comparar_lista_adicionadas_removidas_alteradas() -> None:
    antes = _arq(
        ("Dense", {"units": 8}, [[4, 8]]),
        ("Dropout", {"rate": 0.1}, []),
        ("Dense", {"units": 1}, [[8, 1]]),
        entrada=[4],
        otimo=True,
    )
    depois = _arq(
        ("Dense", {"units": 16}, [[4, 16]]),
        ("Dense", {"units": 1}, [[16, 1]]),
        ("Activation", {"f": "sigmoid"}, []),
        entrada=[4],
        novo=1,
    )
    r = comparar_arquiteturas(antes, depois)
    assert [c["classe"] for c in r["camadas_removidas"]] == ["Dropout"]
    assert [c["classe"] for c in r["camadas_adicionadas"]] == ["Activation"]
    mudancas = {c["posicao_atual"]: c["mudancas"] for c in r["camadas_alteradas"]}
    assert mudancas[0]["units"] == {"antes": 8, "depois": 16}
    assert set(mudancas[1]) == {"formas"}
    assert r["parametros_adicionados"] == {"novo": 1}
    assert r["parametros_removidos"] == {"otimo": True}
    assert r["parametros_alterados"] == {}
    assert "1 camada(s) removida(s) (Dropout)" in r["resumo"]
    assert comparar_arquiteturas(antes, antes)["igual"] is True
    assert (
        comparar_arquiteturas(antes, antes)["resumo"]
        == "nenhuma diferença de arquitetura"
    )


def test_biblioteca_ou_formato_incomparavel() -> None:
    keras = _arq(("Dense", {}, []))
    torch = dict(keras, biblioteca="torch")
    assert inferir_tipo_mudanca(keras, torch) == (
        "major",
        "a biblioteca do modelo mudou (tensorflow -> torch)",
    )
    tflite = dict(
        keras,
        formato="tflite",
        digest_arquitetura="x",
        arquitetura={"tipo": "tflite", "camadas": []},
    )
    tipo, motivo = inferir_tipo_mudanca(keras, tflite)
    assert tipo == "minor" and "não são comparáveis" in motivo
    sem_pesos = dict(keras, digest_pesos=None)
    assert inferir_tipo_mudanca(keras, sem_pesos)[0] == "minor"
