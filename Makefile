# The front door.  `make demo` and `make test` each work on a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench templates samples docs render clean fuzz fuzz-replay

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

# Fuzz `sdbatch run` end to end (issue 15 item 7): N inputs made from SEED (bit flips, truncations,
# zip-member XML mutation, random cells of every type, CSV encodings, odd inbox entries), JOBS runs
# at once.  Failing inputs and the summary go to output/fuzz/<SEED>/; see tools/fuzz.py --help.
N    ?= 1000
SEED ?= 1
JOBS ?= 1
fuzz: $(STAMP)
	$(BIN)/python tools/fuzz.py -n $(N) --seed $(SEED) --jobs $(JOBS) $(FUZZ_ARGS)

# Every input the fuzzer found (tests/data/fuzz/, slow ones included) alone through `sdbatch run`:
# time, peak memory, problems.
fuzz-replay: $(STAMP)
	$(BIN)/python tools/fuzz.py --replay tests/data/fuzz

templates: $(STAMP)
	$(BIN)/sdbatch template -o templates/xlsx/

samples: $(STAMP)
	$(BIN)/python tools/make_samples.py samples/inbox

# What cities and the panel receive, as printed: every output of the demo's newest run (review
# workbooks, lists, e-mail bodies) and the blank templates to PDF and PNG pages under
# output/render/<run-id>/, with LibreOffice headless and pdftoppm.  Missing Debian packages
# (libreoffice-calc-nogui, libreoffice-writer-nogui, poppler-utils, fonts-wqy-microhei and
# fonts-crosextra-carlito, the Calibri metrics) are
# installed with apt-get (as root, or with sudo); the commands are printed first.
render: demo
	$(BIN)/python tools/render.py

docs: $(STAMP)
	$(BIN)/python tools/gen_docs.py

clean:
	rm -rf $(VENV) build *.egg-info
