#!/usr/bin/env python3
"""Benchmark de backup e restauração: este projeto, cp, tar|zstd, restic e borg.

Uso: python benchmarks/bench_backup.py [--tamanho-mb 512] [--pasta DIR] [--sem-externos]
       [--pesos bin|safetensors-f32|safetensors-bf16]

Gera um arquivo de pesos float32 (normal padrão, semente fixa) e uma variante
"ajustada" (10% alterado em algumas regiões + 4 KiB inseridos perto do início),
mede cada ferramenta num subprocesso (tempo de parede; pico de RSS e CPU pelo
/usr/bin/time) e imprime uma tabela Markdown. Detalhes em benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

try:
    import numpy as np
except ImportError:  # the benchmark's only dependency outside the stdlib
    sys.exit("bench_backup: precisa do numpy; instale com `pip install numpy`")

RAIZ_PROJETO = Path(__file__).resolve().parent.parent
NOME_ARQUIVO = "pesos_modelo.bin"
SEMENTE = 20240601
BLOCO_IO = 16 << 20  # one reused buffer for generating and copying
FRACAO_ALTERADA = 0.10
INICIO_REGIOES = (0.15, 0.40, 0.65, 0.88)  # fractions of the file
TAMANHO_INSERCAO = 4096
POSICAO_INSERCAO = 1_000_003  # near the start and deliberately unaligned
LIMITE_RSS = 300 * 10**6
FATOR_META = 3  # throughput goal: three times restic's, in the same run
MB = 10**6
SENHA_RESTIC = "benchmark"  # restic cannot run without one (it always encrypts)
RELOGIO = "/usr/bin/time"  # GNU time: peak RSS and CPU of each child
# Debian package for each external command.
PACOTES = {RELOGIO: "time", "zstd": "zstd", "restic": "restic", "borg": "borgbackup"}


class ErroMedicao(Exception):
    """A tool failed or restored the wrong bytes."""


# -- input files ---------------------------------------------------------------


@dataclass(frozen=True)
class Entradas:
    v1: Path
    v2: Path
    sha_v1: str
    sha_v2: str
    tamanho_v1: int
    tamanho_v2: int


def regioes_alteradas(tamanho: int) -> list[tuple[int, int]]:
    """Byte ranges of v1 changed in v2: float-aligned, FRACAO_ALTERADA in total."""
    comprimento = int(tamanho * FRACAO_ALTERADA / len(INICIO_REGIOES)) // 4 * 4
    return [
        (ini, ini + comprimento)
        for ini in (int(tamanho * f) // 4 * 4 for f in INICIO_REGIOES)
    ]


def gerar_v1(destino: Path, tamanho: int) -> str:
    """Standard normal float32 weights, written through one reused buffer."""
    rng = np.random.default_rng(SEMENTE)
    buf = bytearray(BLOCO_IO)
    pesos = np.frombuffer(buf, dtype=np.float32)
    sha = hashlib.sha256()
    restante = tamanho
    with open(destino, "wb", buffering=0) as f:
        while restante:
            n = min(restante, BLOCO_IO) // 4
            rng.standard_normal(out=pesos[:n], dtype=np.float32)
            vista = memoryview(buf)[: n * 4]
            sha.update(vista)
            f.write(vista)
            restante -= n * 4
    return sha.hexdigest()


def gerar_v2(v1: Path, destino: Path) -> str:
    """v1 "fine-tuned": noise added inside a few regions, 4 KiB inserted early."""
    tamanho = v1.stat().st_size
    regioes = regioes_alteradas(tamanho)
    rng = np.random.default_rng(SEMENTE + 1)
    insercao = rng.bytes(TAMANHO_INSERCAO)
    buf = bytearray(BLOCO_IO)
    pesos = np.frombuffer(buf, dtype=np.float32)
    sha = hashlib.sha256()
    offset = 0

    def escrever(f: IO[bytes], dados: bytes | memoryview) -> None:
        sha.update(dados)
        f.write(dados)

    with open(v1, "rb", buffering=0) as origem, open(destino, "wb") as f:
        while n := origem.readinto(buf):
            for ini, fim in regioes:
                a, b = max(ini, offset), min(fim, offset + n)
                if a < b:
                    trecho = pesos[(a - offset) // 4 : (b - offset) // 4]
                    trecho += np.float32(0.01) * rng.standard_normal(
                        len(trecho), dtype=np.float32
                    )
            vista = memoryview(buf)[:n]
            corte = POSICAO_INSERCAO - offset
            if 0 <= corte < n:
                escrever(f, vista[:corte])
                escrever(f, insercao)
                escrever(f, vista[corte:])
            else:
                escrever(f, vista)
            offset += n
    return sha.hexdigest()


# Model-weights case (issue 22): trained-like weights (normal, sigma 0.05) in a
# safetensors file; v2 is a fine-tune in which every weight moved (sigma 1e-4).
SIGMA_PESOS = 0.05
SIGMA_AJUSTE = 1e-4
N_TENSORES = 32


def gerar_safetensors(destino: Path, tamanho: int, dtype: str, ajuste: bool) -> str:
    """The safetensors layout written directly (u64 header length, JSON,
    tensors): the `safetensors` package is not needed. Same seed for v1 and v2,
    so v2's weights are v1's plus the fine-tune's noise."""
    largura = 4 if dtype == "F32" else 2
    por_tensor = tamanho // N_TENSORES // largura
    cab = {
        f"camada{i}.weight": {
            "dtype": dtype,
            "shape": [por_tensor],
            "data_offsets": [i * por_tensor * largura, (i + 1) * por_tensor * largura],
        }
        for i in range(N_TENSORES)
    }
    js = json.dumps(cab).encode()
    js += b" " * (-len(js) % 8)
    sha = hashlib.sha256()
    with open(destino, "wb") as f:
        for parte in (len(js).to_bytes(8, "little"), js):
            sha.update(parte)
            f.write(parte)
        for pesos in _tensores(por_tensor, largura, ajuste):
            dados = pesos.tobytes()
            sha.update(dados)
            f.write(dados)
    return sha.hexdigest()


