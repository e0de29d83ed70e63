from . import executar_console

executar_console()
