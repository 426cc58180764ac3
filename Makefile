# ssap-gluon: the README's two commands are `make quickstart` and `make test`.
# Both create the virtual environment .venv on first use (Python 3.8-3.11;
# mxnet 1.9.1 needs numpy 1.23.5, which has no wheels for 3.12+).

PYTHON ?= python3
VENV ?= .venv
# mxnet build: cpu (default) or cu112 (NVIDIA GPUs of compute capability 5.0-8.6)
SSAP_MXNET ?= cpu
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ssap-installed-$(SSAP_MXNET)
SYNTHCITY ?= data/synthcity

.PHONY: quickstart install test bench clean-build

quickstart: install
	$(PY) scripts/make_synthcity.py --out $(SYNTHCITY)
	$(PY) scripts/dataset_summary.py --cfg configs/synthcity_r18.yaml

install: $(STAMP)

$(STAMP): setup.py pyproject.toml $(wildcard csrc/*.pyx csrc/*.pxd csrc/*.hpp csrc/*.h)
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 8) <= v <= (3, 11) else "ssap-gluon needs Python 3.8-3.11 (mxnet 1.9.1 + numpy 1.23.5); $(PYTHON) is %d.%d. Run: make PYTHON=python3.11 ..." % v)'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23" "setuptools>=64" wheel
	SSAP_MXNET=$(SSAP_MXNET) $(PY) -m pip install --quiet -e ".[test,bench]"
	rm -f $(VENV)/.ssap-installed-*
	touch $(STAMP)

# Any non-zero pytest exit fails, including 5 ("no tests collected").
test: install
	$(PY) -m pytest -q -ra

bench: install
	$(PY) scripts/bench_multicut.py

clean-build:
	rm -rf build ssap_gluon/_ext/*.so ssap_gluon/_ext/*.c ssap_gluon/_ext/*.cpp
