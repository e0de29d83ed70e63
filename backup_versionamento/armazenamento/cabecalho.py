"""The algorithms a repository header names must be the ones this version runs.

A header is read once per open; its fields decide how chunks are cut, named and
compressed. One that names another algorithm (another tool's header, a newer
version, an edit) is refused before anything is read or written: ignoring it
would dedup against wrong ids or store chunks nobody can read back.
"""

from __future__ import annotations

from typing import Any

from ..erros import ErroRepositorio

# pyfastcdc accepts sizes in this range.
_CDC_LIMITES = (256, 4 << 20)


def conferir_parametros(cab: dict[str, Any], onde: str) -> None:
    """Raise ErroRepositorio (exit 8) naming the field when `cab` is not ours."""

    def recusar(campo: str, valor: Any, esperado: str) -> ErroRepositorio:
        return ErroRepositorio(
            f"{onde}: o cabeçalho aponta para outro formato ({campo} = {valor!r}; "
            f"esta versão usa {esperado}). Nada foi lido nem gravado: confira se "
            "--base / diretorios.base é a pasta certa, atualize o "
            "backup_versionamento, ou restaure o repositorio.json de uma cópia"
        )

    for campo, esperado in (("hash_bloco", "blake3"), ("hash_arquivo", "sha256")):
        if campo in cab and cab[campo] != esperado:
            raise recusar(campo, cab[campo], repr(esperado))
    compressao = cab.get("compressao", {})
    if (
        not isinstance(compressao, dict)
        or compressao.get("algoritmo", "zstd") != "zstd"
    ):
        raise recusar("compressao", compressao, "{'algoritmo': 'zstd'}")
    frag = cab.get("fragmentacao")
    if not isinstance(frag, dict):
        raise recusar("fragmentacao", frag, "os parâmetros do FastCDC")
    if frag.get("algoritmo", "fastcdc2020") != "fastcdc2020":
        raise recusar("fragmentacao.algoritmo", frag.get("algoritmo"), "'fastcdc2020'")
    tamanhos = [frag.get(k) for k in ("minimo", "medio", "maximo")]
    lo, hi = _CDC_LIMITES
    inteiros = [
        n
        for n in tamanhos
        if isinstance(n, int) and not isinstance(n, bool) and lo <= n <= hi
    ]
    if len(inteiros) != 3 or not (inteiros[0] <= inteiros[1] <= inteiros[2]):
        raise recusar(
            "fragmentacao",
            frag,
            f"minimo <= medio <= maximo, inteiros entre {lo} e {hi}",
        )
    chaveados = cab.get("ids_chaveados", False)
    if not isinstance(chaveados, bool) or (chaveados and not cab.get("criptografia")):
        raise recusar(
            "ids_chaveados", chaveados, "true só num repositório criptografado"
        )
