#!/usr/bin/env bash
# Tour de 60 segundos: dois backups de um modelo real, listar, verificar, restaurar, status.
set -euo pipefail
PY="${1:-python3}"
CLI=("$PY" inicializar_backup.py)
passo() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

passo "1. Treinando um modelo scikit-learn (50 árvores)"
"$PY" exemplos/treinar_modelo.py demo/modelo_lotofacil.joblib --arvores 50

passo "2. Primeiro backup"
"${CLI[@]}" backup --modelo demo/modelo_lotofacil.joblib --tipo-mudanca melhoria \
  --descricao "Modelo inicial"

passo "3. Retreinando (80 árvores) e fazendo o segundo backup"
"$PY" exemplos/treinar_modelo.py demo/modelo_lotofacil.joblib --arvores 80 --semente 1
"${CLI[@]}" backup --modelo demo/modelo_lotofacil.joblib --tipo-mudanca retreino \
  --descricao "Mais árvores"

passo "4. Backup sem mudança (não cria versão)"
"${CLI[@]}" backup --modelo demo/modelo_lotofacil.joblib --descricao "Backup manual"

passo "5. Listando as versões"
"${CLI[@]}" listar --modelo modelo_lotofacil.joblib

passo "6. Verificando a integridade do repositório"
"${CLI[@]}" verificar --completa

passo "7. Restaurando a versão 1.0.0"
rm -rf demo/restaurado
"${CLI[@]}" restaurar --modelo modelo_lotofacil.joblib --versao 1.0.0 --destino demo/restaurado/

passo "8. Status"
"${CLI[@]}" status
printf '\nRepositório em ./backups_modelos; log em ./backups_modelos/logs/backup_system.log\n'
