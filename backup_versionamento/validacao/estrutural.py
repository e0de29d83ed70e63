"""Structural check of a model file: parse its container, run none of its code.

Each format gets the deepest look possible without executing anything the file
contains: HDF5 groups and datasets read with h5py, zip members checked against
their CRC, protobuf and flatbuffer offsets checked against the file size, tree
models parsed, pickles scanned opcode by opcode (see `pickle_seguro`). The result
also says whether a load test makes sense and, if not, why.
"""

from __future__ import annotations

import json
import mmap
import re
import struct
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..armazenamento.tensores import TAMANHO_STORAGE
from ..base.padroes import TEMPO_LIMITE_VALIDACAO_S
from . import formatos as fmt
from . import leitores
from .keras_arquivos import (
    ErroKeras,
    abrir_keras,
    analisar_config,
    ler_dataset,
    nomes_inseguros_zip,
    pesos_por_camada,
)
from .pickle_seguro import (
    CONTEXTO_TORCH,
    ResultadoVarredura,
    varrer_arquivo_pickle,
    varrer_torch_legado,
    varrer_zip_torch,
)

_MAGICO_TABELA_TF = struct.pack("<Q", 0xDB4775248B80FB57)
_MAGICO_TORCH_LEGADO = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(
    10, "little"
)
_LIMITE_GLOBAIS_RELATORIO = 60


@dataclass
class ResultadoEstrutural:
    """Outcome of the structural check, plus what the load test needs to know."""

    ok: bool = True
    problemas: list[str] = field(default_factory=list)
    avisos: list[str] = field(default_factory=list)
    detalhes: dict[str, Any] = field(default_factory=dict)
    carregar: bool = True
    motivo_sem_carga: str | None = None
    biblioteca: str | None = None
    formato_carga: str | None = None
    alvo_carga: Path | None = None
    tarefa_extra: dict[str, Any] = field(default_factory=dict)
    varredura: ResultadoVarredura | None = None

    def falhar(self, problema: str) -> None:
        self.ok = False
        self.problemas.append(problema)

    def sem_carga(self, motivo: str) -> None:
        self.carregar = False
        self.motivo_sem_carga = motivo

    def como_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problemas": list(self.problemas),
            "avisos": list(self.avisos),
            "detalhes": self.detalhes,
        }


def _vazio(caminho: Path, r: ResultadoEstrutural) -> bool:
    if caminho.stat().st_size == 0:
        r.falhar("arquivo vazio")
        return True
    return False


def _falha_h5py(r: ResultadoEstrutural) -> bool:
    try:
        import h5py  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        r.avisos.append(
            "biblioteca h5py não instalada: estrutura HDF5 e pesos não "
            "verificados (só a assinatura do arquivo)"
        )
        return True
    return False


# --- Keras --------------------------------------------------------------------------