def _tensores(por_tensor: int, largura: int, ajuste: bool) -> Iterator[np.ndarray]:
    """N_TENSORES arrays of weights (float32, or BF16 as uint16: the high half
    of the float32, truncated); the same seeds for v1 and v2."""
    rng = np.random.default_rng(SEMENTE)
    ruido = np.random.default_rng(SEMENTE + 1)
    for _ in range(N_TENSORES):
        pesos = rng.normal(0, SIGMA_PESOS, por_tensor).astype(np.float32)
        if ajuste:
            pesos += ruido.normal(0, SIGMA_AJUSTE, por_tensor).astype(np.float32)
        yield pesos if largura == 4 else (pesos.view(np.uint32) >> 16).astype(np.uint16)


def gerar_pt(destino: Path, tamanho: int, dtype: str, ajuste: bool) -> str:
    """The same tensors saved by torch.save (a zip with data/N members)."""
    try:
        import torch
    except ImportError:
        sys.exit("bench_backup: --pesos pt-* precisa do torch (pip install torch)")
    largura = 4 if dtype == "F32" else 2
    por_tensor = tamanho // N_TENSORES // largura
    estado = {}
    for i, pesos in enumerate(_tensores(por_tensor, largura, ajuste)):
        t = torch.from_numpy(pesos)
        estado[f"camada{i}.weight"] = t if largura == 4 else t.view(torch.bfloat16)
    torch.save(estado, destino)
    return sha256_de(destino)


def preparar_entradas(pasta: Path, tamanho: int, pesos: str = "bin") -> Entradas:
    (pasta / "v1").mkdir()
    (pasta / "v2").mkdir()
    v1 = pasta / "v1" / NOME_ARQUIVO
    v2 = pasta / "v2" / NOME_ARQUIVO
    if pesos == "bin":
        sha_v1 = gerar_v1(v1, tamanho)
        sha_v2 = gerar_v2(v1, v2)
    else:
        dtype = "F32" if pesos.endswith("-f32") else "BF16"
        gerar = gerar_pt if pesos.startswith("pt-") else gerar_safetensors
        sha_v1 = gerar(v1, tamanho, dtype, ajuste=False)
        sha_v2 = gerar(v2, tamanho, dtype, ajuste=True)
    return Entradas(v1, v2, sha_v1, sha_v2, v1.stat().st_size, v2.stat().st_size)


# -- measuring a child process -------------------------------------------------


@dataclass
class Execucao:
    segundos: float  # wall time, final sync included
    cpu: float  # user + system seconds of the children
    pico_rss: int  # bytes


def medir(
    comandos: Sequence[Sequence[str]],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> Execucao:
    """Run a pipeline after a sync; time it including a final sync.

    Each process runs under /usr/bin/time: ru_maxrss from our own wait4 would
    include this (large) Python process, whose pages the child holds between
    fork and exec. Peak RSS is summed over a pipeline (its processes overlap).
    """
    os.sync()
    processos: list[subprocess.Popen[bytes]] = []
    with (
        tempfile.TemporaryDirectory() as temp,
        open(Path(temp) / "erros", "w+b") as erros,
    ):
        usos = [Path(temp) / f"uso{i}" for i in range(len(comandos))]
        inicio = time.perf_counter()
        anterior: IO[bytes] | int = subprocess.DEVNULL
        try:
            for i, cmd in enumerate(comandos):
                ultimo = i == len(comandos) - 1
                p = subprocess.Popen(
                    [RELOGIO, "-f", "%M %U %S", "-o", str(usos[i]), *cmd],
                    cwd=cwd,
                    env=env,
                    stdin=anterior,
                    stdout=subprocess.DEVNULL if ultimo else subprocess.PIPE,
                    stderr=erros,
                )
                if processos and processos[-1].stdout:
                    processos[-1].stdout.close()  # the writer sees EPIPE if we die
                processos.append(p)
                anterior = p.stdout if p.stdout else subprocess.DEVNULL
        except OSError as e:
            for p in processos:
                p.kill()
                p.wait()
            raise ErroMedicao(f"não foi possível executar {cmd[0]}: {e}") from None
        codigos = [p.wait() for p in processos]
        os.sync()
        segundos = time.perf_counter() - inicio
        erros.seek(0)
        texto_erros = erros.read().decode(errors="replace")
        # time(1) may print "Command exited with non-zero status N" first.
        campos = [u.read_text().split()[-3:] for u in usos if u.exists()]
    if any(codigos) or len(campos) != len(comandos):
        linha = " | ".join(" ".join(c) for c in comandos)
        raise ErroMedicao(
            f"`{linha}` saiu com código {codigos}: {texto_erros.strip()[-800:]}"
        )
    pico = sum(int(kib) * 1024 for kib, _, _ in campos)
    cpu = sum(float(usuario) + float(sistema) for _, usuario, sistema in campos)
    return Execucao(segundos, cpu, pico)


def versao_de(cmd: Sequence[str]) -> str:
    """First line of a tool's version output, or '?'."""
    try:
        r = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    except OSError:
        return "?"
    linhas = (r.stdout or r.stderr).strip().splitlines()
    return linhas[0].strip() if linhas else "?"


# -- tools ---------------------------------------------------------------------


class Ferramenta:
    """One backup tool: a repository folder, timed backup and restore."""

    nome = ""
    comandos: tuple[str, ...] = (RELOGIO,)  # external commands it needs

    def __init__(self, trabalho: Path) -> None:
        self.trabalho = trabalho
        self.repo = trabalho / "repo"

    @classmethod
    def disponivel(cls) -> bool:
        return all(shutil.which(c) for c in cls.comandos)

    def versao(self) -> str:
        raise NotImplementedError

    def iniciar(self) -> None:
        """Create an empty repository (not timed)."""
        self.repo.mkdir()

    def backup(self, origem: Path, rotulo: str) -> Execucao:
        raise NotImplementedError

    def restaurar(self, destino: Path) -> tuple[Execucao, Path]:
        """Restore the latest backup into the empty folder `destino`."""
        raise NotImplementedError

    def conteudo_repo(self) -> tuple[int, int]:
        """(bytes, objects) the repository holds now."""
        arquivos = sum(len(nomes) for _r, _s, nomes in os.walk(self.repo))
        return tamanho_pasta(self.repo), arquivos

    def requisicoes(self) -> int:
        """HTTP requests served so far to this tool (object stores only)."""
        return 0

    def descartar(self) -> None:
        """Free what the round left outside its scratch folder (a bucket)."""


_VERSAO_PACOTE = (
    f"import sys; sys.path.insert(0, {str(RAIZ_PROJETO)!r}); "
    "import backup_versionamento as b; print(b.__version__)"
)


class EsteProjeto(Ferramenta):
    nome = "este projeto"

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, str(RAIZ_PROJETO / "inicializar_backup.py"), *args]

    def versao(self) -> str:
        commit = versao_de(
            ["git", "-C", str(RAIZ_PROJETO), "rev-parse", "--short", "HEAD"]
        )
        pacote = versao_de([sys.executable, "-c", _VERSAO_PACOTE])
        return f"backup_versionamento {pacote} (commit {commit}), config padrão"

    def iniciar(self) -> None:
        pass  # the first backup creates the repository

    def endereco(self) -> str:
        return str(self.repo)

    def _env(self) -> dict[str, str]:
        # This machine's caches in the round's scratch folder (like restic's).
        return {**os.environ, "XDG_CACHE_HOME": str(self.trabalho / "cache-projeto")}

    def backup(self, origem: Path, rotulo: str) -> Execucao:
        # cwd = the scratch folder, so no ./config_backup.json is picked up.
        return medir(
            [
                self._cli(
                    "backup",
                    "--modelo",
                    str(origem),
                    "--base",
                    self.endereco(),
                    "--descricao",
                    rotulo,
                    "--json",
                )
            ],
            cwd=self.trabalho,
            env=self._env(),
        )

    def restaurar(self, destino: Path) -> tuple[Execucao, Path]:
        execucao = medir(
            [
                self._cli(
                    "restaurar",
                    "--modelo",
                    NOME_ARQUIVO,
                    "--versao",
                    "ultima",
                    "--destino",
                    str(destino),
                    "--base",
                    self.endereco(),
                    "--json",
                )
            ],
            cwd=self.trabalho,
            env=self._env(),
        )
        return execucao, destino / NOME_ARQUIVO


