from .cli import executar_console

executar_console()
