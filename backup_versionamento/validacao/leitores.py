"""Small pure-Python readers for model formats: they parse, they never execute.

UBJSON (XGBoost .ubj), the protobuf wire format (SavedModel, GraphDef, ONNX without
the onnx package), the TFLite flatbuffer and LightGBM's text model. Each one
checks every length and offset against the data it was given, so a truncated or
corrupted file is reported with where it breaks instead of being trusted.
"""

from __future__ import annotations

import struct
from array import array
from typing import Any

from ..base.protobuf import ErroLeitura, campos_protobuf

# --- UBJSON -------------------------------------------------------------------------

_UBJ_INTEIROS = {
    "i": (">b", 1),
    "U": (">B", 1),
    "I": (">h", 2),
    "l": (">i", 4),
    "L": (">q", 8),
}
_UBJ_REAIS = {"d": (">f", 4), "D": (">d", 8)}
_UBJ_ARRAY = {"i": "b", "U": "B", "I": "h", "l": "i", "L": "q", "d": "f", "D": "d"}
_UBJ_PROFUNDIDADE = 64


class _Ubj:
    def __init__(self, dados: bytes) -> None:
        self.d = dados
        self.p = 0

    def _ler(self, n: int) -> bytes:
        if n < 0 or self.p + n > len(self.d):
            raise ErroLeitura(f"UBJSON truncado na posição {self.p}")
        parte = self.d[self.p : self.p + n]
        self.p += n
        return parte

    def _marca(self) -> str:
        return self._ler(1).decode("latin1")

    def _inteiro(self, marca: str) -> int:
        if marca not in _UBJ_INTEIROS:
            raise ErroLeitura(
                f"UBJSON: tamanho com tipo inválido {marca!r} na posição {self.p}"
            )
        fmt, n = _UBJ_INTEIROS[marca]
        valor: int = struct.unpack(fmt, self._ler(n))[0]
        return valor

    def _texto(self) -> str:
        n = self._inteiro(self._marca())
        try:
            return self._ler(n).decode("utf-8")
        except UnicodeDecodeError:
            raise ErroLeitura(f"UBJSON: texto inválido na posição {self.p}") from None

    def valor(self, marca: str | None = None, prof: int = 0) -> Any:
        if prof > _UBJ_PROFUNDIDADE:
            raise ErroLeitura("UBJSON aninhado demais")
        m = marca if marca is not None else self._marca()
        while m == "N" and marca is None:
            m = self._marca()
        if m == "Z":
            return None
        if m == "T":
            return True
        if m == "F":
            return False
        if m in _UBJ_INTEIROS:
            return self._inteiro(m)
        if m in _UBJ_REAIS:
            fmt, n = _UBJ_REAIS[m]
            return struct.unpack(fmt, self._ler(n))[0]
        if m == "C":
            return self._ler(1).decode("latin1")
        if m in ("S", "H"):
            return self._texto()
        if m == "[":
            return self._lista(prof)
        if m == "{":
            return self._objeto(prof)
        raise ErroLeitura(
            f"UBJSON: marcador desconhecido {m!r} na posição {self.p - 1}"
        )

    def _cabecalho_container(self) -> tuple[str | None, int | None]:
        tipo = contagem = None
        if self.p < len(self.d) and self.d[self.p : self.p + 1] == b"$":
            self.p += 1
            tipo = self._marca()
        if self.p < len(self.d) and self.d[self.p : self.p + 1] == b"#":
            self.p += 1
            contagem = self._inteiro(self._marca())
            if contagem < 0:
                raise ErroLeitura("UBJSON: contagem negativa")
        elif tipo is not None:
            raise ErroLeitura("UBJSON: tipo fixo sem contagem")
        return tipo, contagem

    def _lista(self, prof: int) -> Any:
        tipo, contagem = self._cabecalho_container()
        if contagem is not None and tipo in _UBJ_ARRAY:
            codigo = _UBJ_ARRAY[tipo]
            largura = array(codigo).itemsize
            arr = array(codigo, self._ler(contagem * largura))
            if struct.pack("=H", 1) != struct.pack(">H", 1):
                arr.byteswap()
            return arr
        itens = []
        if contagem is not None:
            for _ in range(contagem):
                itens.append(self.valor(tipo, prof + 1))
            return itens
        while True:
            if self.p >= len(self.d):
                raise ErroLeitura("UBJSON truncado: lista sem fim")
            if self.d[self.p : self.p + 1] == b"]":
                self.p += 1
                return itens
            itens.append(self.valor(None, prof + 1))

    def _objeto(self, prof: int) -> dict[str, Any]:
        tipo, contagem = self._cabecalho_container()
        obj: dict[str, Any] = {}
        if contagem is not None:
            for _ in range(contagem):
                chave = self._texto()
                obj[chave] = self.valor(tipo, prof + 1)
            return obj
        while True:
            if self.p >= len(self.d):
                raise ErroLeitura("UBJSON truncado: objeto sem fim")
            if self.d[self.p : self.p + 1] == b"}":
                self.p += 1
                return obj
            chave = self._texto()
            obj[chave] = self.valor(None, prof + 1)


