# The front door.  `make demo` and `make test` each work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench templates samples docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python tools/set_received_times.py samples/inbox samples/received.json
	$(BIN)/sdbatch run samples/inbox --out output; code=$$?; \
	  if [ $$code -gt 1 ]; then exit $$code; fi; \
	  echo "输出目录: output/ (最新一次运行)"; ls -1t output | head -3

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check sdbatch tests tools
	$(BIN)/mypy sdbatch
	$(BIN)/python tools/gen_docs.py --check

bench: $(STAMP)
	$(BIN)/python tools/bench.py
	$(BIN)/python tools/bench_evidence.py

templates: $(STAMP)
	$(BIN)/sdbatch template -o templates/xlsx/

samples: $(STAMP)
	$(BIN)/python tools/make_samples.py samples/inbox

docs: $(STAMP)
	$(BIN)/python tools/gen_docs.py

clean:
	rm -rf $(VENV) build *.egg-info
