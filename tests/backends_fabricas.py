"""Backend factories for the contract suite (tests/test_backend_contrato.py).

One entry per kind of backend; a new backend (S3) joins the whole suite by
adding one factory here. A factory takes the test's tmp_path and is a context
manager, so it can start and stop what the backend needs (a server, a bucket)
or call pytest.skip when that is not available.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from backup_versionamento.armazenamento.backends import (
    Backend,
    BackendLocal,
    BackendMemoria,
)

Fabrica = Callable[[Path], AbstractContextManager[Backend]]


@contextmanager
def _memoria(tmp_path: Path) -> Iterator[Backend]:
    yield BackendMemoria()


@contextmanager
def _local(tmp_path: Path) -> Iterator[Backend]:
    # The folder does not exist yet: the backend creates folders on demand.
    yield BackendLocal(tmp_path / "repo")


@contextmanager
def _s3(tmp_path: Path) -> Iterator[Backend]:
    # A real S3-compatible server on loopback (moto); one prefix per test.
    pytest.importorskip("moto.server")
    from backup_versionamento.armazenamento.backends.s3 import BackendS3

    from .s3_servidor import servidor

    srv = servidor()
    yield BackendS3(
        srv.bucket_compartilhado(), f"contrato/{uuid.uuid4().hex}", endpoint_url=srv.url
    )


@contextmanager
def _memoria_sem_condicional(tmp_path: Path) -> Iterator[Backend]:
    # A store that ignores If-None-Match (s3rver, old S3/MinIO/Ceph), made whole
    # again by the probe and the claim protocol.
    from backup_versionamento.armazenamento.backends.reivindicacao import (
        BackendCriacaoSondada,
        BackendSemCondicional,
    )

    yield BackendCriacaoSondada(BackendSemCondicional(BackendMemoria()))


FABRICAS: dict[str, Fabrica] = {
    "memoria": _memoria,
    "local": _local,
    "s3": _s3,
    "memoria_sem_condicional": _memoria_sem_condicional,
}


def _defeituosa(sem_condicional: bool, atrasada: bool) -> Fabrica:
    @contextmanager
    def fabrica(tmp_path: Path) -> Iterator[Backend]:
        from backup_versionamento.armazenamento.backends.falhas import (
            BackendListagemAtrasada,
        )
        from backup_versionamento.armazenamento.backends.reivindicacao import (
            BackendCriacaoSondada,
            BackendSemCondicional,
        )

        loja: Backend = BackendMemoria()
        if sem_condicional:
            loja = BackendSemCondicional(loja)
        if atrasada:
            loja = BackendListagemAtrasada(loja)
        yield BackendCriacaoSondada(loja)

    return fabrica


# Stores that break an assumption (kopia's blobtesting has both kinds), behind
# the probe as the engine opens them: exclusive create must stay exclusive or be
# refused with ErroNaoSuportado, never be granted twice.
DEFEITUOSAS: dict[str, Fabrica] = {
    "sem_condicional": _defeituosa(True, False),
    "listagem_atrasada": _defeituosa(False, True),
    "sem_condicional+listagem_atrasada": _defeituosa(True, True),
}
