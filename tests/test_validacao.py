"""Validation of real model files: format detection, structure, sandboxed loading,
the pickle safety scan and the sandbox's limits."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backup_versionamento.erros import ErroArquivoNaoEncontrado, ErroValidacao
from backup_versionamento.validacao import (
    analisar_modelo,
    detectar_formato,
    erro_de_validacao,
    inspecionar_modelo,
    opcoes_da_config,
    sandbox,
    validar_modelo,
    varrer_arquivo_pickle,
)
from backup_versionamento.validacao.pickle_seguro import (
    PERIGOSO,
    PERMITIDO,
    classificar_global,
)
from backup_versionamento.validacao.validador import _carga_do_filho

from . import modelos_reais as mr

# Every file kind the validator knows, written once per module by the real library.
FORMATOS_ESPERADOS = {
    "keras_h5": "keras_h5",
    "keras_v3": "keras",
    "savedmodel": "tf_savedmodel",
    "graphdef": "tf_pb",
    "tflite": "tflite",
    "sklearn_pkl": "pickle",
    "sklearn_joblib": "joblib",
    "sklearn_joblib_z": "joblib",
    "pipeline_pkl_p2": "pickle",
    "xgb_json": "xgboost_json",
    "xgb_ubj": "xgboost_ubj",
    "xgb_pkl": "pickle",
    "lgb_txt": "lightgbm_txt",
    "lgb_pkl": "pickle",
    "torch_sd": "torch",
    "torch_modulo": "torch",
    "torch_legado": "torch",
    "torchscript": "torch",
    "onnx": "onnx",
}


@pytest.fixture(scope="module")
def arquivos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("modelos")
    keras = mr.keras_modelo()
    rf = mr.floresta()
    rede = mr.torch_rede()
    a = {
        "keras_h5": d / "modelo.h5",
        "keras_v3": d / "modelo.keras",
        "savedmodel": mr.savedmodel(keras, d / "savedmodel"),
        "graphdef": mr.graphdef(d / "grafo.pb"),
        "tflite": mr.tflite(keras, d / "modelo.tflite"),
        "sklearn_pkl": mr.salvar_pickle(rf, d / "floresta.pkl"),
        "sklearn_joblib": mr.salvar_joblib(rf, d / "floresta.joblib"),
        "sklearn_joblib_z": mr.salvar_joblib(rf, d / "floresta_z.joblib", 3),
        "pipeline_pkl_p2": mr.salvar_pickle(mr.pipeline_sklearn(), d / "pipe.pkl", 2),
        "xgb_pkl": mr.salvar_pickle(mr.xgboost_modelo(), d / "xgb.pkl"),
        "lgb_pkl": mr.salvar_pickle(mr.lightgbm_modelo(), d / "lgb.pkl"),
        "torch_sd": mr.salvar_torch(rede.state_dict(), d / "rede.pt"),
        "torch_modulo": mr.salvar_torch(rede, d / "rede_completa.pth"),
        "torch_legado": mr.salvar_torch(
            rede.state_dict(), d / "legado.pt", legado=True
        ),
        "torchscript": mr.torchscript(rede, d / "script.pt"),
        "onnx": mr.onnx_modelo(d / "linear.onnx"),
    }
    keras.save(a["keras_h5"])
    keras.save(a["keras_v3"])
    xgb = mr.xgboost_modelo()
    a["xgb_json"] = d / "xgb.json"
    a["xgb_ubj"] = d / "xgb.ubj"
    xgb.save_model(a["xgb_json"])
    xgb.save_model(a["xgb_ubj"])
    a["lgb_txt"] = d / "lgb.txt"
    mr.lightgbm_modelo().booster_.save_model(str(a["lgb_txt"]))
    return a


# --- detection --------------------------------------------------------------------


def test_deteccao_de_cada_formato(arquivos: dict[str, Path]) -> None:
    for chave, esperado in FORMATOS_ESPERADOS.items():
        assert detectar_formato(arquivos[chave]).formato == esperado, chave


def test_deteccao_conteudo_vence_extensao(
    arquivos: dict[str, Path], tmp_path: Path
) -> None:
    disfarcado = mr.copiar(arquivos["keras_v3"], tmp_path / "na_verdade_zip.h5")
    info = detectar_formato(disfarcado)
    assert info.formato == "keras"
    assert any("zip" in a for a in info.avisos)
    torch_pkl = mr.copiar(arquivos["torch_sd"], tmp_path / "pesos.pkl")
    assert detectar_formato(torch_pkl).formato == "torch"
    json_comum = tmp_path / "config.json"
    json_comum.write_text('{"a": 1}')
    assert detectar_formato(json_comum).formato == "desconhecido"


def test_extensao_desconhecida_valida_com_aviso(tmp_path: Path) -> None:
    arquivo = tmp_path / "notas.bin"
    arquivo.write_bytes(b"qualquer coisa")
    rel = validar_modelo(arquivo)
    assert rel["valido"] is True
    assert rel["formato"] == "desconhecido"
    assert rel["avisos"] == [
        "notas.bin: formato não reconhecido: só o hash é verificado"
    ]
    assert rel["carregamento"]["executado"] is False
    json.dumps(rel)


def test_arquivo_inexistente(tmp_path: Path) -> None:
    with pytest.raises(ErroArquivoNaoEncontrado):
        validar_modelo(tmp_path / "nao_existe.h5")


# --- good files pass: structure and a real load in the sandbox --------------------


@pytest.mark.parametrize("chave", sorted(FORMATOS_ESPERADOS))
def test_arquivo_bom_passa(arquivos: dict[str, Path], chave: str) -> None:
    rel = validar_modelo(arquivos[chave], tempo_limite=120)
    json.dumps(rel)  # the report goes into the sidecar as is
    assert rel["problemas"] == [], rel
    assert rel["valido"] is True
    assert rel["estrutural"]["ok"] is True
    carga = rel["carregamento"]
    assert carga["executado"] is True and carga["ok"] is True, carga
    assert carga["versao_biblioteca"], carga
    assert rel["duracao_s"] > 0


def test_biblioteca_identificada_pelos_globais(arquivos: dict[str, Path]) -> None:
    assert (
        validar_modelo(arquivos["xgb_pkl"], teste_carregamento=False)["biblioteca"]
        == "xgboost"
    )
    assert (
        validar_modelo(arquivos["lgb_pkl"], teste_carregamento=False)["biblioteca"]
        == "lightgbm"
    )
    rel = validar_modelo(arquivos["sklearn_joblib_z"], teste_carregamento=False)
    assert rel["biblioteca"] == "scikit-learn"
    assert rel["estrutural"]["detalhes"]["compressao"] == "zlib"
    assert rel["estrutural"]["detalhes"]["arrays_joblib"] > 0
    assert rel["carregamento"] == {
        "executado": False,
        "ok": None,
        "motivo": "teste de carregamento desativado",
        "versao_biblioteca": None,
        "duracao_s": None,
        "detalhes": {},
    }


def test_modulo_torch_completo_avisa(arquivos: dict[str, Path]) -> None:
    rel = validar_modelo(arquivos["torch_modulo"])
    assert rel["valido"] is True
    assert any("módulo completo" in a for a in rel["avisos"])
    assert rel["carregamento"]["detalhes"]["classes_nn_permitidas"]


# --- damaged files fail with a clear reason, and are never loaded ------------------

Dano = Callable[[Path], Any]


def _dano_savedmodel_pb(p: Path) -> None:
    mr.truncar(p / "saved_model.pb", 0.5)


def _dano_savedmodel_shard(p: Path) -> None:
    next((p / "variables").glob("variables.data-*")).unlink()


def _dano_savedmodel_indice(p: Path) -> None:
    mr.sobrescrever(p / "variables" / "variables.index", -8, 8)


def _dano_torch_tensor(p: Path) -> None:
    """Flip bytes inside the first tensor's data (not in the zip directory)."""
    with zipfile.ZipFile(p) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename)
    with open(p, "rb") as f:
        f.seek(info.header_offset)
        cabecalho = struct.unpack("<4s5H3L2H", f.read(30))
    inicio = info.header_offset + 30 + cabecalho[-2] + cabecalho[-1]
    mr.sobrescrever(p, inicio, 4)


