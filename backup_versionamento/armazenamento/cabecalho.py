"""The algorithms a repository header names must be the ones this version runs.

A header is read once per open; its fields decide how chunks are cut, named and
compressed. One that names another algorithm (another tool's header, a newer
version, an edit) is refused before anything is read or written: ignoring it
would dedup against wrong ids or store chunks nobody can read back.
"""

from __future__ import annotations

from typing import Any

from ..erros import ErroRepositorio

# Features a repository may use that change how its objects are read: a
# program that does not know one refuses the repository by name instead of
# reporting its objects as corrupt (docs/FORMATO.md, "recursos").
RECURSOS = frozenset({"deltas"})

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
    recursos = cab.get("recursos", [])
    if not isinstance(recursos, list) or not all(isinstance(r, str) for r in recursos):
        raise recusar("recursos", recursos, "uma lista de nomes")
    if desconhecidos := sorted(set(recursos) - RECURSOS):
        raise ErroRepositorio(
            f"{onde}: o repositório usa recurso(s) que esta versão não conhece "
            f"({', '.join(desconhecidos)}); atualize o backup_versionamento para "
            "lê-lo. Nada foi lido nem gravado (o repositório não está corrompido)"
        )