class EsteProjetoCifrado(EsteProjeto):
    """The same, with seguranca.criptografia on (AES-256-GCM, keyed chunk ids)."""

    nome = "este projeto (cifrado)"

    def iniciar(self) -> None:
        self.config = self.trabalho / "config_cifrado.json"
        self.config.write_text(
            json.dumps(
                {
                    "seguranca": {
                        "criptografia": {
                            "habilitada": True,
                            "chave_arquivo": str(self.trabalho / "chaves" / "chave"),
                        }
                    }
                }
            )
        )

    def versao(self) -> str:
        return super().versao().replace("config padrão", "criptografia ligada")

    def _cli(self, *args: str) -> list[str]:
        return [*super()._cli(*args), "--config", str(self.config)]


class Copia(Ferramenta):
    nome = "cp + sync"
    comandos = (RELOGIO, "cp")

    def versao(self) -> str:
        return versao_de(["cp", "--version"])

    def backup(self, origem: Path, rotulo: str) -> Execucao:
        (self.repo / rotulo).mkdir()
        return medir(
            [["cp", "--reflink=never", str(origem), str(self.repo / rotulo)]],
            cwd=self.trabalho,
        )

    def restaurar(self, destino: Path) -> tuple[Execucao, Path]:
        copia = self.repo / "v2" / NOME_ARQUIVO
        execucao = medir(
            [["cp", "--reflink=never", str(copia), str(destino)]], cwd=self.trabalho
        )
        return execucao, destino / NOME_ARQUIVO


class TarZstd(Ferramenta):
    nome = "tar + zstd -1 -T0"
    comandos = (RELOGIO, "tar", "zstd")

    def versao(self) -> str:
        zstd = versao_de(["zstd", "--version"]).strip("* ")
        return f"{versao_de(['tar', '--version'])}; {zstd}"

    def backup(self, origem: Path, rotulo: str) -> Execucao:
        arquivo = self.repo / f"{rotulo}.tar.zst"
        return medir(
            [
                ["tar", "-cf", "-", "-C", str(origem.parent), origem.name],
                ["zstd", "-1", "-T0", "-q", "-o", str(arquivo)],
            ],
            cwd=self.trabalho,
        )

    def restaurar(self, destino: Path) -> tuple[Execucao, Path]:
        execucao = medir(
            [
                ["zstd", "-d", "-q", "-c", str(self.repo / "v2.tar.zst")],
                ["tar", "-xf", "-", "-C", str(destino)],
            ],
            cwd=self.trabalho,
        )
        return execucao, destino / NOME_ARQUIVO


class Restic(Ferramenta):
    nome = "restic"
    comandos = (RELOGIO, "restic")

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RESTIC_REPOSITORY": str(self.repo),
            "RESTIC_PASSWORD": SENHA_RESTIC,
            "RESTIC_CACHE_DIR": str(self.trabalho / "cache-restic"),
        }

    def versao(self) -> str:
        return versao_de(["restic", "version"])

    def iniciar(self) -> None:
        medir([["restic", "init"]], cwd=self.trabalho, env=self._env())

    def backup(self, origem: Path, rotulo: str) -> Execucao:
        return medir(
            [["restic", "backup", "--quiet", "--tag", rotulo, str(origem)]],
            cwd=self.trabalho,
            env=self._env(),
        )

    def restaurar(self, destino: Path) -> tuple[Execucao, Path]:
        execucao = medir(
            [["restic", "restore", "latest", "--target", str(destino)]],
            cwd=self.trabalho,
            env=self._env(),
        )
        # restic recreates the source's absolute path under the target.
        return execucao, _unico_arquivo(destino)