def ler_ubjson(dados: bytes) -> Any:
    """Parse a UBJSON document (big-endian, optimized containers as arrays)."""
    leitor = _Ubj(dados)
    valor = leitor.valor()
    if leitor.p != len(dados):
        raise ErroLeitura(f"UBJSON: {len(dados) - leitor.p} bytes sobrando após o fim")
    return valor


# --- protobuf wire format ---------------------------------------------------------

_PB_PROFUNDIDADE = 48


Esquema = dict[int, "Esquema | None"]


def validar_protobuf(
    d: bytes | memoryview,
    esquema: Esquema,
    inicio: int = 0,
    fim: int | None = None,
    prof: int = 0,
) -> dict[int, int]:
    """Walk a message and the sub-messages named in `esquema`; count fields seen."""
    if prof > _PB_PROFUNDIDADE:
        raise ErroLeitura("protobuf aninhado demais")
    contagem: dict[int, int] = {}
    for numero, tipo, valor in campos_protobuf(d, inicio, fim):
        contagem[numero] = contagem.get(numero, 0) + 1
        sub = esquema.get(numero)
        if sub is not None:
            if tipo != 2:
                raise ErroLeitura(f"protobuf: campo {numero} deveria ser uma mensagem")
            validar_protobuf(d, sub, valor[0], valor[1], prof + 1)
    return contagem


_NODE_DEF: Esquema = {5: {2: None}}
_GRAPH_DEF: Esquema = {1: _NODE_DEF, 2: None, 4: None}
_META_GRAPH: Esquema = {1: None, 2: _GRAPH_DEF, 3: None, 4: None, 5: None, 7: None}
ESQUEMA_SAVED_MODEL: Esquema = {2: _META_GRAPH}
ESQUEMA_GRAPH_DEF: Esquema = _GRAPH_DEF
_ONNX_GRAPH: Esquema = {1: {5: None}, 5: None, 11: None, 12: None, 13: None}
ESQUEMA_ONNX: Esquema = {7: _ONNX_GRAPH, 8: None}


# --- TFLite flatbuffer ----------------------------------------------------------------

_TFLITE_OPS = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    6: "DEQUANTIZE",
    9: "FULLY_CONNECTED",
    14: "LOGISTIC",
    17: "MAX_POOL_2D",
    18: "MUL",
    19: "RELU",
    22: "RESHAPE",
    25: "SOFTMAX",
    28: "TANH",
    32: "CUSTOM",
    34: "PAD",
    40: "MEAN",
    41: "SUB",
    42: "DIV",
    43: "SQUEEZE",
    44: "UNIDIRECTIONAL_SEQUENCE_LSTM",
    45: "STRIDED_SLICE",
    49: "SPLIT",
    53: "CAST",
    65: "SLICE",
    74: "SUM",
    83: "PACK",
    92: "QUANTIZE",
    97: "SHAPE",
    114: "QUANTIZE",
    126: "BATCH_MATMUL",
    150: "GELU",
}


