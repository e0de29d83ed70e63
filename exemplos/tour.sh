#!/usr/bin/env bash
# Tour de 60 segundos: backups de um modelo real (com tipo de mudança deduzido),
# listar, comparar, verificar, restaurar, status.
set -euo pipefail
PY="${1:-python3}"
CLI=("$PY" inicializar_backup.py)
passo() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

passo "1. Treinando um modelo scikit-learn (50 árvores)"
"$PY" exemplos/treinar_modelo.py demo/modelo_lotofacil.joblib --arvores 50

passo "2. Primeiro backup"
"${CLI[@]}" backup --modelo demo/modelo_lotofacil.joblib --tipo-mudanca melhoria \
  --descricao "Modelo inicial"

passo "3. Retreinando com outros dados (tipo de mudança deduzido: auto)"
"$PY" exemplos/treinar_modelo.py demo/modelo_lotofacil.joblib --arvores 50 --semente 1
"${CLI[@]}" backup --modelo demo/modelo_lotofacil.joblib --tipo-mudanca auto \
  --descricao "Retreino"

passo "4. Mais árvores: hiperparâmetro mudou (auto deduz major)"
"$PY" exemplos/treinar_modelo.py demo/modelo_lotofacil.joblib --arvores 80 --semente 1
"${CLI[@]}" backup --modelo demo/modelo_lotofacil.joblib --tipo-mudanca auto \
  --descricao "Mais árvores"

passo "5. Backup sem mudança (não cria versão)"
"${CLI[@]}" backup --modelo demo/modelo_lotofacil.joblib --descricao "Backup manual"

passo "6. Listando as versões"
"${CLI[@]}" listar --modelo modelo_lotofacil.joblib

passo "7. Comparando a primeira e a última versão"
"${CLI[@]}" comparar --modelo modelo_lotofacil.joblib --de 1.0.0

passo "8. Verificando a integridade do repositório"
"${CLI[@]}" verificar --completa

passo "9. Restaurando a versão 1.0.0"
rm -rf demo/restaurado
"${CLI[@]}" restaurar --modelo modelo_lotofacil.joblib --versao 1.0.0 --destino demo/restaurado/

passo "10. Status"
"${CLI[@]}" status
printf '\nRepositório em ./backups_modelos; log em ./backups_modelos/logs/backup_system.log\n'