class Borg(Ferramenta):
    nome = "borg"
    comandos = (RELOGIO, "borg")

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BORG_REPO": str(self.repo),
            "BORG_PASSPHRASE": "",
            "BORG_BASE_DIR": str(self.trabalho / "base-borg"),
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
        }

    def versao(self) -> str:
        return versao_de(["borg", "--version"])

    def iniciar(self) -> None:
        medir(
            [["borg", "init", "--encryption=none"]], cwd=self.trabalho, env=self._env()
        )

    def backup(self, origem: Path, rotulo: str) -> Execucao:
        # Relative path from the source folder: extract recreates just the name.
        return medir(
            [["borg", "create", f"::{rotulo}", origem.name]],
            cwd=origem.parent,
            env=self._env(),
        )

    def restaurar(self, destino: Path) -> tuple[Execucao, Path]:
        execucao = medir([["borg", "extract", "::v2"]], cwd=destino, env=self._env())
        return execucao, destino / NOME_ARQUIVO


# -- the same tools against an S3-compatible server on loopback (--s3) ----------


CREDENCIAIS_S3 = {
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class ServidorS3:
    """moto's S3 server on 127.0.0.1 in this process; counts every request."""

    def __init__(self) -> None:
        import logging
        import socket

        from moto.server import ThreadedMotoServer

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.porta = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.porta}"
        self.pedidos = 0
        servidor = self

        class Contador(logging.Handler):
            def emit(self, registro: logging.LogRecord) -> None:
                servidor.pedidos += 1  # werkzeug logs one line per request

        registro = logging.getLogger("werkzeug")
        registro.setLevel(logging.INFO)
        registro.propagate = False
        registro.addHandler(Contador())
        self._moto = ThreadedMotoServer(
            ip_address="127.0.0.1", port=self.porta, verbose=False
        )
        self._moto.start()
        self._n = 0

    def cliente(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="benchmark",
            aws_secret_access_key="benchmark",
            region_name="us-east-1",
        )

    def novo_bucket(self) -> str:
        self._n += 1
        nome = f"bench-{os.getpid()}-{self._n}"
        self.cliente().create_bucket(Bucket=nome)
        return nome

    def conteudo(self, bucket: str) -> tuple[int, int]:
        pag = self.cliente().get_paginator("list_objects_v2")
        paginas = pag.paginate(Bucket=bucket)
        objetos = [o for p in paginas for o in p.get("Contents", [])]
        return sum(o["Size"] for o in objetos), len(objetos)

    def apagar_bucket(self, bucket: str) -> None:
        cliente = self.cliente()
        pag = cliente.get_paginator("list_objects_v2")
        for p in pag.paginate(Bucket=bucket):
            for o in p.get("Contents", []):
                cliente.delete_object(Bucket=bucket, Key=o["Key"])
        cliente.delete_bucket(Bucket=bucket)

    def ambiente(self) -> dict[str, str]:
        return {**os.environ, **CREDENCIAIS_S3}

    def parar(self) -> None:
        self._moto.stop()


SERVIDOR_S3: ServidorS3 | None = None


def _servidor() -> ServidorS3:
    if SERVIDOR_S3 is None:
        raise ErroMedicao("servidor S3 não iniciado")
    return SERVIDOR_S3


class EmS3(Ferramenta):
    """Mixin: the repository in a fresh bucket of the loopback server."""

    bucket = ""

    def iniciar(self) -> None:
        self.bucket = _servidor().novo_bucket()
        super().iniciar()

    def conteudo_repo(self) -> tuple[int, int]:
        return _servidor().conteudo(self.bucket)

    def requisicoes(self) -> int:
        return _servidor().pedidos

    def descartar(self) -> None:
        _servidor().apagar_bucket(self.bucket)


class EsteProjetoS3(EmS3, EsteProjeto):
    nome = "este projeto (S3)"

    def endereco(self) -> str:
        return f"s3://{self.bucket}/repo"

    def _env(self) -> dict[str, str]:
        return {
            **super()._env(),
            **CREDENCIAIS_S3,
            "AWS_ENDPOINT_URL": _servidor().url,
        }


class ResticS3(EmS3, Restic):
    nome = "restic (S3)"

    def _env(self) -> dict[str, str]:
        return {
            **super()._env(),
            **CREDENCIAIS_S3,
            "RESTIC_REPOSITORY": f"s3:{_servidor().url}/{self.bucket}",
        }


FERRAMENTAS: tuple[type[Ferramenta], ...] = (
    EsteProjeto,
    EsteProjetoCifrado,
    Copia,
    TarZstd,
    Restic,
    Borg,
)
FERRAMENTAS_S3: tuple[type[Ferramenta], ...] = (EsteProjetoS3, ResticS3)
EXTERNAS = {Restic, Borg, ResticS3}


def _unico_arquivo(pasta: Path) -> Path:
    achados = [p for p in pasta.rglob(NOME_ARQUIVO) if p.is_file()]
    if len(achados) != 1:
        raise ErroMedicao(f"{pasta}: esperado 1 arquivo restaurado, achados {achados}")
    return achados[0]


def tamanho_pasta(pasta: Path) -> int:
    """Apparent size of every file under `pasta` (data, indexes, metadata)."""
    return sum(
        os.lstat(os.path.join(raiz, n)).st_size
        for raiz, _subs, nomes in os.walk(pasta)
        for n in nomes
    )