DANOS: dict[str, tuple[str, Dano, str]] = {
    "h5_truncado": ("keras_h5", mr.truncar, "ilegível"),
    "h5_cabecalho": ("keras_h5", lambda p: mr.sobrescrever(p, 0, 8), "HDF5 ausente"),
    "keras_truncado": ("keras_v3", mr.truncar, "zip"),
    "keras_crc": ("keras_v3", lambda p: mr.sobrescrever(p, 600, 32), "corrompido"),
    "savedmodel_pb": ("savedmodel", _dano_savedmodel_pb, "saved_model.pb ilegível"),
    "savedmodel_shard": ("savedmodel", _dano_savedmodel_shard, "nenhum arquivo"),
    "savedmodel_indice": ("savedmodel", _dano_savedmodel_indice, "rodapé"),
    "graphdef_truncado": ("graphdef", lambda p: mr.truncar(p, 0.6), "protobuf"),
    "tflite_truncado": ("tflite", lambda p: mr.truncar(p, 0.9), "truncado"),
    "tflite_assinatura": ("tflite", lambda p: mr.sobrescrever(p, 4, 4), "TFL3"),
    "pickle_truncado": ("sklearn_pkl", mr.truncar, "truncado"),
    "pickle_opcode": ("sklearn_pkl", lambda p: mr.sobrescrever(p, 2, 1), "malformado"),
    "joblib_truncado": ("sklearn_joblib", lambda p: mr.truncar(p, 0.9), "truncado"),
    "joblib_z_truncado": ("sklearn_joblib_z", mr.truncar, "truncado"),
    "xgb_json_truncado": ("xgb_json", mr.truncar, "JSON inválido"),
    "xgb_ubj_truncado": ("xgb_ubj", mr.truncar, "UBJSON"),
    "lgb_truncado": ("lgb_txt", mr.truncar, "arquivo truncado"),
    "lgb_arvores": ("lgb_txt", lambda p: mr.truncar(p, 0.1), "end of trees"),
    "torch_truncado": ("torch_sd", mr.truncar, "zip"),
    "torch_crc": ("torch_sd", lambda p: _dano_torch_tensor(p), "CRC"),
    "torch_legado_truncado": ("torch_legado", lambda p: mr.truncar(p, 0.3), "pickle"),
    "onnx_truncado": ("onnx", lambda p: mr.truncar(p, 0.7), "ONNX"),
    "vazio": ("xgb_ubj", lambda p: mr.truncar(p, 0), "arquivo vazio"),
}


