"""`chaves`: key file, key objects (add, list, remove, rewrap) and signing keys.

None of these rewrites data: a key object only wraps the master key.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..erros import ErroCriptografia, ErroRepositorio
from ..texto import seguro
from .comum import gerenciador_autorizado, imprimir

# lazy: startup time (docs/DESEMPENHO.md); `cryptography` loads with the action
if TYPE_CHECKING:
    from ..seguranca.chaves import Credencial


def registrar(sub: argparse._SubParsersAction, comum: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "chaves",
        help="gerencia as chaves de criptografia e de assinatura",
        description="Chaves de um repositório criptografado (objetos chaves/<id>.json "
        "que embrulham a chave mestra) e o par de chaves de assinatura. Nada disso "
        "regrava dados. A senha atual vem de BACKUP_VERSIONAMENTO_SENHA (ou é "
        "perguntada num terminal); uma senha nova, de BACKUP_VERSIONAMENTO_SENHA_NOVA.",
    )
    acoes = p.add_subparsers(dest="acao", metavar="AÇÃO", required=True)
    a = acoes.add_parser(
        "criar",
        parents=[comum],
        help="cria um arquivo de chave novo (32 bytes aleatórios, 0600, pasta 0700)",
    )
    a.add_argument(
        "--arquivo",
        metavar="CAMINHO",
        help="onde criar (padrão: seguranca.criptografia.chave_arquivo)",
    )
    a.set_defaults(executar=_criar)
    for nome, ajuda, funcao in (
        (
            "adicionar",
            "adiciona outra chave (arquivo ou senha) ao repositório",
            _adicionar,
        ),
        ("reembrulhar", "troca uma chave por outra (arquivo ou senha)", _reembrulhar),
    ):
        a = acoes.add_parser(nome, parents=[comum], help=ajuda, description=ajuda)
        if nome == "reembrulhar":
            a.add_argument("id", help="id da chave a trocar (veja `chaves listar`)")
        else:
            a.add_argument(
                "--usuario",
                metavar="NOME",
                help="de quem é a chave (uma por pessoa; `chaves remover --usuario "
                "NOME` a tira). Padrão: quem roda o comando",
            )
        grupo = a.add_mutually_exclusive_group(required=True)
        grupo.add_argument(
            "--arquivo",
            metavar="CAMINHO",
            help="arquivo de chave (criado se não existir)",
        )
        grupo.add_argument(
            "--senha",
            action="store_true",
            help="uma senha (BACKUP_VERSIONAMENTO_SENHA_NOVA ou perguntada)",
        )
        a.set_defaults(executar=funcao)
    a = acoes.add_parser(
        "listar", parents=[comum], help="lista as chaves do repositório"
    )
    a.set_defaults(executar=_listar)
    a = acoes.add_parser(
        "remover", parents=[comum], help="remove uma chave (nunca a última)"
    )
    alvo = a.add_mutually_exclusive_group(required=True)
    alvo.add_argument("id", nargs="?", help="id da chave (veja `chaves listar`)")
    alvo.add_argument(
        "--usuario", metavar="NOME", help="remove todas as chaves dessa pessoa"
    )
    a.set_defaults(executar=_remover)
    a = acoes.add_parser(
        "gerar-assinatura",
        parents=[comum],
        help="gera um par de chaves Ed25519 para seguranca.assinatura",
    )
    a.add_argument("--saida", required=True, metavar="PASTA")
    a.set_defaults(executar=_gerar_assinatura)


def _credencial(args: argparse.Namespace) -> Credencial:
    from ..seguranca.chaves import (
        TIPO_ARQUIVO,
        TIPO_SENHA,
        Credencial,
        criar_arquivo_chave,
        ler_arquivo_chave,
        senha_nova,
    )

    if args.senha:
        return Credencial(TIPO_SENHA, senha_nova(), "senha")
    arq = Path(args.arquivo).expanduser().resolve()
    segredo = ler_arquivo_chave(arq) if arq.exists() else criar_arquivo_chave(arq)
    return Credencial(TIPO_ARQUIVO, segredo, str(arq))


def _criar(args: argparse.Namespace) -> int:
    from .. import config as configuracao
    from ..seguranca.chaves import criar_arquivo_chave

    if args.arquivo:
        arq = Path(args.arquivo).expanduser().resolve()
    else:
        cfg = configuracao.carregar(args.config, base=args.base)
        arq = Path(cfg["seguranca"]["criptografia"]["chave_arquivo"])
    criar_arquivo_chave(arq)
    imprimir(
        args,
        {"arquivo": str(arq)},
        lambda: (
            f"Arquivo de chave criado: {seguro(str(arq))} (guarde uma cópia "
            "fora desta máquina: sem ele os dados não podem ser lidos)"
        ),
    )
    return 0


def _adicionar(args: argparse.Namespace) -> int:
    cred = _credencial(args)
    with gerenciador_autorizado(args, "admin") as g:
        novo = g.seguranca.chave.adicionar(cred, args.usuario)
        g.eventos.emitir(
            "chave_alterada",
            acao="adicionada",
            id=novo,
            tipo=cred.tipo,
            usuario_chave=args.usuario or "",
        )
    imprimir(
        args,
        {"id": novo, "tipo": cred.tipo, "usuario": args.usuario},
        lambda: (
            f"Chave adicionada: {novo}"
            + (f" (de {seguro(args.usuario)})" if args.usuario else "")
        ),
    )
    return 0


def _reembrulhar(args: argparse.Namespace) -> int:
    cred = _credencial(args)
    with gerenciador_autorizado(args, "admin") as g:
        novo = g.seguranca.chave.reembrulhar(args.id, cred)
        g.eventos.emitir(
            "chave_alterada", acao="reembrulhada", id=novo, anterior=args.id
        )
        lembrete = _lembrete_chave_arquivo(g.seguranca.chave.arquivo_chave, cred)
    imprimir(
        args,
        {"id": novo, "anterior": args.id, "tipo": cred.tipo, "lembrete": lembrete},
        lambda: f"Chave {seguro(args.id)} trocada por {novo}\nLembrete: {lembrete}",
    )
    return 0


def _lembrete_chave_arquivo(configurado: Path, cred: Credencial) -> str:
    """What the user must change so the next command opens the repository."""
    from ..seguranca.chaves import TIPO_ARQUIVO, VARIAVEL_SENHA

    atual = seguro(str(configurado))
    if cred.tipo == TIPO_ARQUIVO:
        if Path(cred.descricao) == configurado.expanduser().resolve():
            return (
                f"o arquivo de chave {atual} (seguranca.criptografia.chave_arquivo) "
                "mudou: guarde uma cópia nova dele fora desta máquina"
            )
        return (
            f"atualize seguranca.criptografia.chave_arquivo para "
            f"{seguro(cred.descricao)} (hoje aponta para {atual}) e guarde uma "
            "cópia dele fora desta máquina"
        )
    return (
        f"a chave agora abre com a senha ({VARIAVEL_SENHA} ou perguntada); "
        f"se seguranca.criptografia.chave_arquivo ({atual}) era a chave trocada, "
        "atualize essa chave da configuração"
    )


def _remover(args: argparse.Namespace) -> int:
    with gerenciador_autorizado(args, "admin") as g:
        if args.usuario:
            removidas = g.seguranca.chave.remover_de(args.usuario)
        else:
            g.seguranca.chave.remover(args.id)
            removidas = [args.id]
        for id_chave in removidas:
            g.eventos.emitir("chave_alterada", acao="removida", id=id_chave)
    imprimir(
        args,
        {"removida": removidas[0], "removidas": removidas},
        lambda: (
            f"Chave(s) removida(s): {seguro(', '.join(removidas))}"
            + (
                f" (de {seguro(args.usuario)}). Quem já abriu o repositório pode ter "
                "guardado a chave mestra: veja docs/SEGURANCA.md, 'Revogar'"
                if args.usuario
                else ""
            )
        ),
    )
    return 0


def _listar(args: argparse.Namespace) -> int:
    # Needs no key: the key objects' public fields are plaintext.
    from .. import config as configuracao
    from ..armazenamento.backends.endereco import backend_para
    from ..armazenamento.repositorio import ler_cabecalho
    from ..seguranca.chaves import Chaveiro, publico

    cfg = configuracao.carregar(args.config, base=args.base)
    backend = backend_para(cfg["diretorios"]["base"], cfg)  # s3:// is no Path
    cab = ler_cabecalho(backend)
    if cab is None:
        raise ErroRepositorio(f"{backend.descrever()}: repositório não encontrado")
    if not cab.get("criptografia"):
        raise ErroCriptografia(
            f"{backend.descrever()}: o repositório não é criptografado (sem chaves)"
        )
    chaves = [publico(o) for o in Chaveiro(backend, str(cab["id"])).listar()]

    def texto() -> str:
        linhas = [f"{len(chaves)} chave(s) em {seguro(backend.descrever())}:"]
        for c in chaves:
            linhas.append(
                f"  {c['id']}  {c['tipo']:<7}  {c.get('criada_em', '?')}  "
                f"{seguro(str(c.get('usuario', '')))}@"
                f"{seguro(str(c.get('host', '')))}  "
                f"{seguro(str(c.get('descricao', '')))}"
            )
        return "\n".join(linhas)

    imprimir(args, chaves, texto)
    return 0


def _gerar_assinatura(args: argparse.Namespace) -> int:
    from ..seguranca.assinatura import gerar_par

    privada, publica = gerar_par(Path(args.saida).expanduser().resolve())
    imprimir(
        args,
        {"chave_privada": str(privada), "chave_publica": str(publica)},
        lambda: (
            f"Par Ed25519 gerado:\n  privada: {seguro(str(privada))} (0600)\n"
            f"  pública: {seguro(str(publica))}\nConfigure seguranca.assinatura."
            "chave_privada e chave_publica com esses caminhos."
        ),
    )
    return 0