def sha256_de(caminho: Path) -> str:
    sha = hashlib.sha256()
    buf = bytearray(BLOCO_IO)
    vista = memoryview(buf)
    with open(caminho, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            sha.update(vista[:n])
    return sha.hexdigest()


# -- one round of a tool --------------------------------------------------------


@dataclass
class Rodada:
    backup_v1: float  # seconds
    backup_v2: float
    restauracao: float
    bytes_v2: int
    pico_rss: int
    sha_ok: bool
    cpu_v1: float  # CPU seconds of the v1 backup
    arquivos: int  # files the repository holds after the v1 backup
    requisicoes_v1: int = 0  # HTTP requests of the v1 backup (object stores)
    requisicoes_v2: int = 0
    bytes_v1: int = 0  # what the v1 backup added to the repository


def trocar_entrada(origem: Path, arquivo: Path) -> None:
    """Point the fixed source path at another version (hard link, no copy)."""
    temp = arquivo.with_name(arquivo.name + ".novo")
    os.link(origem, temp)
    os.replace(temp, arquivo)


def compilar_bytecode() -> None:
    """Compile the package as installed (pip and `make instalar` do it): with
    PYTHONDONTWRITEBYTECODE=1 every measured run would recompile it instead."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            str(RAIZ_PROJETO / "backup_versionamento"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


_DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def pode_esvaziar_cache() -> bool:
    return os.geteuid() == 0 and os.access(_DROP_CACHES, os.W_OK)


def esvaziar_cache() -> None:
    """Free the page cache the rest of the machine left, once, before the inputs
    are generated (root only).

    With the page cache full, every write of every tool waits for reclaim (cp +
    sync of 512 MiB swings from 0.3 to 1.5 s). Dropping it before *each*
    measurement was tried and is worse: these VMs hand freed memory back to the
    host, and the next writes into it are slower (a 512 MiB backup 0.57 s ->
    0.70 s). Once at the start, the rounds (a few GB) then run in free memory.
    """
    os.sync()
    if pode_esvaziar_cache():
        _DROP_CACHES.write_text("1\n")


def rodar_ferramenta(
    classe: type[Ferramenta], entradas: Entradas, pasta: Path
) -> Rodada:
    """v1 backup, v2 backup, restore of v2 into an empty folder, then clean up."""
    trabalho = Path(tempfile.mkdtemp(prefix="ferramenta-", dir=pasta))
    try:
        f = classe(trabalho)
        origem = trabalho / "fonte" / NOME_ARQUIVO
        origem.parent.mkdir()
        trocar_entrada(entradas.v1, origem)
        f.iniciar()
        inicial, _ = f.conteudo_repo()
        pedidos = f.requisicoes()
        v1 = f.backup(origem, "v1")
        requisicoes_v1 = f.requisicoes() - pedidos
        depois_v1, arquivos = f.conteudo_repo()
        if depois_v1 <= inicial:
            raise ErroMedicao(f"{f.nome}: o backup da v1 não gravou nada")
        trocar_entrada(entradas.v2, origem)
        pedidos = f.requisicoes()
        v2 = f.backup(origem, "v2")
        requisicoes_v2 = f.requisicoes() - pedidos
        bytes_v2 = f.conteudo_repo()[0] - depois_v1
        destino = trabalho / "restaurado"
        destino.mkdir()
        restauracao, restaurado = f.restaurar(destino)
        if not restaurado.is_file():
            raise ErroMedicao(f"{f.nome}: a restauração não criou {restaurado}")
        sha_ok = sha256_de(restaurado) == entradas.sha_v2
        rodada = Rodada(
            v1.segundos,
            v2.segundos,
            restauracao.segundos,
            bytes_v2,
            max(v1.pico_rss, v2.pico_rss, restauracao.pico_rss),
            sha_ok,
            v1.cpu,
            arquivos,
            requisicoes_v1,
            requisicoes_v2,
            depois_v1 - inicial,
        )
        f.descartar()
        return rodada
    finally:
        shutil.rmtree(trabalho, ignore_errors=True)


@dataclass
class Resultado:
    """One tool's rounds, summarized as medians (peak RSS: the maximum)."""

    nome: str
    versao: str
    entradas: Entradas
    rodadas: list[Rodada] = field(default_factory=list)
    erro: str = ""

    def _mediana(self, atributo: str) -> float:
        return statistics.median(getattr(r, atributo) for r in self.rodadas)

    def faixa(self, atributo: str, tamanho: int) -> str:
        """Worst–best MB/s over the rounds."""
        tempos = [getattr(r, atributo) for r in self.rodadas]
        return f"{tamanho / MB / max(tempos):.0f}–{tamanho / MB / min(tempos):.0f}"

    @property
    def vazao_backup_v1(self) -> float:
        return self.entradas.tamanho_v1 / MB / self._mediana("backup_v1")

    @property
    def vazao_backup_v2(self) -> float:
        return self.entradas.tamanho_v2 / MB / self._mediana("backup_v2")

    @property
    def vazao_restauracao(self) -> float:
        return self.entradas.tamanho_v2 / MB / self._mediana("restauracao")

    @property
    def cpu_v1(self) -> float:
        return self._mediana("cpu_v1")

    @property
    def arquivos(self) -> float:
        return self._mediana("arquivos")

    @property
    def bytes_v1(self) -> float:
        return self._mediana("bytes_v1")

    @property
    def bytes_v2(self) -> float:
        return self._mediana("bytes_v2")

    @property
    def pico_rss(self) -> int:
        return max(r.pico_rss for r in self.rodadas)

    @property
    def sha_ok(self) -> bool:
        return all(r.sha_ok for r in self.rodadas)

    @property
    def valido(self) -> bool:
        return bool(self.rodadas) and not self.erro


# -- installing the external tools ----------------------------------------------


def garantir_comandos(comandos: Sequence[str]) -> None:
    """apt-get install the Debian packages of missing commands (best effort)."""
    faltando = sorted(
        {PACOTES[c] for c in comandos if c in PACOTES and not shutil.which(c)}
    )
    if not faltando:
        return
    if not shutil.which("apt-get") or os.geteuid() != 0:
        aviso(f"faltam {', '.join(faltando)} e não dá para instalar (sem apt-get/root)")
        return
    aviso(f"instalando {', '.join(faltando)} com apt-get...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *faltando],
    ):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if r.returncode:
            aviso(f"`{' '.join(cmd)}` falhou: {r.stderr.strip()[-500:]}")
            return


def aviso(texto: str) -> None:
    print(f"[bench] {texto}", file=sys.stderr, flush=True)


# -- report ----------------------------------------------------------------------


def fatos_da_maquina(pasta: Path, carga: tuple[float, ...]) -> list[str]:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for linha in f:
            if linha.startswith("model name"):
                cpu = linha.split(":", 1)[1].strip()
                break
    memoria = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    sistema_arquivos = versao_de(["findmnt", "-no", "FSTYPE", "-T", str(pasta)])
    return [
        f"data: {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"CPU: {cpu}, {os.cpu_count()} núcleos; memória: {memoria:.1f} GiB",
        f"sistema: Linux {platform.release()}, sistema de arquivos {sistema_arquivos} "
        f"({pasta}); Python {platform.python_version()}",
        "carga média antes das medições (1/5/15 min): "
        + " / ".join(f"{c:.2f}" for c in carga)
        + " (outros processos na máquina distorcem os tempos)",
        "page cache esvaziado antes das rodadas: "
        + ("sim" if pode_esvaziar_cache() else "não (precisa de root)"),
    ]


def formatar_tabela_s3(resultados: list[Resultado]) -> str:
    linhas = [
        "| Ferramenta | Backup v1 (MB/s) | Backup v2 (MB/s) | Restauração v2 (MB/s) "
        "| Requisições backup v1 | Requisições backup v2 | Objetos no bucket "
        "| SHA-256 |",
        "|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in resultados:
        if not r.valido:
            linhas.append(f"| {r.nome} | falhou | | | | | | |")
            continue
        linhas.append(
            f"| {r.nome} | {r.vazao_backup_v1:.0f} | {r.vazao_backup_v2:.0f} "
            f"| {r.vazao_restauracao:.0f} | {r._mediana('requisicoes_v1'):.0f} "
            f"| {r._mediana('requisicoes_v2'):.0f} | {r.arquivos:.0f} "
            f"| {'ok' if r.sha_ok else 'DIFERENTE'} |"
        )
    return "\n".join(linhas)


def formatar_tabela(resultados: list[Resultado]) -> str:
    linhas = [
        "| Ferramenta | Backup v1 (MB/s) | Backup v2 (MB/s) | Bytes adicionados "
        "pela v2 | Restauração v2 (MB/s) | Pico RSS (MB) | CPU backup v1 (s) "
        "| Arquivos no repositório | SHA-256 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in resultados:
        if not r.valido:
            linhas.append(f"| {r.nome} | falhou | | | | | | | |")
            continue
        fracao = r.bytes_v2 / r.entradas.tamanho_v2
        linhas.append(
            f"| {r.nome} | {r.vazao_backup_v1:.0f} | {r.vazao_backup_v2:.0f} "
            f"| {r.bytes_v2 / MB:.1f} MB ({fracao:.1%}) "
            f"| {r.vazao_restauracao:.0f} | {r.pico_rss / MB:.0f} | {r.cpu_v1:.2f} "
            f"| {r.arquivos:.0f} | {'ok' if r.sha_ok else 'DIFERENTE'} |"
        )
    return "\n".join(linhas)


# (label, Resultado attribute) of each ratio printed against the references.
RAZOES = (
    ("backup v1", "vazao_backup_v1"),
    ("restauração", "vazao_restauracao"),
    ("bytes da v2", "bytes_v2"),
    ("pico RSS", "pico_rss"),
)


def formatar_razoes(projeto: Resultado, referencias: list[Resultado]) -> list[str]:
    return [
        f"- ÷ {ref.nome}: "
        + ", ".join(
            f"{rotulo} {getattr(projeto, attr) / max(getattr(ref, attr), 1e-9):.2f}×"
            for rotulo, attr in RAZOES
        )
        for ref in referencias
    ]


def _meta(texto: str, nosso: str, deles: str, ok: bool) -> str:
    return f"- {texto}: {nosso} vs {deles} — {'ATINGIDA' if ok else 'NÃO atingida'}"


# Encryption may cost at most this share of the backup throughput.
CUSTO_MAXIMO_CIFRA = 0.20


def formatar_metas_cifra(
    claro: Resultado, cifrado: Resultado, restic: Resultado | None
) -> list[str]:
    custo_b = 1 - cifrado.vazao_backup_v1 / claro.vazao_backup_v1
    custo_r = 1 - cifrado.vazao_restauracao / claro.vazao_restauracao
    metas = [
        _meta(
            f"custo da criptografia no backup ≤ {CUSTO_MAXIMO_CIFRA:.0%}",
            f"{custo_b:.0%} ({cifrado.vazao_backup_v1:.0f} MB/s cifrado)",
            f"{claro.vazao_backup_v1:.0f} MB/s sem",
            custo_b <= CUSTO_MAXIMO_CIFRA,
        ),
        f"- custo da criptografia na restauração: {custo_r:.0%} "
        f"({cifrado.vazao_restauracao:.0f} vs {claro.vazao_restauracao:.0f} MB/s)",
    ]
    if restic is None:
        return metas
    c, r = cifrado, restic
    return [
        *metas,
        _meta(
            f"backup cifrado (v1) ≥ {FATOR_META}× restic",
            f"{c.vazao_backup_v1:.0f} MB/s",
            f"{FATOR_META} × {r.vazao_backup_v1:.0f} MB/s",
            c.vazao_backup_v1 >= FATOR_META * r.vazao_backup_v1,
        ),
        _meta(
            f"restauração cifrada ≥ {FATOR_META}× restic",
            f"{c.vazao_restauracao:.0f} MB/s",
            f"{FATOR_META} × {r.vazao_restauracao:.0f} MB/s",
            c.vazao_restauracao >= FATOR_META * r.vazao_restauracao,
        ),
    ]


def formatar_metas(projeto: Resultado, restic: Resultado | None) -> list[str]:
    p = projeto
    metas = [
        _meta(
            f"pico de RSS < {LIMITE_RSS // MB} MB",
            f"{p.pico_rss / MB:.0f} MB",
            f"{LIMITE_RSS // MB} MB",
            p.pico_rss < LIMITE_RSS,
        )
    ]
    if restic is None:
        return [*metas, "- metas contra o restic: restic não medido (não avaliadas)"]
    r = restic
    return [
        _meta(
            f"vazão de backup (v1) ≥ {FATOR_META}× restic",
            f"{p.vazao_backup_v1:.0f} MB/s",
            f"{FATOR_META} × {r.vazao_backup_v1:.0f} MB/s",
            p.vazao_backup_v1 >= FATOR_META * r.vazao_backup_v1,
        ),
        _meta(
            f"vazão de restauração ≥ {FATOR_META}× restic",
            f"{p.vazao_restauracao:.0f} MB/s",
            f"{FATOR_META} × {r.vazao_restauracao:.0f} MB/s",
            p.vazao_restauracao >= FATOR_META * r.vazao_restauracao,
        ),
        _meta(
            "bytes adicionados pela v2 ≤ restic",
            f"{p.bytes_v2 / MB:.1f} MB",
            f"{r.bytes_v2 / MB:.1f} MB",
            p.bytes_v2 <= r.bytes_v2,
        ),
        *metas,
    ]


NOTAS = [
    "memória: o page cache que a máquina acumulou é esvaziado uma vez, antes de "
    "gerar as entradas (/proc/sys/vm/drop_caches, só como root), e as rodadas "
    "correm em memória livre; as entradas acabaram de ser geradas e estão quentes",
    "cada medição começa depois de um `sync` e inclui um `sync` no fim (cp e tar "
    "não fazem fsync; assim todos pagam a escrita em disco)",
    "MB = 10^6 bytes; MB/s = tamanho do arquivo ÷ tempo de parede do subprocesso "
    "(inclui a partida do processo); mediana das repetições",
    "este projeto roda com o bytecode compilado antes das medições (python -m "
    "compileall), como o deixam o pip e o `make instalar`; sem isso, onde "
    "PYTHONDONTWRITEBYTECODE=1, cada comando recompilaria o pacote",
    "restauração deste projeto com a conferência padrão: cada bloco pelo seu hash "
    "(BLAKE3), o tamanho e o arquivo inteiro de ponta a ponta (BLAKE3 gravado no "
    "backup, docs/FORMATO.md); `--conferir-sha256` acrescenta o SHA-256 do "
    "arquivo inteiro (docs/DESEMPENHO.md mede o custo)",
    "bytes adicionados pela v2 = crescimento da pasta do repositório (soma dos "
    "tamanhos dos arquivos: dados, índices, metadados)",
    "arquivos no repositório = quantos arquivos a pasta do repositório tem depois do "
    "backup da v1 (este projeto: pacotes de ~16 MiB, fragmento, sidecar, cabeçalho, "
    "log; o estado desta máquina fica fora, em $XDG_CACHE_HOME)",
    "pico RSS = máximo residente de cada processo medido pelo /usr/bin/time (o "
    "wait4 do próprio Python contaria o RSS do pai herdado no fork), somado nos "
    "processos de um pipeline; "
    "o maior entre backup v1, backup v2 e restauração, em todas as repetições",
    "CPU = tempo de usuário + sistema dos processos do backup da v1 (mediana); "
    "perto de 2 × o tempo de parede quer dizer os 2 núcleos ocupados",
    "restauração = última versão (v2) numa pasta vazia; SHA-256 conferido contra o "
    "arquivo original para toda ferramenta",
    f"o arquivo é {NOME_ARQUIVO} (formato não reconhecido): este projeto não roda "
    "o teste de carregamento, então a medida é só a do armazenamento",
    "sem criptografia: este projeto (padrão) e borg `--encryption=none`; o restic "
    "sempre cifra (AES-256-CTR + Poly1305) e não tem como desligar",
    "compressão: padrão de cada um — este projeto zstd-1 só quando compensa, restic "
    "`auto` (zstd), borg lz4, tar + zstd -1 -T0 (pipeline); com --pesos "
    "safetensors-* / pt-*, este projeto reconhece os tensores float pelo cabeçalho "
    "(não pelo nome do arquivo) e os comprime com os bytes agrupados "
    "(docs/DESEMPENHO.md)",
]


# -- main ---------------------------------------------------------------------------


def ler_argumentos(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Mede backup, deduplicação e restauração deste projeto ao lado "
        "de cp, tar|zstd, restic e borg.",
    )
    p.add_argument(
        "--tamanho-mb",
        type=int,
        default=None,
        help="tamanho dos pesos em MiB (512; 128 com --pesos safetensors-*)",
    )
    p.add_argument(
        "--pesos",
        choices=("bin", "safetensors-f32", "safetensors-bf16", "pt-f32", "pt-bf16"),
        default="bin",
        help="entrada: float32 normal padrão com v2 10%% alterada (bin), ou um "
        "safetensors / torch.save FP32/BF16 (normal, σ 0.05) com v2 = todo peso "
        "ajustado (σ 1e-4)",
    )
    p.add_argument(
        "--pasta",
        type=Path,
        default=None,
        help="onde criar os arquivos temporários (padrão: pasta temporária do sistema)",
    )
    p.add_argument(
        "--sem-externos",
        action="store_true",
        help="não instala nem mede restic e borg (só cp, tar + zstd e este projeto)",
    )
    p.add_argument(
        "--s3",
        action="store_true",
        help="também mede este projeto e o restic num servidor S3 (moto) no "
        "loopback: vazão, requisições por backup (precisa de moto[server] e boto3)",
    )
    p.add_argument(
        "--repeticoes",
        type=int,
        default=3,
        help="rodadas por ferramenta; a tabela mostra a mediana (3)",
    )
    args = p.parse_args(argv)
    if args.tamanho_mb is None:
        args.tamanho_mb = 512 if args.pesos == "bin" else 128
    if args.tamanho_mb < 8:
        p.error("--tamanho-mb deve ser pelo menos 8")
    if args.repeticoes < 1:
        p.error("--repeticoes deve ser pelo menos 1")
    return args


def medir_todas(
    classes: list[type[Ferramenta]], entradas: Entradas, pasta: Path, repeticoes: int
) -> list[Resultado]:
    resultados = {c: Resultado(c.nome, c(pasta).versao(), entradas) for c in classes}
    for i in range(repeticoes):
        # Rotate the order so no tool always runs first (or right after another).
        ordem = classes[i % len(classes) :] + classes[: i % len(classes)]
        for classe in ordem:
            r = resultados[classe]
            if r.erro:
                continue
            aviso(f"rodada {i + 1}/{repeticoes}: {classe.nome}...")
            try:
                rodada = rodar_ferramenta(classe, entradas, pasta)
            except ErroMedicao as e:
                r.erro = str(e)
                aviso(f"{classe.nome} falhou: {e}")
                continue
            r.rodadas.append(rodada)
            aviso(
                f"  backup v1 {rodada.backup_v1:.2f} s, v2 {rodada.backup_v2:.2f} s, "
                f"restauração {rodada.restauracao:.2f} s, "
                f"RSS {rodada.pico_rss / MB:.0f} MB, "
                f"SHA-256 {'ok' if rodada.sha_ok else 'DIFERENTE'}"
            )
    return [resultados[c] for c in classes]


def relatorio(
    resultados: list[Resultado],
    pasta: Path,
    carga: tuple[float, ...],
    args: argparse.Namespace,
) -> str:
    validos = {r.nome: r for r in resultados if r.valido}
    if args.pesos == "bin":
        titulo = (
            f"## Benchmark: {args.tamanho_mb} MiB de pesos float32, v2 = "
            f"{FRACAO_ALTERADA:.0%} alterado + {TAMANHO_INSERCAO} B inseridos"
        )
    else:
        titulo = (
            f"## Benchmark: {args.tamanho_mb} MiB de pesos em {args.pesos} "
            f"(normal, σ {SIGMA_PESOS}), v2 = todo peso ajustado (σ {SIGMA_AJUSTE})"
        )
    partes = [
        f"{titulo} (mediana de {args.repeticoes} rodada(s))",
        "",
        formatar_tabela([r for r in resultados if not r.nome.endswith("(S3)")]),
        "",
        "Bytes guardados pela v1 (fração do arquivo):",
        *(
            f"- {r.nome}: {r.bytes_v1 / MB:.1f} MB "
            f"({r.bytes_v1 / r.entradas.tamanho_v1:.3f})"
            for r in resultados
            if r.valido
        ),
        "",
    ]
    if projeto := validos.get(EsteProjeto.nome):
        referencias = [validos[n] for n in (Restic.nome, Borg.nome) if n in validos]
        if referencias:
            partes += [
                "Razões (este projeto ÷ referência):",
                *formatar_razoes(projeto, referencias),
                "",
            ]
        partes += [
            "Metas da issue:",
            *formatar_metas(projeto, validos.get(Restic.nome)),
            "",
        ]
        if cifrado := validos.get(EsteProjetoCifrado.nome):
            partes += [
                "Metas da criptografia (issue 9):",
                *formatar_metas_cifra(projeto, cifrado, validos.get(Restic.nome)),
                "",
            ]
    if args.repeticoes > 1 and validos:
        partes += [
            "Faixas (MB/s, pior–melhor rodada):",
            *(
                f"- {r.nome}: backup v1 "
                f"{r.faixa('backup_v1', r.entradas.tamanho_v1)}, restauração "
                f"{r.faixa('restauracao', r.entradas.tamanho_v2)}"
                for r in validos.values()
            ),
            "",
        ]
    if s3 := [r for r in resultados if r.nome.endswith("(S3)")]:
        partes += [
            "### S3: servidor compatível (moto) em 127.0.0.1, mesma rodada",
            "",
            formatar_tabela_s3(s3),
            "",
        ]
    if erros := [f"- {r.nome}: {r.erro}" for r in resultados if r.erro]:
        partes += ["Falhas:", *erros, ""]
    partes += ["Versões:", *(f"- {r.nome}: {r.versao}" for r in resultados), ""]
    partes += ["Máquina:", *(f"- {f}" for f in fatos_da_maquina(pasta, carga)), ""]
    partes += ["Notas:", *(f"- {n}" for n in NOTAS)]
    return "\n".join(partes)


def main(argv: Sequence[str] | None = None) -> int:
    args = ler_argumentos(argv)
    todas = FERRAMENTAS + (FERRAMENTAS_S3 if args.s3 else ())
    classes = [c for c in todas if not (args.sem_externos and c in EXTERNAS)]
    garantir_comandos([cmd for c in classes for cmd in c.comandos])
    for c in [c for c in classes if not c.disponivel()]:
        aviso(f"{c.nome}: falta {', '.join(c.comandos)}; fica de fora")
        classes.remove(c)

    tamanho = args.tamanho_mb << 20
    base: Path = args.pasta or Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    if (livre := shutil.disk_usage(base).free) < 6 * tamanho:
        aviso(
            f"{base}: {livre / MB:.0f} MB livres; são precisos {6 * tamanho / MB:.0f}"
        )
        return 1
    pasta = Path(tempfile.mkdtemp(prefix="bench_backup-", dir=base))
    compilar_bytecode()
    global SERVIDOR_S3
    if args.s3:
        try:
            SERVIDOR_S3 = ServidorS3()
        except ImportError:
            aviso("--s3 precisa de moto[server] e boto3: pip install 'moto[server]'")
            return 1
    try:
        aviso(
            f"gerando {args.tamanho_mb} MiB de pesos e a variante ajustada em {pasta}"
        )
        esvaziar_cache()
        entradas = preparar_entradas(pasta, tamanho, args.pesos)
        carga = os.getloadavg()
        resultados = medir_todas(classes, entradas, pasta, args.repeticoes)
        print(relatorio(resultados, pasta, carga, args))
    finally:
        shutil.rmtree(pasta, ignore_errors=True)
        if SERVIDOR_S3 is not None:
            SERVIDOR_S3.parar()
    return 0 if all(r.valido and r.sha_ok for r in resultados) else 1


if __name__ == "__main__":
    sys.exit(main())