class _Flat:
    def __init__(self, d: bytes) -> None:
        self.d = d

    def _u(self, fmt: str, p: int) -> Any:
        n = struct.calcsize(fmt)
        if p < 0 or p + n > len(self.d):
            raise ErroLeitura(
                f"flatbuffer truncado: leitura na posição {p} além do "
                f"fim ({len(self.d)} bytes)"
            )
        return struct.unpack_from(fmt, self.d, p)[0]

    def tabela(self, pos: int) -> int:
        self._vtable(pos)
        return pos

    def _vtable(self, tab: int) -> tuple[int, int]:
        vt = tab - self._u("<i", tab)
        tam = self._u("<H", vt)
        if tam < 4 or tam % 2:
            raise ErroLeitura(f"flatbuffer: vtable inválida na posição {vt}")
        self._u(f"<{tam}s", vt)
        return vt, tam

    def campo(self, tab: int, i: int) -> int | None:
        vt, tam = self._vtable(tab)
        if 4 + 2 * i >= tam:
            return None
        off = self._u("<H", vt + 4 + 2 * i)
        return tab + off if off else None

    def escalar(self, tab: int, i: int, fmt: str, padrao: Any) -> Any:
        p = self.campo(tab, i)
        return padrao if p is None else self._u(fmt, p)

    def alvo(self, p: int) -> int:
        return p + self._u("<I", p)

    def vetor(self, tab: int, i: int) -> tuple[int, int] | None:
        p = self.campo(tab, i)
        if p is None:
            return None
        v = self.alvo(p)
        n = self._u("<I", v)
        return v + 4, n

    def tabelas(self, tab: int, i: int) -> list[int]:
        vet = self.vetor(tab, i)
        if vet is None:
            return []
        inicio, n = vet
        self._u(f"<{4 * n}s", inicio) if n else None
        return [self.tabela(self.alvo(inicio + 4 * k)) for k in range(n)]

    def inteiros(self, tab: int, i: int, fmt: str = "<i") -> list[int]:
        vet = self.vetor(tab, i)
        if vet is None:
            return []
        inicio, n = vet
        largura = struct.calcsize(fmt)
        if n:
            self._u(f"<{largura * n}s", inicio)
        return [
            struct.unpack_from(fmt, self.d, inicio + largura * k)[0] for k in range(n)
        ]

    def texto(self, tab: int, i: int) -> str | None:
        vet = self.vetor(tab, i)
        if vet is None:
            return None
        inicio, n = vet
        return bytes(self._u(f"<{n}s", inicio)).decode("utf-8", "replace")


def ler_tflite(d: bytes) -> dict[str, Any]:
    """Parse the parts of a TFLite model that describe its graph and weights."""
    if len(d) < 8 or d[4:8] != b"TFL3":
        raise ErroLeitura("assinatura TFL3 ausente: não é um modelo TFLite")
    f = _Flat(d)
    raiz = f.tabela(f._u("<I", 0))
    versao = f.escalar(raiz, 0, "<I", 0)
    codigos = []
    for oc in f.tabelas(raiz, 1):
        antigo = f.escalar(oc, 0, "<b", 0)
        novo = f.escalar(oc, 3, "<i", 0)
        codigo = max(antigo, novo)
        codigos.append(
            {
                "op": f.texto(oc, 1) or _TFLITE_OPS.get(codigo, f"OP_{codigo}"),
                "versao": f.escalar(oc, 2, "<i", 1),
            }
        )
    buffers = []
    for b in f.tabelas(raiz, 4):
        vet = f.vetor(b, 0)
        offset = f.escalar(b, 1, "<Q", 0)
        tamanho = f.escalar(b, 2, "<Q", 0)
        if vet is not None and vet[1]:
            f._u(f"<{vet[1]}s", vet[0])
            buffers.append((vet[0], vet[0] + vet[1]))
        elif offset > 1:
            if offset + tamanho > len(d):
                raise ErroLeitura(
                    f"flatbuffer truncado: buffer externo termina em "
                    f"{offset + tamanho}, arquivo tem {len(d)} bytes"
                )
            buffers.append((offset, offset + tamanho))
        else:
            buffers.append((0, 0))
    subgrafos = []
    for sg in f.tabelas(raiz, 2):
        tensores = []
        for t in f.tabelas(sg, 0):
            buf = f.escalar(t, 2, "<I", 0)
            if buf >= max(len(buffers), 1):
                raise ErroLeitura(f"tensor aponta para o buffer {buf}, que não existe")
            tensores.append(
                {
                    "nome": f.texto(t, 3) or "",
                    "forma": f.inteiros(t, 0),
                    "tipo": f.escalar(t, 1, "<b", 0),
                    "buffer": buf,
                }
            )
        operadores = []
        for op in f.tabelas(sg, 3):
            indice = f.escalar(op, 0, "<I", 0)
            if indice >= len(codigos):
                raise ErroLeitura(f"operador usa o código {indice}, que não existe")
            entradas = f.inteiros(op, 1)
            saidas = f.inteiros(op, 2)
            for k in entradas + saidas:
                if k >= len(tensores):
                    raise ErroLeitura(f"operador usa o tensor {k}, que não existe")
            operadores.append(
                {"op": codigos[indice]["op"], "entradas": entradas, "saidas": saidas}
            )
        subgrafos.append(
            {
                "nome": f.texto(sg, 4) or "",
                "tensores": tensores,
                "entradas": f.inteiros(sg, 1),
                "saidas": f.inteiros(sg, 2),
                "operadores": operadores,
            }
        )
    if not subgrafos:
        raise ErroLeitura("modelo TFLite sem subgrafos")
    return {
        "versao": versao,
        "codigos": codigos,
        "subgrafos": subgrafos,
        "buffers": buffers,
        "descricao": f.texto(raiz, 3),
    }


