"""Backup and semantic versioning of the Lotofácil project's ML models."""

from .erros import ErroBackup
from .gerenciador import GerenciadorBackupVersionamento, verificar_integridade

__version__ = "1.0.0"
__all__ = ["ErroBackup", "GerenciadorBackupVersionamento", "verificar_integridade"]
