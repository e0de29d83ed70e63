"""Error hierarchy: one root, each class carries its exit code.

    ErroBackup (1)
    ├── ErroArgumento (2)
    ├── ErroConfiguracao (3)
    ├── ErroArquivoNaoEncontrado (4)
    ├── ErroPermissao (5)
    ├── ErroVersaoNaoEncontrada (6)
    ├── ErroTipoMudanca (7)
    ├── ErroRepositorio (8)
    ├── ErroIntegridade (9)
    │   └── ErroObjetoCorrompido (9)
    ├── ErroEspacoInsuficiente (10)
    ├── ErroTrava (11)
    ├── ErroValidacao (12)
    ├── ErroRestauracao (13)
    ├── ErroDaemon (14)
    └── ErroNaoSuportado (15)

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


class ErroIntegridade(ErroBackup):
    codigo_saida = 9


class ErroObjetoCorrompido(ErroIntegridade):
    def __init__(self, mensagem: str, objeto: str) -> None:
        super().__init__(mensagem)
        self.objeto = objeto


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


CODIGOS_SAIDA: dict[int, str] = {
    0: "sucesso",
    1: "erro interno inesperado",
    2: "uso incorreto da linha de comando ou da API (argumento inválido)",
    3: "configuração inválida",
    4: "arquivo ou pasta não encontrado",
    5: "permissão negada",
    6: "modelo ou versão não encontrado (ou versão mal escrita)",
    7: "tipo de mudança inválido",
    8: "repositório inválido ou formato desconhecido",
    9: "falha de integridade (objeto ou metadado corrompido)",
    10: "espaço em disco insuficiente",
    11: "trava ocupada por outro processo",
    12: "o modelo ou as métricas falharam na validação",
    13: "restauração recusada",
    14: "erro do daemon",
    15: "recurso ainda não suportado",
    130: "interrompido pelo usuário",
}
