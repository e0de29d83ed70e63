#!/usr/bin/env bash
# Tour de 60 segundos: backups de um modelo real (com tipo de mudança deduzido),
# listar, comparar, verificar, restaurar, status.
#
# Idempotente: tudo fica em ./demo (repositório ./demo/backups_modelos), nunca no
# ./backups_modelos de verdade. Rodar de novo diz o que achou do tour anterior e
# recomeça numa pasta nova, então a "Primeira" versão é sempre a 1.0.0.
set -euo pipefail
PY="${1:-python3}"
DEMO="${DEMO_PASTA:-demo}"  # another folder for tests
REPO="$DEMO/backups_modelos"
MARCA="$DEMO/.tour_backup_versionamento"
# The subcommand first, then --base (an option of every subcommand).
cli() { "$PY" inicializar_backup.py "$1" --base "$REPO" "${@:2}"; }
passo() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -e "$DEMO" ]; then
  # Ours: the marker, or a tour from before the marker existed (its model file).
  if [ ! -e "$MARCA" ] && [ ! -e "$DEMO/modelo_lotofacil.joblib" ]; then
    echo "erro: $DEMO existe e não foi criada pelo tour; mova-a ou apague-a" >&2
    exit 1
  fi
  achado=$(cli listar --modelo modelo_lotofacil.joblib --json 2>/dev/null |
    "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null ||
    echo 0)
  printf 'Tour anterior encontrado em %s (%s versões de modelo_lotofacil.joblib);\n' \
    "$DEMO" "$achado"
  printf 'recomeçando numa pasta nova (seus backups em ./backups_modelos não são tocados).\n'
  rm -rf "$DEMO"
fi
mkdir -p "$DEMO"
: >"$MARCA"

passo "1. Treinando um modelo scikit-learn (50 árvores)"
"$PY" exemplos/treinar_modelo.py "$DEMO"/modelo_lotofacil.joblib --arvores 50

passo "2. Primeiro backup"
cli backup --modelo "$DEMO"/modelo_lotofacil.joblib --tipo-mudanca melhoria \
  --descricao "Modelo inicial"

passo "3. Retreinando com outros dados (tipo de mudança deduzido: auto)"
"$PY" exemplos/treinar_modelo.py "$DEMO"/modelo_lotofacil.joblib --arvores 50 --semente 1
cli backup --modelo "$DEMO"/modelo_lotofacil.joblib --tipo-mudanca auto \
  --descricao "Retreino"

passo "4. Mais árvores: hiperparâmetro mudou (auto deduz major)"
"$PY" exemplos/treinar_modelo.py "$DEMO"/modelo_lotofacil.joblib --arvores 80 --semente 1
cli backup --modelo "$DEMO"/modelo_lotofacil.joblib --tipo-mudanca auto \
  --descricao "Mais árvores"

passo "5. Backup sem mudança (não cria versão)"
cli backup --modelo "$DEMO"/modelo_lotofacil.joblib --descricao "Backup manual"

passo "6. Listando as versões"
cli listar --modelo modelo_lotofacil.joblib

passo "7. Comparando a primeira e a última versão"
cli comparar --modelo modelo_lotofacil.joblib --de 1.0.0

passo "8. Verificando a integridade do repositório"
cli verificar --completa

passo "9. Restaurando a versão 1.0.0"
rm -rf "$DEMO"/restaurado
cli restaurar --modelo modelo_lotofacil.joblib --versao 1.0.0 --destino "$DEMO"/restaurado/

passo "10. Status"
cli status
printf '\nRepositório em %s; log em %s/logs/backup_system.log\n' "$REPO" "$REPO"
