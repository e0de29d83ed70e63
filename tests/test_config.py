import json
from pathlib import Path

import pytest

from backup_versionamento import config
from backup_versionamento.erros import ErroConfiguracao

from .conftest import cli


def test_sem_arquivo_usa_padroes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = config.carregar()
    assert cfg["diretorios"]["base"] == str(tmp_path / "backups_modelos")
    assert cfg["retencao"]["por_quantidade"]["maximo_versoes_por_modelo"] == 50
    assert cfg["performance"]["threads_backup"] == 4


def test_caminhos_relativos_ao_arquivo(tmp_path: Path) -> None:
    arq = tmp_path / "sub" / "c.json"
    arq.parent.mkdir()
    arq.write_text(json.dumps({"diretorios": {"base": "./bk"}}))
    cfg = config.carregar(arq)
    assert cfg["diretorios"]["base"] == str(tmp_path / "sub" / "bk")
    assert cfg["diretorios"]["modelos"] == str(tmp_path / "sub" / "bk" / "modelos")


def test_config_do_repositorio_e_valida() -> None:
    raiz = Path(__file__).resolve().parent.parent
    cfg = config.carregar(raiz / "config_backup.json")
    assert cfg["backup_automatico"]["horarios_execucao"] == [
        "02:00",
        "08:00",
        "14:00",
        "20:00",
    ]
    # Every key of the defaults is spelled out in the shipped file.
    dados = json.loads((raiz / "config_backup.json").read_text())

    def chaves(d: dict, p: str = "") -> set[str]:
        s = set()
        for k, v in d.items():
            s.add(p + k)
            if isinstance(v, dict):
                s |= chaves(v, p + k + ".")
        return s

    assert chaves(dados) == chaves(config.PADRAO)


@pytest.mark.parametrize(
    ("dados", "trecho"),
    [
        (
            {"retencao": {"por_quantidade": {"maximo_versoes_por_modelo": "50"}}},
            "retencao.por_quantidade.maximo_versoes_por_modelo: esperado número "
            "inteiro",
        ),
        (
            {"retencao": {"por_quantidade": {"maximo_versoes_por_modelo": 0}}},
            "retencao.por_quantidade.maximo_versoes_por_modelo: deve ser maior "
            "que zero",
        ),
        (
            {"backup_automatico": {"intervalo_horaz": 6}},
            "backup_automatico.intervalo_horaz: chave desconhecida",
        ),
        (
            {"backup_automatico": {"habilitado": "sim"}},
            "backup_automatico.habilitado: esperado booleano",
        ),
        (
            {"backup_automatico": {"horarios_execucao": ["25:00"]}},
            "backup_automatico.horarios_execucao: horários inválidos",
        ),
        (
            {"backup_automatico": {"extensoes_monitoradas": ["h5"]}},
            "backup_automatico.extensoes_monitoradas: extensões inválidas",
        ),
        (
            {"retencao": {"por_tempo": {"ultimos_30_dias": "as vezes"}}},
            "retencao.por_tempo.ultimos_30_dias: 'as vezes' não é aceito",
        ),
        ({"performance": {"threads_backup": 0}}, "performance.threads_backup"),
        ({"validacao": {"modo": "talvez"}}, "validacao.modo"),
        (
            {"integracao": {"cloud_storage": {"habilitado": True}}},
            "integracao.cloud_storage: habilitado, mas sem bucket",
        ),
        ({"diretorios": {"base": "/a", "modelos": "/b"}}, "diretorios.modelos"),
        ([1, 2], "objeto JSON"),
    ],
)
def test_erros_nomeiam_a_chave(tmp_path: Path, dados: object, trecho: str) -> None:
    arq = tmp_path / "c.json"
    arq.write_text(json.dumps(dados))
    with pytest.raises(ErroConfiguracao) as e:
        config.carregar(arq)
    assert trecho in str(e.value)
    assert e.value.codigo_saida == 3


def test_todos_os_problemas_de_uma_vez(tmp_path: Path) -> None:
    arq = tmp_path / "c.json"
    arq.write_text(json.dumps({"x": 1, "performance": {"cache_size_mb": "grande"}}))
    with pytest.raises(ErroConfiguracao) as e:
        config.carregar(arq)
    assert len(e.value.problemas) == 2


def test_json_invalido_diz_linha(tmp_path: Path) -> None:
    arq = tmp_path / "c.json"
    arq.write_text('{\n  "diretorios": {,}\n}')
    with pytest.raises(ErroConfiguracao, match=r"linha 2"):
        config.carregar(arq)


def test_cli_config_invalida_nao_roda_nada(tmp_path: Path) -> None:
    arq = tmp_path / "c.json"
    arq.write_text(
        json.dumps(
            {
                "diretorios": {"base": str(tmp_path / "bk")},
                "retencao": {"por_quantidade": {"maximo_versoes_por_modelo": -1}},
            }
        )
    )
    modelo = tmp_path / "m.pkl"
    modelo.write_bytes(b"x" * 100)
    r = cli("backup", "--modelo", str(modelo), "--config", str(arq))
    assert r.returncode == 3
    assert "retencao.por_quantidade.maximo_versoes_por_modelo" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "bk").exists()
    r = cli("config", "--validar", "--config", str(arq))
    assert r.returncode == 3
    r = cli("config", "--config", str(tmp_path / "nao_existe.json"))
    assert r.returncode == 3 and "não encontrado" in r.stderr