def _verificar_keras(
    caminho: Path, info: fmt.InfoFormato, r: ResultadoEstrutural
) -> None:
    if _vazio(caminho, r):
        return
    zip_keras = info.formato == fmt.KERAS
    if zip_keras and info.conteudo != "zip":
        r.falhar(
            "assinatura zip ausente: o arquivo .keras está corrompido ou não é "
            "um modelo Keras v3"
        )
        return
    if not zip_keras and info.conteudo != "hdf5":
        r.falhar("assinatura HDF5 ausente: arquivo corrompido ou não é um modelo .h5")
        return
    if zip_keras:
        try:
            with zipfile.ZipFile(caminho) as z:
                ruins = nomes_inseguros_zip(z.namelist())
                if ruins:
                    r.falhar(f"nomes de arquivo inseguros dentro do zip: {ruins[:3]}")
                    return
                membro = z.testzip()
                if membro is not None:
                    r.falhar(f"membro '{membro}' do zip corrompido (CRC não confere)")
                    return
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            r.falhar(f"zip corrompido ou truncado ({e})")
            return
    if _falha_h5py(r):
        return
    try:
        with abrir_keras(caminho, zip_keras) as arq:
            r.detalhes.update(
                {
                    k: v
                    for k, v in arq.metadados.items()
                    if k in ("keras_version", "backend", "date_saved")
                }
            )
            nomes: list[str] = []
            if arq.config is None:
                r.avisos.append(
                    "arquivo só de pesos (sem model_config): não há "
                    "arquitetura a carregar"
                )
                r.sem_carga("arquivo só de pesos: não há arquitetura para carregar")
            else:
                analise = analisar_config(arq.config)
                nomes = [
                    str(c.get("config", {}).get("name", c.get("name", "")))
                    for c in analise.camadas
                ]
                r.detalhes["classe_modelo"] = analise.classe_modelo
                r.detalhes["camadas"] = len(analise.camadas)
                if analise.lambdas:
                    r.falhar(
                        f"camada(s) Lambda {', '.join(analise.lambdas)} com "
                        "bytecode Python serializado, que seria executado ao "
                        "carregar"
                    )
                if analise.perigosas:
                    r.falhar(
                        "a configuração referencia funções perigosas: "
                        f"{', '.join(analise.perigosas)}"
                    )
                if analise.personalizadas and r.ok:
                    lista = ", ".join(analise.personalizadas[:8])
                    r.avisos.append(
                        f"usa objetos personalizados ({lista}), que não "
                        "existem no teste de carregamento isolado"
                    )
                    r.sem_carga(
                        f"objetos personalizados ({lista}) não disponíveis "
                        "no processo de teste"
                    )
            if arq.pesos is None:
                r.avisos.append("arquivo sem pesos (model.weights.h5 ausente)")
                return
            total = quantos = 0
            for _, ds in pesos_por_camada(arq.pesos, nomes):
                total += ler_dataset(ds)
                quantos += 1
            r.detalhes["tensores_pesos"] = quantos
            r.detalhes["bytes_pesos"] = total
    except (
        OSError,
        KeyError,
        ValueError,
        TypeError,
        ErroKeras,
        zipfile.BadZipFile,
        EOFError,
    ) as e:
        r.falhar(f"estrutura ilegível ({type(e).__name__}: {e})")


# --- TensorFlow -------------------------------------------------------------------


def _verificar_variaveis(pasta: Path, r: ResultadoEstrutural) -> None:
    variaveis = pasta / "variables"
    if not variaveis.is_dir():
        r.avisos.append("SavedModel sem a pasta variables/ (modelo sem variáveis?)")
        return
    indice = variaveis / "variables.index"
    shards = sorted(variaveis.glob("variables.data-*-of-*"))
    if not indice.is_file():
        if shards:
            r.falhar("variables/variables.index ausente")
        else:
            r.avisos.append("pasta variables/ vazia")
        return
    dados = indice.read_bytes()
    if len(dados) < 48 or dados[-8:] != _MAGICO_TABELA_TF:
        r.falhar("variables/variables.index corrompido ou truncado (rodapé ausente)")
    total = None
    presentes = set()
    for shard in shards:
        m = re.fullmatch(r"variables\.data-(\d+)-of-(\d+)", shard.name)
        if m:
            presentes.add(int(m.group(1)))
            total = int(m.group(2))
    if total is None:
        r.falhar("nenhum arquivo variables.data-* encontrado")
        return
    faltando = [i for i in range(total) if i not in presentes]
    if faltando:
        r.falhar(f"shards de variáveis ausentes: {faltando[:5]} de {total}")
    r.detalhes["shards_variaveis"] = total


def _verificar_savedmodel(pasta: Path, r: ResultadoEstrutural) -> None:
    pb = pasta / "saved_model.pb"
    r.formato_carga = fmt.SAVEDMODEL
    r.alvo_carga = pasta
    if not pb.is_file():
        r.avisos.append("saved_model.pbtxt (formato texto) não é analisado")
    else:
        dados = pb.read_bytes()
        if not dados:
            r.falhar("saved_model.pb vazio")
            return
        meta_grafos = _contar_meta_grafos(dados, r)
        if meta_grafos is None:
            return
        if not meta_grafos:
            r.falhar("saved_model.pb sem nenhum MetaGraphDef")
    impressao = pasta / "fingerprint.pb"
    if impressao.is_file():
        try:
            leitores.campos_protobuf(impressao.read_bytes())
        except leitores.ErroLeitura as e:
            r.falhar(f"fingerprint.pb ilegível: {e}")
    _verificar_variaveis(pasta, r)


def _contar_meta_grafos(dados: bytes, r: ResultadoEstrutural) -> int | None:
    """MetaGraphDefs in a saved_model.pb (None, and a failure noted, if unreadable)."""
    try:
        contagem = leitores.validar_protobuf(dados, leitores.ESQUEMA_SAVED_MODEL)
    except leitores.ErroLeitura as e:
        r.falhar(f"saved_model.pb ilegível: {e}")
        return None
    r.detalhes["meta_grafos"] = contagem.get(2, 0)
    return int(contagem.get(2, 0))