@pytest.mark.parametrize("caso", sorted(DANOS))
def test_arquivo_danificado_falha(
    arquivos: dict[str, Path], tmp_path: Path, caso: str
) -> None:
    chave, dano, trecho = DANOS[caso]
    original = arquivos[chave]
    copia = mr.copiar(original, tmp_path / original.name)
    dano(copia)
    rel = validar_modelo(copia)
    json.dumps(rel)
    assert rel["valido"] is False
    assert rel["estrutural"]["ok"] is False
    assert rel["problemas"], rel
    assert all(p.startswith(f"{copia.name}: ") for p in rel["problemas"])
    assert any(trecho in p for p in rel["problemas"]), rel["problemas"]
    assert rel["carregamento"]["executado"] is False
    assert "verificação estrutural falhou" in rel["carregamento"]["motivo"]


# --- malicious files: reported, and their payload never runs ----------------------


def _assert_bloqueado(rel: dict[str, Any], marcador: Path, trecho: str) -> None:
    assert rel["valido"] is False
    assert any(trecho in p for p in rel["problemas"]), rel["problemas"]
    assert rel["carregamento"]["executado"] is False
    assert "varredura de segurança" in rel["carregamento"]["motivo"]
    assert not marcador.exists()


@pytest.mark.parametrize("protocolo", [0, 2, 4, 5])
def test_pickle_malicioso_bloqueado(tmp_path: Path, protocolo: int) -> None:
    marcador = tmp_path / "MARCADOR"
    arquivo = mr.pickle_malicioso(tmp_path / "modelo.pkl", marcador, protocolo)
    rel = validar_modelo(arquivo)
    _assert_bloqueado(rel, marcador, "posix.system")
    assert "NÃO foi carregado" in rel["problemas"][0]
    assert inspecionar_modelo(arquivo) is None
    assert not marcador.exists()


@pytest.mark.parametrize(
    ("compress", "em_array"),
    [(0, False), (3, False), (("gzip", 3), False), (0, True), (("xz", 1), True)],
)
def test_joblib_malicioso_bloqueado(
    tmp_path: Path, compress: Any, em_array: bool
) -> None:
    marcador = tmp_path / "MARCADOR"
    arquivo = mr.joblib_malicioso(
        tmp_path / "modelo.joblib", marcador, compress, em_array
    )
    rel = validar_modelo(arquivo)
    _assert_bloqueado(rel, marcador, "builtins.exec")
    assert rel["estrutural"]["detalhes"]["arrays_joblib"] >= 1


def test_torch_com_data_pkl_malicioso(tmp_path: Path) -> None:
    marcador = tmp_path / "MARCADOR"
    arquivo = mr.torch_malicioso(tmp_path / "rede.pt", marcador)
    rel = validar_modelo(arquivo)
    _assert_bloqueado(rel, marcador, "posix.system")