# --- LightGBM text model --------------------------------------------------------------

_LGB_ARVORE_OBRIGATORIOS = ("num_leaves", "leaf_value")


def _chave_valor(linha: str) -> tuple[str, str] | None:
    if "=" not in linha:
        return None
    k, v = linha.split("=", 1)
    return k.strip(), v.strip()


def ler_lightgbm(texto: str) -> dict[str, Any]:
    """Parse a LightGBM model file; check each tree's arrays against num_leaves."""
    linhas = texto.split("\n")
    if not linhas or linhas[0].strip() != "tree":
        raise ErroLeitura("primeira linha não é 'tree': não é um modelo LightGBM")
    cabecalho: dict[str, str] = {}
    arvores: list[dict[str, str]] = []
    parametros: dict[str, str] = {}
    fim_arvores = False
    parametros_abertos = parametros_fechados = False
    secao = "cabecalho"
    atual: dict[str, str] | None = None
    for linha in linhas[1:]:
        linha = linha.rstrip("\r")
        if linha.startswith("Tree="):
            atual = {"Tree": linha[5:]}
            arvores.append(atual)
            secao = "arvore"
            continue
        if linha.strip() == "end of trees":
            fim_arvores = True
            secao = "fim"
            continue
        if linha.strip() == "parameters:":
            secao = "parametros"
            parametros_abertos = True
            continue
        if linha.strip() == "end of parameters":
            secao = "fim"
            parametros_fechados = True
            continue
        kv = _chave_valor(linha)
        if secao == "cabecalho" and kv:
            cabecalho[kv[0]] = kv[1]
        elif secao == "arvore" and kv and atual is not None:
            atual[kv[0]] = kv[1]
        elif secao == "parametros" and linha.startswith("[") and linha.endswith("]"):
            k, _, v = linha[1:-1].partition(":")
            parametros[k.strip()] = v.strip()
    if "version" not in cabecalho:
        raise ErroLeitura("cabeçalho LightGBM sem 'version'")
    if not fim_arvores:
        raise ErroLeitura("marcador 'end of trees' ausente: arquivo truncado")
    if parametros_abertos and not parametros_fechados:
        raise ErroLeitura("marcador 'end of parameters' ausente: arquivo truncado")
    declarados = cabecalho.get("tree_sizes", "").split()
    if declarados and len(declarados) != len(arvores):
        raise ErroLeitura(
            f"o cabeçalho declara {len(declarados)} árvores, o arquivo "
            f"tem {len(arvores)}"
        )
    for i, arv in enumerate(arvores):
        for chave in _LGB_ARVORE_OBRIGATORIOS:
            if chave not in arv:
                raise ErroLeitura(f"árvore {i} sem '{chave}'")
        try:
            folhas = int(arv["num_leaves"])
            valores = [float(x) for x in arv["leaf_value"].split()]
            divisoes = {
                k: arv[k].split()
                for k in ("split_feature", "threshold", "left_child", "right_child")
                if k in arv
            }
        except ValueError as e:
            raise ErroLeitura(f"árvore {i}: valor numérico inválido ({e})") from None
        if len(valores) != folhas:
            raise ErroLeitura(
                f"árvore {i}: {len(valores)} valores de folha para num_leaves={folhas}"
            )
        for k, itens in divisoes.items():
            if len(itens) != folhas - 1:
                raise ErroLeitura(
                    f"árvore {i}: '{k}' tem {len(itens)} itens, esperado {folhas - 1}"
                )
    return {"cabecalho": cabecalho, "arvores": arvores, "parametros": parametros}


