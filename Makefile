# Dois comandos: `make demo` (instala e faz um tour) e `make test` (instala e testa).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: demo test instalar instalar-teste lint benchmark limpar

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

instalar: $(BIN)/python
	$(PIP) install -q -r requirements_backup.txt

# torch first: on these machines `torch==2.13.0` is a local CPU build, and a
# later `torch>=...` range is then already satisfied (no multi-GB CUDA download).
instalar-teste: $(BIN)/python
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[teste,modelos]"

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

limpar:
	rm -rf demo backups_modelos .pytest_cache .mypy_cache .ruff_cache