def test_truque_de_pilha_nao_engana_a_varredura(tmp_path: Path) -> None:
    marcador = tmp_path / "MARCADOR"
    arquivo = mr.pickle_truque_pilha(tmp_path / "truque.pkl", marcador)
    varredura = varrer_arquivo_pickle(arquivo)
    assert varredura.perigosos == ["posix.system"]
    assert "numpy.dtype" not in varredura.globais
    _assert_bloqueado(validar_modelo(arquivo), marcador, "posix.system")


def test_joblib_que_engana_pickle_load(tmp_path: Path) -> None:
    import joblib

    marcador = tmp_path / "MARCADOR"
    arquivo = mr.joblib_diferencial(tmp_path / "diferencial.joblib", marcador)
    assert len(joblib.load(arquivo)) > 0  # to joblib it is only an array
    rel = validar_modelo(arquivo)
    _assert_bloqueado(rel, marcador, "esconde o global perigoso posix.system")


def test_torch_legado_com_extensao_pkl(
    arquivos: dict[str, Path], tmp_path: Path
) -> None:
    copia = mr.copiar(arquivos["torch_legado"], tmp_path / "pesos.pkl")
    rel = validar_modelo(copia)
    assert rel["formato"] == "torch" and rel["valido"] is True
    assert any("checkpoint PyTorch" in a for a in rel["avisos"])


def test_global_desconhecido_bloqueado_e_liberavel(tmp_path: Path) -> None:
    from collections import UserDict

    arquivo = mr.salvar_pickle(UserDict(a=1), tmp_path / "obj.pkl")
    rel = validar_modelo(arquivo)
    assert rel["valido"] is False
    assert any(
        "fora da lista permitida: collections.UserDict" in p for p in rel["problemas"]
    )
    liberado = validar_modelo(arquivo, globais_permitidos=["collections.UserDict"])
    assert liberado["valido"] is True
    assert liberado["carregamento"]["ok"] is True
    # A user allow-list never unlocks a dangerous global.
    assert classificar_global("os", "system", extras=["os.*"]) == PERIGOSO
    assert (
        classificar_global("sklearn.tree._classes", "DecisionTreeClassifier")
        == PERMITIDO
    )
    assert classificar_global("sklearn.datasets", "fetch_openml") != PERMITIDO
    assert classificar_global("xgboost.tracker", "RabitTracker") != PERMITIDO
    assert (
        classificar_global("pandas.io.parsers.readers", "TextFileReader") != PERMITIDO
    )


def test_filho_recusa_global_mesmo_sem_varredura(tmp_path: Path) -> None:
    """Second layer: the child's own unpickler applies the allow-list too."""
    marcador = tmp_path / "MARCADOR"
    arquivo = mr.pickle_malicioso(tmp_path / "modelo.pkl", marcador)
    res = sandbox.executar_isolado(
        sandbox.SCRIPT_FILHO,
        {"acao": "carregar", "formato": "pickle", "caminho": str(arquivo)},
        tempo_limite=60,
        memoria_limite_mb=2048,
    )
    assert res.dados is not None
    assert res.dados["ok"] is False
    assert "global recusado" in res.dados["motivo"]
    assert not marcador.exists()


def test_keras_com_lambda_recusado(tmp_path: Path) -> None:
    arquivo = mr.keras_com_lambda(tmp_path / "lambda.keras")
    rel = validar_modelo(arquivo)
    assert rel["valido"] is False
    assert any("Lambda" in p and "bytecode" in p for p in rel["problemas"])
    assert rel["carregamento"]["executado"] is False


# --- sandbox ----------------------------------------------------------------------

_SCRIPT_PENDURADO = """
import json, subprocess, sys, time
entrada = json.loads(sys.stdin.read())
neto = subprocess.Popen(["sleep", "300"])
with open(entrada["pid_arquivo"], "w") as f:
    f.write(str(neto.pid))
time.sleep(300)
"""


def _vivo(pid: int) -> bool:
    try:
        estado = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in estado


def test_tempo_limite_mata_o_grupo_inteiro(tmp_path: Path) -> None:
    script = tmp_path / "pendurado.py"
    script.write_text(_SCRIPT_PENDURADO)
    pid_arquivo = tmp_path / "neto.pid"
    inicio = time.monotonic()
    res = sandbox.executar_isolado(
        script, {"pid_arquivo": str(pid_arquivo)}, tempo_limite=2, memoria_limite_mb=512
    )
    assert time.monotonic() - inicio < 10
    assert res.tempo_esgotado is True
    assert res.dados is None
    assert res.motivo and "tempo limite de 2 s excedido" in res.motivo
    neto = int(pid_arquivo.read_text())
    limite = time.monotonic() + 5
    while _vivo(neto) and time.monotonic() < limite:
        time.sleep(0.05)
    assert not _vivo(neto), "o processo neto sobreviveu ao tempo limite"


