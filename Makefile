# ssap-gluon: the README's two commands are `make quickstart` and `make test`.
# Both create the virtual environment .venv on first use (Python 3.9-3.11;
# mxnet 1.9.1 needs numpy 1.23.5, which has no wheels for 3.12+). `make help`.

PYTHON ?= python3
VENV ?= .venv
# mxnet build: cpu (default) or cu112 (NVIDIA GPUs of compute capability 5.0-8.6)
SSAP_MXNET ?= cpu
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ssap-installed-$(SSAP_MXNET)
SYNTHCITY ?= data/synthcity
# the other mxnet distribution, removed when switching builds (both cannot coexist)
OTHER_MXNET := $(if $(filter cu112,$(SSAP_MXNET)),mxnet,mxnet-cu112)
CHECK_PY := import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 9) <= v <= (3, 11) else \
	"ssap-gluon needs Python 3.9-3.11 (mxnet 1.9.1 + numpy 1.23.5); %s is %d.%d. %s" % \
	(sys.executable, v[0], v[1], sys.argv[1]))

.PHONY: help quickstart install test bench clean-build

help:
	@echo "make quickstart   install into $(VENV), generate SynthCity ($(SYNTHCITY)), reproduce Table 4 on it"
	@echo "make test         run the test suite (what CI runs)"
	@echo "make install      only install (SSAP_MXNET=cu112 for the GPU build; PYTHON=python3.11 to pick the interpreter)"
	@echo "make bench        multicut benchmark against bioimage-cpp"
	@echo "make clean-build  remove compiled extensions and the install stamp (the next make reinstalls)"

quickstart: install
	$(PY) scripts/make_synthcity.py --out $(SYNTHCITY) --force
	$(PY) scripts/dataset_summary.py --cfg configs/synthcity_r18.yaml --opts DATASET.ROOT $(SYNTHCITY)
	bash scripts/reproduce_table4.sh
	@echo
	@echo "Next: make test | bash scripts/reproduce_table7.sh | $(PY) scripts/train.py --cfg configs/synthcity_r18_quick.yaml"
	@echo "      on Cityscapes: export CITYSCAPES_DATASET=/path/to/cityscapes, then bash scripts/reproduce_table4.sh (README)"

install: $(STAMP)

$(STAMP): setup.py pyproject.toml $(wildcard csrc/*.pyx csrc/*.pxd csrc/*.hpp csrc/*.h)
	@$(PYTHON) -c '$(CHECK_PY)' "Run: make PYTHON=python3.11 ..."
	@if [ -x $(PY) ]; then $(PY) -c '$(CHECK_PY)' "Remove $(VENV) (rm -rf $(VENV)) and run make again with a suitable PYTHON=..."; fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23" "setuptools>=64" wheel
	$(PY) -m pip uninstall --quiet --yes $(OTHER_MXNET) 2>/dev/null || true
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
	rm -f $(VENV)/.ssap-installed-*
