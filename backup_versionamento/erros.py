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

    def __init__(self, mensagem: str) -> None:
        super().__init__(mensagem)
        self.mensagem = mensagem

    def __str__(self) -> str:
        return self.mensagem


class ErroArgumento(ErroBackup):
    """A call with a wrong type or an out-of-range value (API or CLI)."""

    codigo_saida = 2


class ErroConfiguracao(ErroBackup):
    codigo_saida = 3

    def __init__(self, mensagem: str, problemas: list[str] | None = None) -> None:
        super().__init__(mensagem)
        self.problemas = problemas or []


class ErroArquivoNaoEncontrado(ErroBackup):
    codigo_saida = 4


class ErroPermissao(ErroBackup):
    codigo_saida = 5


class ErroVersaoNaoEncontrada(ErroBackup):
    codigo_saida = 6


class ErroTipoMudanca(ErroBackup):
    codigo_saida = 7


class ErroRepositorio(ErroBackup):
    codigo_saida = 8


class ErroTransitorio(ErroRepositorio):
    """A storage failure worth retrying: throttling, a reset connection, a timeout."""


class ErroIntegridade(ErroBackup):
    codigo_saida = 9


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


class ErroTrava(ErroBackup):
    codigo_saida = 11


class ErroValidacao(ErroBackup):
    codigo_saida = 12


class ErroRestauracao(ErroBackup):
    codigo_saida = 13


class ErroDaemon(ErroBackup):
    codigo_saida = 14


class ErroNaoSuportado(ErroBackup):
    codigo_saida = 15


class ErroCriptografia(ErroBackup):
    """No usable key, a wrong key, or encryption required but absent."""

    codigo_saida = 16


class ErroAcessoNegado(ErroBackup):
    """The operating-system user lacks the role (seguranca.controle_acesso)."""

    codigo_saida = 17


CODIGOS_SAIDA: dict[int, str] = {
    0: "sucesso",
    1: "erro interno inesperado",
    2: "uso incorreto da linha de comando ou da API (argumento inválido)",
    3: "configuração inválida",
    4: "arquivo ou pasta não encontrado",
    5: "permissão negada (inclui credenciais ou acesso recusados pelo S3)",
    6: "modelo ou versão não encontrado (ou versão mal escrita)",
    7: "tipo de mudança inválido",
    8: (
        "repositório inválido, inacessível (bucket inexistente, servidor S3 fora "
        "do ar) ou formato desconhecido"
    ),
    9: "falha de integridade (objeto ou metadado corrompido)",
    10: "espaço em disco insuficiente",
    11: "trava ocupada por outro processo",
    12: "o modelo ou as métricas falharam na validação",
    13: "restauração recusada",
    14: "erro do daemon",
    15: "recurso ainda não suportado",
    16: "chave de criptografia ausente ou errada, ou repositório sem a "
    "criptografia exigida",
    17: "acesso negado pelo controle de acesso (seguranca.controle_acesso)",
    130: "interrompido pelo usuário (Ctrl+C)",
    143: "encerrado por SIGTERM (timeout, systemd, CI); temporários removidos",
}