def test_tempo_limite_no_teste_de_carregamento(arquivos: dict[str, Path]) -> None:
    # TensorFlow alone takes longer than this to import: the load must be cut.
    rel = validar_modelo(arquivos["keras_v3"], tempo_limite=0.5)
    assert rel["valido"] is False
    assert rel["carregamento"]["ok"] is False
    assert rel["carregamento"]["tempo_esgotado"] is True
    assert any("tempo limite de 0.5 s excedido" in p for p in rel["problemas"])


def test_limite_de_memoria(tmp_path: Path) -> None:
    script = tmp_path / "guloso.py"
    script.write_text(
        "import json, sys\n"
        "sys.stdin.read()\n"
        "try:\n"
        "    b = bytearray(1024 * 1024 * 1024)\n"
        "    r = {'alocou': True}\n"
        "except MemoryError:\n"
        "    r = {'alocou': False}\n"
        f"print({sandbox.MARCA!r} + json.dumps(r))\n"
    )
    res = sandbox.executar_isolado(script, {}, tempo_limite=30, memoria_limite_mb=256)
    assert res.dados == {"alocou": False}


def test_ambiente_minimo_e_pasta_temporaria(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "segredo")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    script = tmp_path / "ambiente.py"
    script.write_text(
        "import json, os, sys\n"
        "sys.stdin.read()\n"
        "r = {'env': dict(os.environ), 'cwd': os.getcwd(), 'path': sys.path,\n"
        "     'isolado': sys.flags.isolated}\n"
        f"print({sandbox.MARCA!r} + json.dumps(r))\n"
    )
    res = sandbox.executar_isolado(script, {}, tempo_limite=30, memoria_limite_mb=512)
    assert res.dados is not None
    env = res.dados["env"]
    assert "AWS_SECRET_ACCESS_KEY" not in env and "PYTHONPATH" not in env
    assert res.dados["isolado"] == 1
    assert str(tmp_path) not in res.dados["path"]
    assert res.dados["cwd"].startswith(env["TMPDIR"])
    assert not Path(res.dados["cwd"]).exists()  # removed after the run


def test_biblioteca_ausente_relatada(arquivos: dict[str, Path]) -> None:
    """A library blocked from import in the real child is reported, not a failure."""
    filho = Path(sandbox.SCRIPT_FILHO)
    codigo = (
        "import importlib.util, json, sys\n"
        "sys.modules['torch'] = None\n"
        f"spec = importlib.util.spec_from_file_location('f', {str(filho)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        f"print(json.dumps(m._executar({{'formato': 'torch', "
        f"'caminho': {str(arquivos['torch_sd'])!r}}})))\n"
    )
    saida = subprocess.run(
        [sys.executable, "-I", "-c", codigo],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    dados = json.loads(saida.stdout.strip().splitlines()[-1])
    assert dados["ok"] is None and dados["executado"] is False
    assert dados["motivo"] == (
        "biblioteca torch (torch) não instalada: teste de carregamento não executado"
    )
    carga = _carga_do_filho(sandbox.ResultadoIsolado(dados, 0, False, 0.1, "", None))
    assert carga["ok"] is None
    assert "não instalada: teste de carregamento não executado" in carga["motivo"]


# --- small public helpers ---------------------------------------------------------


def test_opcoes_e_erro_de_validacao(tmp_path: Path) -> None:
    from backup_versionamento.config import PADRAO

    opcoes = opcoes_da_config(PADRAO)
    assert opcoes == {
        "teste_carregamento": True,
        "tempo_limite": 120.0,
        "memoria_limite_mb": 4096,
        "globais_permitidos": (),
    }
    arquivo = tmp_path / "vazio.onnx"
    arquivo.write_bytes(b"")
    rel = validar_modelo(arquivo, **opcoes)
    erro = erro_de_validacao(rel)
    assert isinstance(erro, ErroValidacao) and erro.codigo_saida == 12
    assert "vazio.onnx: arquivo vazio" in str(erro)


def test_analisar_usa_um_so_processo_filho(arquivos: dict[str, Path]) -> None:
    rel, insp = analisar_modelo(arquivos["sklearn_joblib_z"])
    assert rel["valido"] is True and rel["carregamento"]["ok"] is True
    assert insp is not None
    assert (
        insp["arquitetura"]["classe"]
        == "sklearn.ensemble._forest.RandomForestClassifier"
    )
    assert insp["arquitetura"]["parametros"]["n_estimators"] == 5
    assert len(insp["digest_pesos"]) == 64