def _verificar_pb(caminho: Path, r: ResultadoEstrutural) -> None:
    if _vazio(caminho, r):
        return
    dados = caminho.read_bytes()
    try:
        campos = leitores.campos_protobuf(dados)
    except leitores.ErroLeitura as e:
        r.falhar(f"protobuf ilegível: {e}")
        return
    eh_saved_model = any(n == 1 and t == 0 for n, t, _ in campos) or (
        caminho.name == "saved_model.pb" and not any(n == 1 for n, _, _ in campos)
    )
    if eh_saved_model:
        r.detalhes["conteudo"] = "SavedModel"
        pasta = caminho.parent
        if caminho.name == "saved_model.pb" and (pasta / "variables").is_dir():
            r.avisos.append(
                f"parte do SavedModel em {pasta}: a pasta inteira é "
                "verificada e carregada"
            )
            _verificar_savedmodel(pasta, r)
            return
        if _contar_meta_grafos(dados, r) is None:
            return
        r.sem_carga("saved_model.pb fora de uma pasta SavedModel completa")
        return
    r.detalhes["conteudo"] = "GraphDef"
    try:
        contagem = leitores.validar_protobuf(dados, leitores.ESQUEMA_GRAPH_DEF)
    except leitores.ErroLeitura as e:
        r.falhar(f"GraphDef ilegível: {e}")
        return
    if not contagem.get(1):
        r.falhar("GraphDef sem nenhum nó")
    r.detalhes["nos"] = contagem.get(1, 0)
    r.formato_carga = "tf_graphdef"


def _verificar_tflite(caminho: Path, r: ResultadoEstrutural) -> None:
    if _vazio(caminho, r):
        return
    with (
        open(caminho, "rb") as f,
        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m,
    ):
        try:
            modelo = leitores.ler_tflite(m)  # type: ignore[arg-type]
        except leitores.ErroLeitura as e:
            r.falhar(str(e))
            return
    ops = sorted({op["op"] for sg in modelo["subgrafos"] for op in sg["operadores"]})
    r.detalhes.update(
        {
            "versao_esquema": modelo["versao"],
            "subgrafos": len(modelo["subgrafos"]),
            "operadores": sum(len(sg["operadores"]) for sg in modelo["subgrafos"]),
            "tipos_operador": ops,
            "buffers": len(modelo["buffers"]),
        }
    )


# --- pickles ----------------------------------------------------------------------


def _aplicar_varredura(v: ResultadoVarredura, r: ResultadoEstrutural) -> None:
    r.varredura = v
    if v.perigosos:
        r.falhar(
            f"pickle referencia globais perigosos: {', '.join(v.perigosos)} "
            "-- o arquivo NÃO foi carregado"
        )
    if v.nao_permitidos:
        r.falhar(
            "pickle referencia globais fora da lista permitida: "
            f"{', '.join(v.nao_permitidos[:10])} -- o arquivo não foi carregado "
            "(se a origem for confiável, inclua-os em globais permitidos)"
        )
    for p in v.problemas:
        sobre_global = p.startswith("global ") or ": global " in p
        if not sobre_global:
            r.falhar(p)
    r.avisos.extend(v.avisos)
    nomes = sorted(v.globais)
    r.detalhes.update(
        {
            "serializacao": v.serializacao,
            "compressao": v.compressao,
            "protocolo": v.protocolo,
            "globais": nomes[:_LIMITE_GLOBAIS_RELATORIO],
            "arrays_joblib": v.arrays_joblib,
        }
    )
    r.biblioteca = fmt.biblioteca_dos_globais(nomes)
    r.tarefa_extra["serializacao"] = v.serializacao
    r.tarefa_extra["globais"] = nomes
    if not v.ok:
        r.sem_carga("a varredura de segurança do pickle reprovou o arquivo")


def _verificar_pickle(
    caminho: Path, r: ResultadoEstrutural, extras: tuple[str, ...], tempo_limite: float
) -> None:
    if _vazio(caminho, r):
        return
    _aplicar_varredura(
        varrer_arquivo_pickle(caminho, extras=extras, tempo_limite=tempo_limite), r
    )