# --- XGBoost model document ----------------------------------------------------------


def _tamanho(x: Any) -> int:
    return len(x) if isinstance(x, (list, array)) else -1


def validar_xgboost(doc: Any) -> dict[str, Any]:
    """Check an XGBoost model (parsed JSON/UBJSON); return a short summary."""
    if not isinstance(doc, dict) or "learner" not in doc:
        raise ErroLeitura("documento sem 'learner': não é um modelo XGBoost")
    learner = doc["learner"]
    versao = doc.get("version")
    if not isinstance(learner, dict):
        raise ErroLeitura("'learner' não é um objeto")
    gb = learner.get("gradient_booster")
    if not isinstance(gb, dict) or "name" not in gb:
        raise ErroLeitura("'gradient_booster' ausente ou inválido")
    params = learner.get("learner_model_param", {})
    try:
        num_feature = int(params.get("num_feature", "0"))
    except (TypeError, ValueError):
        raise ErroLeitura("num_feature inválido") from None
    resumo: dict[str, Any] = {
        "booster": gb["name"],
        "versao": versao,
        "num_feature": num_feature,
        "arvores": 0,
    }
    modelo = (
        gb.get("model", gb.get("gbtree", {}).get("model"))
        if gb["name"] == "dart"
        else gb.get("model")
    )
    if gb["name"] in ("gbtree", "dart"):
        if not isinstance(modelo, dict) or not isinstance(modelo.get("trees"), list):
            raise ErroLeitura("modelo de árvores sem a lista 'trees'")
        arvores = modelo["trees"]
        declarado = modelo.get("gbtree_model_param", {}).get("num_trees")
        if declarado is not None and int(declarado) != len(arvores):
            raise ErroLeitura(
                f"num_trees declara {declarado} árvores, o modelo tem {len(arvores)}"
            )
        for i, arv in enumerate(arvores):
            if not isinstance(arv, dict):
                raise ErroLeitura(f"árvore {i} inválida")
            try:
                nos = int(arv["tree_param"]["num_nodes"])
            except (KeyError, TypeError, ValueError):
                raise ErroLeitura(f"árvore {i} sem tree_param.num_nodes") from None
            for chave in (
                "left_children",
                "right_children",
                "split_indices",
                "split_conditions",
                "base_weights",
            ):
                if _tamanho(arv.get(chave)) != nos:
                    raise ErroLeitura(f"árvore {i}: '{chave}' não tem {nos} itens")
            for chave in ("left_children", "right_children"):
                if any(not -1 <= int(x) < nos for x in arv[chave]):
                    raise ErroLeitura(f"árvore {i}: índice de filho fora do intervalo")
            if num_feature and any(
                not 0 <= int(x) < num_feature for x in arv["split_indices"]
            ):
                raise ErroLeitura(f"árvore {i}: atributo de divisão fora do intervalo")
        resumo["arvores"] = len(arvores)
    elif gb["name"] == "gblinear":
        if not isinstance(modelo, dict) or "weights" not in modelo:
            raise ErroLeitura("modelo linear sem 'weights'")
    else:
        raise ErroLeitura(f"booster desconhecido {gb['name']!r}")
    return resumo
