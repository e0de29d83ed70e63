"""Error hierarchy: one root, each class carries its exit code.

    ErroBackup (1)
    ├── ErroArgumento (2)
    ├── ErroConfiguracao (3)
    ├── ErroArquivoNaoEncontrado (4)
    ├── ErroPermissao (5)
    ├── ErroVersaoNaoEncontrada (6)
    ├── ErroTipoMudanca (7)
    ├── ErroRepositorio (8)
    │   └── ErroTransitorio (8)
    ├── ErroIntegridade (9)
    │   ├── ErroObjetoCorrompido (9)
    │   └── ErroChaveAusente (9)
    ├── ErroEspacoInsuficiente (10)
    ├── ErroTrava (11)
    ├── ErroValidacao (12)
    ├── ErroRestauracao (13)
    ├── ErroDaemon (14)
    ├── ErroNaoSuportado (15)
    ├── ErroCriptografia (16)
    └── ErroAcessoNegado (17)

Third-party and OS errors are translated into these at the boundary, so the CLI
maps every user mistake to a message in Portuguese and a documented exit code.
"""

from __future__ import annotations


class ErroBackup(Exception):
    """Root of every error this package raises on purpose."""

    codigo_saida = 1
    descricao_saida = "erro interno inesperado"

    def __init__(self, mensagem: str) -> None:
        super().__init__(mensagem)
        self.mensagem = mensagem

    def __str__(self) -> str:
        return self.mensagem


class ErroArgumento(ErroBackup):
    """A call with a wrong type or an out-of-range value (API or CLI)."""

    codigo_saida = 2
    descricao_saida = "uso incorreto da linha de comando ou da API (argumento inválido)"


class ErroConfiguracao(ErroBackup):
    codigo_saida = 3
    descricao_saida = "configuração inválida"

    def __init__(self, mensagem: str, problemas: list[str] | None = None) -> None:
        super().__init__(mensagem)
        self.problemas = problemas or []


class ErroArquivoNaoEncontrado(ErroBackup):
    codigo_saida = 4
    descricao_saida = "arquivo ou pasta não encontrado"


class ErroPermissao(ErroBackup):
    codigo_saida = 5
    descricao_saida = (
        "permissão negada (inclui credenciais ou acesso recusados pelo S3)"
    )


class ErroVersaoNaoEncontrada(ErroBackup):
    codigo_saida = 6
    descricao_saida = "modelo ou versão não encontrado (ou versão mal escrita)"


class ErroTipoMudanca(ErroBackup):
    codigo_saida = 7
    descricao_saida = "tipo de mudança inválido"


class ErroRepositorio(ErroBackup):
    codigo_saida = 8
    descricao_saida = (
        "repositório inválido, inacessível (bucket inexistente, servidor S3 fora "
        "do ar) ou formato desconhecido"
    )


class ErroTransitorio(ErroRepositorio):
    """A storage failure worth retrying: throttling, a reset connection, a timeout."""


class ErroIntegridade(ErroBackup):
    codigo_saida = 9
    descricao_saida = "falha de integridade (objeto ou metadado corrompido)"


class ErroObjetoCorrompido(ErroIntegridade):
    def __init__(self, mensagem: str, objeto: str) -> None:
        super().__init__(mensagem)
        self.objeto = objeto


class ErroChaveAusente(ErroIntegridade):
    """A backend key that should exist does not (a missing object is damage)."""

    def __init__(self, mensagem: str, chave: str) -> None:
        super().__init__(mensagem)
        self.chave = chave


class ErroEspacoInsuficiente(ErroBackup):
    codigo_saida = 10
    descricao_saida = "espaço em disco insuficiente"


class ErroTrava(ErroBackup):
    codigo_saida = 11
    descricao_saida = "trava ocupada por outro processo"


class ErroValidacao(ErroBackup):
    codigo_saida = 12
    descricao_saida = "o modelo ou as métricas falharam na validação"


class ErroRestauracao(ErroBackup):
    codigo_saida = 13
    descricao_saida = "restauração recusada"


class ErroDaemon(ErroBackup):
    codigo_saida = 14
    descricao_saida = "erro do daemon"


class ErroNaoSuportado(ErroBackup):
    codigo_saida = 15
    descricao_saida = "recurso ainda não suportado"


class ErroCriptografia(ErroBackup):
    """No usable key, a wrong key, or encryption required but absent."""

    codigo_saida = 16
    descricao_saida = (
        "chave de criptografia ausente ou errada, ou repositório sem a "
        "criptografia exigida"
    )


class ErroAcessoNegado(ErroBackup):
    """The operating-system user lacks the role (seguranca.controle_acesso)."""

    codigo_saida = 17
    descricao_saida = (
        "acesso negado pelo controle de acesso (seguranca.controle_acesso)"
    )


def _classes(raiz: type[ErroBackup]) -> list[type[ErroBackup]]:
    return [raiz, *(c for s in raiz.__subclasses__() for c in _classes(s))]


# Each exit code with the class that owns it; 0 and the signals have no class.
CODIGOS_SAIDA: dict[int, str] = {
    0: "sucesso",
    **dict(
        sorted(
            {c.codigo_saida: c.descricao_saida for c in _classes(ErroBackup)}.items()
        )
    ),
    130: "interrompido pelo usuário (Ctrl+C)",
    143: "encerrado por SIGTERM (timeout, systemd, CI); temporários removidos",
}