def _verificar_storages_torch(
    caminho: Path, v: ResultadoVarredura, r: ResultadoEstrutural
) -> None:
    with zipfile.ZipFile(caminho) as z:
        membro = z.testzip()
        if membro is not None:
            r.falhar(f"membro '{membro}' do zip corrompido (CRC não confere)")
            return
        tamanhos = {i.filename: i.file_size for i in z.infolist()}
        pkl = next(n for n in tamanhos if n.endswith("data.pkl"))
        prefixo = pkl[: -len("data.pkl")]
        for pid in v.ids_persistentes:
            if len(pid) < 5 or pid[0] != "storage":
                continue
            chave, numel = str(pid[2]), pid[4]
            nome = f"{prefixo}data/{chave}"
            if nome not in tamanhos:
                r.falhar(f"tensor aponta para {nome}, ausente no arquivo")
                continue
            tipo = str(pid[1]).rsplit(".", 1)[-1].removesuffix("Storage")
            largura = TAMANHO_STORAGE.get(tipo)
            if largura and isinstance(numel, int) and tamanhos[nome] < numel * largura:
                r.falhar(
                    f"{nome} tem {tamanhos[nome]} bytes; o tensor precisa de "
                    f"{numel * largura}"
                )
        r.detalhes["storages"] = len(v.ids_persistentes)


def _verificar_torch(
    caminho: Path,
    info: fmt.InfoFormato,
    r: ResultadoEstrutural,
    extras: tuple[str, ...],
    tempo_limite: float,
) -> None:
    if _vazio(caminho, r):
        return
    with open(caminho, "rb") as f:
        cabecalho = f.read(len(_MAGICO_TORCH_LEGADO))
    if info.conteudo == "zip":
        v = varrer_zip_torch(caminho, extras=extras, tempo_limite=tempo_limite)
        _aplicar_varredura(v, r)
        if r.ok:
            try:
                _verificar_storages_torch(caminho, v, r)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                r.falhar(f"zip corrompido ou truncado ({e})")
    elif cabecalho == _MAGICO_TORCH_LEGADO:
        _aplicar_varredura(
            varrer_torch_legado(caminho, extras=extras, tempo_limite=tempo_limite), r
        )
    elif info.conteudo == "pickle":
        _aplicar_varredura(
            varrer_arquivo_pickle(
                caminho,
                extras=extras,
                tempo_limite=tempo_limite,
                contexto=CONTEXTO_TORCH,
            ),
            r,
        )
    else:
        r.falhar("assinatura ausente: não é um checkpoint PyTorch (zip ou pickle)")
        return
    r.biblioteca = "torch"
    if any(
        g.startswith("torch.nn.modules.") for g in r.tarefa_extra.get("globais", [])
    ):
        r.avisos.append(
            "o arquivo guarda o módulo completo (torch.save(model)), não "
            "só o state_dict: depende das classes do código de treino"
        )


# --- tree models ----------------------------------------------------------------


def _verificar_xgboost(
    caminho: Path, info: fmt.InfoFormato, r: ResultadoEstrutural
) -> None:
    if _vazio(caminho, r):
        return
    try:
        if info.formato == fmt.XGBOOST_JSON:
            with open(caminho, encoding="utf-8") as f:
                doc = json.load(f)
        else:
            doc = leitores.ler_ubjson(caminho.read_bytes())
        r.detalhes.update(leitores.validar_xgboost(doc))
    except json.JSONDecodeError as e:
        r.falhar(f"JSON inválido na linha {e.lineno}, coluna {e.colno}: {e.msg}")
    except UnicodeDecodeError:
        r.falhar("o arquivo não é texto UTF-8 válido")
    except leitores.ErroLeitura as e:
        r.falhar(str(e))


