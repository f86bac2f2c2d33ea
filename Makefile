# make test    build cmp (warnings are errors) and run every test
# make bench   build cmp and print the cmp-vs-stdlib comparison
# make test-asan, make compat, make clean.
# PYTHON=python3.X picks any CPython 3.9-3.13 (found on PATH or under pyenv).

PYTHON ?= python3
PY := $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null || \
        ls -d $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/$(patsubst python%,%,$(PYTHON)).*/bin/$(PYTHON) 2>/dev/null | tail -n 1)
PYVER := $(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV := .venv/py$(PYVER)
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ASAN_LIBS := $(shell gcc -print-file-name=libasan.so) $(shell gcc -print-file-name=libubsan.so)
PYTEST_ARGS ?=
# Every process a test run starts carries this token in its environment, so
# check_leftovers.py finds exactly those still alive afterwards.
RUN_TOKEN := $(shell od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

.PHONY: test test-asan bench compat build build-asan venv clean check-python

check-python:
	@test -n "$(PYVER)" || { echo "no interpreter for PYTHON=$(PYTHON)"; exit 1; }

$(STAMP): requirements-test.txt requirements-ray.txt pyproject.toml | check-python
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip setuptools wheel
	$(VPY) -m pip install -q -r requirements-test.txt
	$(VPY) -m pip install -q -r requirements-ray.txt || \
	    echo "note: Ray did not install for Python $(PYVER); the Ray tests are skipped"
	touch $@

venv: $(STAMP)

build: $(STAMP)
	CMP_WERROR=1 $(VPY) setup.py -q build_ext --inplace --force -b build/py$(PYVER) -t build/tmp-py$(PYVER)

build-asan: $(STAMP)
	CMP_WERROR=1 CMP_SANITIZE=1 $(VPY) setup.py -q build_ext --inplace --force -b build/asan-py$(PYVER) -t build/tmp-asan-py$(PYVER)

test: build
	CMP_TEST_RUN=$(RUN_TOKEN) $(VPY) -m pytest -q $(PYTEST_ARGS)
	$(VPY) tests/check_leftovers.py $(RUN_TOKEN)

test-asan: build-asan
	LD_PRELOAD="$(ASAN_LIBS)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 CMP_ARENA_SIZE=1073741824 \
	    $(VPY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)
	$(MAKE) build

COMPAT_ARGS ?= --compare
compat: build
	$(VPY) tests/compat/run.py $(COMPAT_ARGS)

$(VENV)/.bench-installed: $(STAMP) benchmarks/requirements.txt benchmarks/requirements-optional.txt
	$(VPY) -m pip install -q -r benchmarks/requirements.txt
	$(VPY) -m pip install -q -r benchmarks/requirements-optional.txt || \
	    echo "note: the optional competitors did not install; their benchmarks are skipped"
	touch $@

bench: $(VENV)/.bench-installed
	$(VPY) setup.py -q build_ext --inplace --force -b build/py$(PYVER) -t build/tmp-py$(PYVER)
	$(VPY) -m benchmarks $(if $(QUICK),--quick) $(BENCH_ARGS)

clean:
	rm -rf build .venv cmp/*.so
