# Dois comandos: `make demo` (instala e faz um tour) e `make test` (instala e testa).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test instalar instalar-teste sistema-teste node-teste lint benchmark benchmark-relatorios limpar

# Debian packages the tests use: Pango for WeasyPrint (PDF), chromium (the HTML
# in a real browser), poppler-utils (pdftotext/pdftoppm). Installed only when
# missing and only as root; otherwise it says what to install.
PACOTES_SISTEMA := chromium poppler-utils libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Bytecode compiled once, as `pip install` does for a package: where
# PYTHONDONTWRITEBYTECODE=1 is set (these machines), every CLI run would
# otherwise recompile the whole package (~0.12 s of each command).
BYTECODE := $(BIN)/python -m compileall -q backup_versionamento

instalar: $(BIN)/python
	$(PIP) install -q -r requirements_backup.txt
	$(BYTECODE)

# torch first: on these machines `torch==2.13.0` is a local CPU build, and a
# later `torch>=...` range is then already satisfied (no multi-GB CUDA download).
instalar-teste: $(BIN)/python sistema-teste node-teste
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[teste,modelos]"
	$(BYTECODE)

sistema-teste:
	@faltam=""; for p in $(PACOTES_SISTEMA); do \
	  dpkg -s $$p >/dev/null 2>&1 || faltam="$$faltam $$p"; done; \
	if [ -n "$$faltam" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$faltam; \
	  else echo "Instale (Debian):$$faltam"; fi; fi

# s3rver (npm), a second S3 implementation (tests/test_s3rver.py), kept in the
# venv; npm from Debian when missing (only as root), nothing fetched once there.
S3RVER := s3rver@3.7.1
node-teste: $(BIN)/python
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; \
	  else echo "Instale (Debian): nodejs npm"; fi; }
	@[ -x $(VENV)/node/node_modules/.bin/s3rver ] || \
	  npm install --prefix $(VENV)/node --no-audit --no-fund --loglevel=error $(S3RVER)

demo: instalar
	$(PIP) install -q scikit-learn joblib
	@bash exemplos/tour.sh "$(BIN)/python"

lint: instalar-teste
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Then the storage suites once more with every repository encrypted (tests/ajuda_cifra.py).
SUITES_CIFRADAS := tests/test_repositorio.py tests/test_corrupcao.py tests/test_limpeza.py \
	tests/test_falhas_v2.py tests/test_falhas_v2_concorrencia.py \
	tests/test_falhas_v2_corrupcao.py tests/test_falhas_v2_montagens.py

test: instalar-teste lint
	$(BIN)/python -m pytest -q
	BACKUP_VERSIONAMENTO_TESTE_CIFRA=1 $(BIN)/python -m pytest -q $(SUITES_CIFRADAS)

benchmark: instalar
	$(PIP) install -q numpy
	$(BIN)/python benchmarks/bench_backup.py

benchmark-relatorios: instalar
	$(BIN)/python benchmarks/bench_relatorios.py

limpar:
	rm -rf demo backups_modelos .pytest_cache .mypy_cache .ruff_cache
