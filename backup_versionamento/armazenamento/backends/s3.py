"""S3 backend: the repository's keys as objects under `s3://bucket/prefix/`.

Works with AWS S3 and any S3-compatible store (MinIO, Ceph, moto). boto3 is
imported only when a BackendS3 is built, so a local-only install never needs it.
Credentials come from the standard AWS chain (environment variables, profiles,
instance roles); this module never stores nor prints them.

Exclusive create is `PutObject` with `If-None-Match: *`: the store itself
decides which writer wins, so two machines never overwrite each other's
sidecar. Transient failures (throttling, 5xx, dropped connections) become
ErroTransitorio, which BackendComRetentativas retries with backoff + jitter;
permanent ones (no bucket, access denied, bad keys) become clear messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from ...base.padroes import THREADS_BACKUP
from ...erros import (
    ErroBackup,
    ErroChaveAusente,
    ErroConfiguracao,
    ErroIntegridade,
)
from .base import InfoObjeto, Partes, como_vistas, validar_chave, validar_intervalo
from .s3_erros import CODIGOS_AUSENTE, codigo_erro, traduzir_erro
from .s3_partes import abortar_envios_antigos, gravar_em_partes

log = logging.getLogger("SistemaBackup")

# Objects above this go up in parts, in parallel (S3 parts are >= 5 MiB).
LIMIAR_MULTIPART = 64 << 20
TAMANHO_PARTE = 16 << 20


def separar_endereco(endereco: str) -> tuple[str, str]:
    """'s3://bucket/a/b/' -> ('bucket', 'a/b'); ErroConfiguracao if malformed."""
    if not endereco.startswith("s3://"):
        raise ErroConfiguracao(f"{endereco}: endereço S3 deve começar com s3://")
    bucket, _, prefixo = endereco[len("s3://") :].partition("/")
    if not bucket:
        raise ErroConfiguracao(
            f"{endereco}: falta o nome do bucket (use s3://BUCKET/PREFIXO)"
        )
    return bucket, prefixo.strip("/")


class BackendS3:
    """Objects in one bucket under one prefix; thread-safe (one boto3 client)."""

    # Locks on this machine say nothing about other machines writing here.
    exclusao_real = False
    # If-None-Match: some servers ignore it; probed
    criacao_condicional: bool | None = None
    leitura_maxima = 8 << 20  # each GET has latency: few large ranges
    somente_leitura = False
    pasta_local = None  # nothing to measure; logs go to the state folder

    def __init__(
        self,
        bucket: str,
        prefixo: str = "",
        *,
        endpoint_url: str | None = None,
        regiao: str | None = None,
        perfil: str | None = None,
        threads: int = THREADS_BACKUP,
        limiar_multipart: int = LIMIAR_MULTIPART,
        tamanho_parte: int = TAMANHO_PARTE,
    ) -> None:
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
        except ImportError:  # pragma: no cover - boto3 is a dependency
            raise ErroConfiguracao(
                "repositório S3 requer o pacote boto3; instale com `pip install boto3`"
            ) from None
        self.bucket = bucket
        self.prefixo = prefixo.strip("/")
        self.threads = max(1, threads)
        self.limiar_multipart = max(limiar_multipart, 5 << 20)
        self.tamanho_parte = max(tamanho_parte, 5 << 20)
        self._exc = botocore.exceptions
        try:
            sessao = boto3.session.Session(
                profile_name=perfil or None, region_name=regiao or None
            )
        except botocore.exceptions.ProfileNotFound:
            raise ErroConfiguracao(
                f"perfil AWS {perfil!r} não encontrado em ~/.aws/config; confira "
                "AWS_PROFILE ou o nome do perfil"
            ) from None
        # Retries live in BackendComRetentativas (one policy for every backend).
        cfg = botocore.config.Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=max(10, 2 * self.threads + 4),
        )
        self.endpoint_url = endpoint_url or None
        self._cliente = sessao.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=regiao or sessao.region_name or "us-east-1",
            config=cfg,
        )
        # The endpoint actually used (explicit, AWS_ENDPOINT_URL or AWS's own).
        self.endpoint_efetivo = self._cliente.meta.endpoint_url

    def __repr__(self) -> str:
        return f"BackendS3({self.descrever()!r})"

    def restringir(self) -> None:
        """Objects have no modes: access is the bucket policy's (docs/S3.md)."""

    def descrever(self) -> str:
        return (
            f"s3://{self.bucket}/{self.prefixo}"
            if self.prefixo
            else (f"s3://{self.bucket}")
        )

    # -- keys and errors -----------------------------------------------------------
    def _chave_s3(self, chave: str) -> str:
        validar_chave(chave)
        return f"{self.prefixo}/{chave}" if self.prefixo else chave

    def _alvo(self, chave: str) -> str:
        return f"{self.descrever()}/{chave}"

    def _traduzir(self, e: Exception, alvo: str) -> ErroBackup:
        """A boto3/botocore error as the project's error, naming `alvo`."""
        return traduzir_erro(
            e, alvo, bucket=self.bucket, endpoint=self.endpoint_efetivo, exc=self._exc
        )

    _codigo = staticmethod(codigo_erro)

    def _chamar(self, alvo: str, funcao: Callable[[], Any]) -> Any:
        try:
            return funcao()
        except Exception as e:
            erro = self._traduzir(e, alvo)
            raise erro from None

    def _falhar(self, e: Exception, alvo: str) -> NoReturn:
        raise self._traduzir(e, alvo) from None

    # -- reading -------------------------------------------------------------------
    def ler(self, chave: str) -> bytes:
        s3 = self._chave_s3(chave)
        try:
            resposta = self._cliente.get_object(Bucket=self.bucket, Key=s3)
            return bytes(resposta["Body"].read())
        except Exception as e:
            if self._codigo(e) in CODIGOS_AUSENTE:
                raise self._ausente(chave) from None
            self._falhar(e, self._alvo(chave))

    def _ausente(self, chave: str) -> ErroChaveAusente:
        return ErroChaveAusente(
            f"{self._alvo(chave)}: objeto ausente no repositório; rode "
            "`inicializar_backup.py verificar`",
            chave,
        )

    def ler_intervalo(self, chave: str, inicio: int, tamanho: int) -> bytes:
        s3 = self._chave_s3(chave)
        validar_intervalo(inicio, tamanho)
        curto = ErroIntegridade(
            f"{self._alvo(chave)}: objeto menor que o esperado (pedidos {tamanho} "
            f"bytes a partir de {inicio}); rode `inicializar_backup.py verificar`"
        )
        if tamanho == 0:
            info = self.info(chave)
            if info is None:
                raise self._ausente(chave)
            if inicio > info.tamanho:
                raise curto
            return b""
        try:
            resposta = self._cliente.get_object(
                Bucket=self.bucket,
                Key=s3,
                Range=f"bytes={inicio}-{inicio + tamanho - 1}",
            )
            dados = bytes(resposta["Body"].read())
        except Exception as e:
            codigo = self._codigo(e)
            if codigo in CODIGOS_AUSENTE:
                raise self._ausente(chave) from None
            if codigo == "InvalidRange":
                raise curto from None
            self._falhar(e, self._alvo(chave))
        if len(dados) != tamanho:
            raise curto
        return dados

    def info(self, chave: str) -> InfoObjeto | None:
        s3 = self._chave_s3(chave)
        try:
            r = self._cliente.head_object(Bucket=self.bucket, Key=s3)
        except Exception as e:
            if self._codigo(e) in CODIGOS_AUSENTE:
                return None
            self._falhar(e, self._alvo(chave))
        return InfoObjeto(chave, int(r["ContentLength"]), r["LastModified"].timestamp())

    def existe(self, chave: str) -> bool:
        return self.info(chave) is not None

    def listar(self, prefixo: str) -> Iterator[InfoObjeto]:
        base = f"{self.prefixo}/" if self.prefixo else ""
        paginador = self._cliente.get_paginator("list_objects_v2")
        try:
            for pagina in paginador.paginate(Bucket=self.bucket, Prefix=base + prefixo):
                for obj in pagina.get("Contents", ()):
                    chave = obj["Key"][len(base) :]
                    try:
                        validar_chave(chave)
                    except ValueError:
                        continue  # not ours (a "folder" marker, a foreign name)
                    yield InfoObjeto(
                        chave, int(obj["Size"]), obj["LastModified"].timestamp()
                    )
        except Exception as e:
            self._falhar(e, f"{self.descrever()}/{prefixo}")

    # -- writing -------------------------------------------------------------------
    def gravar(self, chave: str, partes: Partes, *, exclusivo: bool = False) -> bool:
        s3 = self._chave_s3(chave)
        dados = b"".join(como_vistas(partes))  # a copy: the caller may reuse buffers
        alvo = self._alvo(chave)
        if exclusivo:
            try:
                self._cliente.put_object(
                    Bucket=self.bucket, Key=s3, Body=dados, IfNoneMatch="*"
                )
            except Exception as e:
                if self._codigo(e) in ("PreconditionFailed", "412"):
                    return False
                self._falhar(e, alvo)
            return True
        if len(dados) <= self.limiar_multipart:
            self._chamar(
                alvo,
                lambda: self._cliente.put_object(
                    Bucket=self.bucket, Key=s3, Body=dados
                ),
            )
        else:
            self._gravar_em_partes(s3, dados, alvo)
        return True

    def gravar_retido(self, chave: str, dados: bytes, dias: int = 0) -> bool:
        """Create `chave` once (False if it exists); with `dias`, under Object Lock.

        Retention is GOVERNANCE mode until now + `dias`: nobody deletes or
        replaces that version meanwhile without s3:BypassGovernanceRetention. The
        bucket must have been created with Object Lock; `dias=0` leaves the
        bucket's default retention (if any) to apply.
        """
        from datetime import datetime, timedelta, timezone

        extra: dict[str, Any] = {}
        if dias > 0:
            extra = {
                "ObjectLockMode": "GOVERNANCE",
                "ObjectLockRetainUntilDate": datetime.now(timezone.utc)
                + timedelta(days=dias),
            }
        try:
            self._cliente.put_object(
                Bucket=self.bucket,
                Key=self._chave_s3(chave),
                Body=dados,
                IfNoneMatch="*",
                **extra,
            )
        except Exception as e:
            if self._codigo(e) in ("PreconditionFailed", "412"):
                return False
            self._falhar(e, self._alvo(chave))
        return True

    def _gravar_em_partes(self, s3: str, dados: bytes, alvo: str) -> None:
        gravar_em_partes(self, s3, dados, alvo)

    def apagar(self, chave: str) -> None:
        s3 = self._chave_s3(chave)
        self._chamar(
            self._alvo(chave),
            lambda: self._cliente.delete_object(Bucket=self.bucket, Key=s3),
        )

    def limpar_temporarios(self, idade_s: float) -> tuple[int, int]:
        """Abort multipart uploads older than `idade_s` (writers that died):
        (uploads aborted, 0); see s3_partes.abortar_envios_antigos."""
        return abortar_envios_antigos(self, idade_s)

    # -- setup helpers ---------------------------------------------------------------
    def criar_bucket(self) -> None:
        """Create the bucket (tests, a new mirror); fine if it exists."""
        try:
            self._cliente.create_bucket(Bucket=self.bucket)
        except Exception as e:
            if self._codigo(e) in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return
            self._falhar(e, self.descrever())

    def contar_requisicoes(self) -> Callable[[], int]:
        """Count every HTTP request this client sends (benchmark); returns a reader."""
        contagem = [0]

        def contar(**_: Any) -> None:
            contagem[0] += 1

        self._cliente.meta.events.register("before-send.s3", contar)
        return lambda: contagem[0]