def _verificar_lightgbm(caminho: Path, r: ResultadoEstrutural) -> None:
    if _vazio(caminho, r):
        return
    try:
        modelo = leitores.ler_lightgbm(caminho.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        r.falhar("o arquivo não é texto UTF-8 válido")
        return
    except leitores.ErroLeitura as e:
        r.falhar(str(e))
        return
    cab = modelo["cabecalho"]
    r.detalhes.update(
        {
            "versao_formato": cab.get("version"),
            "arvores": len(modelo["arvores"]),
            "objetivo": cab.get("objective"),
            "classes": cab.get("num_class"),
        }
    )


# --- ONNX --------------------------------------------------------------------------


def _verificar_dados_externos(
    caminho: Path, modelo: Any, onnx: Any, r: ResultadoEstrutural
) -> None:
    base = caminho.parent.resolve()
    arquivos = set()
    for t in modelo.graph.initializer:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        local = info.get("location", "")
        alvo = (base / local).resolve()
        if base not in alvo.parents:
            r.falhar(f"tensor {t.name} aponta para fora da pasta do modelo: {local}")
            continue
        if not alvo.is_file():
            r.falhar(f"arquivo de dados externos ausente: {local}")
            continue
        fim = int(info.get("offset", 0) or 0) + int(info.get("length", 0) or 0)
        if fim > alvo.stat().st_size:
            r.falhar(f"dados externos de {t.name} além do fim de {local}")
        arquivos.add(local)
    if arquivos:
        r.avisos.append(
            f"pesos em arquivos externos ({', '.join(sorted(arquivos))}): "
            "guarde-os junto do .onnx"
        )
        r.detalhes["dados_externos"] = sorted(arquivos)


def _verificar_onnx(caminho: Path, r: ResultadoEstrutural) -> None:
    if _vazio(caminho, r):
        return
    try:
        import onnx
    except ImportError:
        r.avisos.append(
            "biblioteca onnx não instalada: verificação estrutural limitada "
            "ao formato protobuf"
        )
        try:
            contagem = leitores.validar_protobuf(
                caminho.read_bytes(), leitores.ESQUEMA_ONNX
            )
        except leitores.ErroLeitura as e:
            r.falhar(f"protobuf ONNX ilegível: {e}")
            return
        if not contagem.get(7):
            r.falhar("modelo ONNX sem grafo")
        return
    try:
        modelo = onnx.load(str(caminho), load_external_data=False)
    except Exception as e:
        r.falhar(f"protobuf ONNX ilegível ({type(e).__name__}: {e})")
        return
    try:
        onnx.checker.check_model(modelo)
    except Exception as e:
        linha = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        r.falhar(f"onnx.checker reprovou o modelo: {linha}")
    _verificar_dados_externos(caminho, modelo, onnx, r)
    r.detalhes.update(
        {
            "ir_version": int(modelo.ir_version),
            "opset": {
                o.domain or "ai.onnx": int(o.version) for o in modelo.opset_import
            },
            "produtor": f"{modelo.producer_name} {modelo.producer_version}".strip(),
            "nos": len(modelo.graph.node),
            "inicializadores": len(modelo.graph.initializer),
        }
    )


# --- entry point --------------------------------------------------------------------


def verificar_estrutura(
    caminho: Path,
    info: fmt.InfoFormato,
    *,
    extras: Iterable[str] = (),
    tempo_limite: float = TEMPO_LIMITE_VALIDACAO_S,
) -> ResultadoEstrutural:
    """Check one model without executing anything from it."""
    r = ResultadoEstrutural(
        biblioteca=info.biblioteca, formato_carga=info.formato, alvo_carga=Path(caminho)
    )
    extras_t = tuple(extras)
    f = info.formato
    try:
        if f in (fmt.KERAS_H5, fmt.KERAS):
            _verificar_keras(caminho, info, r)
        elif f == fmt.SAVEDMODEL:
            _verificar_savedmodel(caminho, r)
        elif f == fmt.TF_PB:
            _verificar_pb(caminho, r)
        elif f == fmt.TFLITE:
            _verificar_tflite(caminho, r)
        elif f in (fmt.PICKLE, fmt.JOBLIB):
            _verificar_pickle(caminho, r, extras_t, tempo_limite)
        elif f == fmt.TORCH:
            _verificar_torch(caminho, info, r, extras_t, tempo_limite)
        elif f in (fmt.XGBOOST_JSON, fmt.XGBOOST_UBJ):
            _verificar_xgboost(caminho, info, r)
        elif f == fmt.LIGHTGBM_TXT:
            _verificar_lightgbm(caminho, r)
        elif f == fmt.ONNX:
            _verificar_onnx(caminho, r)
        else:
            r.sem_carga("formato não reconhecido")
    except MemoryError:
        r.falhar("memória insuficiente para a verificação estrutural")
    except OSError as e:
        r.falhar(f"erro de leitura ({e.strerror or e})")
    if not r.ok and r.carregar:
        r.sem_carga("a verificação estrutural falhou")
    return r