def test_cli_config_mostra_configuracao_efetiva(tmp_path: Path) -> None:
    r = cli("config", "--json", cwd=tmp_path)
    assert r.returncode == 0
    assert json.loads(r.stdout)["diretorios"]["base"] == str(
        tmp_path / "backups_modelos"
    )


# Every key of the automatic-backup, retention and disk-space features, each with
# a wrong type and (where a rule exists) a wrong value: the error names the key.
_RUINS = {
    "backup_automatico.habilitado": ["sim"],
    "backup_automatico.intervalo_horas": ["6", 0],
    "backup_automatico.horarios_execucao": ["02:00", ["2h"]],
    "backup_automatico.diretorios_monitorados": ["./m", [1]],
    "backup_automatico.extensoes_monitoradas": [".h5", ["h5"]],
    "backup_automatico.ignorar_arquivos": ["*.tmp", [None]],
    "backup_automatico.monitorar_tempo_real": [1],
    "backup_automatico.periodo_silencio_segundos": ["5", -1],
    "backup_automatico.tipo_mudanca": [3, "grande"],
    "backup_automatico.limpeza_automatica": ["não"],
    "backup_automatico.horario_limpeza": [330, "3:30h"],
    "retencao.por_tempo.ultimos_7_dias": [7, "algumas"],
    "retencao.por_tempo.ultimos_30_dias": [None, "diario"],
    "retencao.por_tempo.ultimos_90_dias": [True, "semanal"],
    "retencao.por_quantidade.maximo_versoes_por_modelo": [50.5, -3],
    "retencao.manter_melhores.metrica": [13],
    "retencao.manter_melhores.quantidade": ["3", -1],
    "retencao.manter_melhores.maior_melhor": ["sim"],
    "retencao.carencia_coleta_minutos": ["60", -5],
    "espaco_disco.aviso_mb": ["1GB", -1],
    "espaco_disco.reserva_mb": [[], -1],
}


def _aninhar(caminho: str, valor: object) -> dict:
    partes = caminho.split(".")
    dados: dict = {partes[-1]: valor}
    for p in reversed(partes[:-1]):
        dados = {p: dados}
    return dados


@pytest.mark.parametrize(
    ("chave", "valor"), [(k, v) for k, vs in _RUINS.items() for v in vs]
)
def test_cada_chave_da_automacao_e_retencao(
    tmp_path: Path, chave: str, valor: object
) -> None:
    arq = tmp_path / "c.json"
    arq.write_text(json.dumps(_aninhar(chave, valor)))
    with pytest.raises(ErroConfiguracao) as e:
        config.carregar(arq)
    assert any(p.startswith(chave + ":") for p in e.value.problemas), e.value.problemas


def test_config_nao_mostra_segredos(tmp_path: Path) -> None:
    """`config` prints the effective configuration, never a webhook secret or a
    dashboard token (they are shown only as set)."""
    arquivo = tmp_path / "cfg.json"
    arquivo.write_text(
        json.dumps(
            {
                "integracao": {
                    "webhook": {
                        "habilitado": True,
                        "url": "http://127.0.0.1:9/x",
                        "segredo": "segredo-muito-secreto",
                        "endpoints": [
                            {"url": "http://127.0.0.1:9/y", "segredo": "outro-secreto"}
                        ],
                    }
                },
                "relatorios": {"painel_token": "token-secreto"},
            }
        )
    )
    r = cli("config", "--config", str(arquivo))
    assert r.returncode == 0, r.stderr
    assert "secreto" not in r.stdout
    dados = json.loads(r.stdout)
    assert dados["integracao"]["webhook"]["segredo"] == "***"
    assert dados["integracao"]["webhook"]["endpoints"][0]["segredo"] == "***"
    assert dados["relatorios"]["painel_token"] == "***"
    assert dados["integracao"]["webhook"]["url"] == "http://127.0.0.1:9/x"


def test_config_mascara_credenciais_dentro_de_urls(tmp_path: Path) -> None:
    """A password in 'usuario:senha@' or a '?token=' in any URL is not printed."""
    arquivo = tmp_path / "cfg.json"
    arquivo.write_text(
        json.dumps(
            {
                "integracao": {
                    "webhook": {
                        "habilitado": True,
                        "url": "https://maria:senha-secreta@hooks.exemplo/x?token=tk-secreto&canal=ml",
                        "endpoints": [
                            {"url": "http://127.0.0.1:9/y?api_key=chave-secreta"}
                        ],
                    },
                    "cloud_storage": {
                        "endpoint_url": "http://admin:minio-secreto@127.0.0.1:9000"
                    },
                }
            }
        )
    )
    r = cli("config", "--config", str(arquivo))
    assert r.returncode == 0, r.stderr
    assert "secret" not in r.stdout, r.stdout
    dados = json.loads(r.stdout)
    webhook = dados["integracao"]["webhook"]
    assert webhook["url"] == "https://maria:***@hooks.exemplo/x?token=***&canal=ml"
    assert webhook["endpoints"][0]["url"] == "http://127.0.0.1:9/y?api_key=***"
    assert (
        dados["integracao"]["cloud_storage"]["endpoint_url"]
        == "http://admin:***@127.0.0.1:9000"
    )
