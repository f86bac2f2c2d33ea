# make test    build cmp (warnings are errors) and run every test
# make bench   build cmp and print the cmp-vs-stdlib comparison
# make stress  the long campaigns (pytest -m stress), with their figures
# make test-asan, make compat, make clean.
# make compat-all  CPython's whole multiprocessing suite, cmp against the
#                  stdlib, under fork, spawn and forkserver
# make dist-check  the sdist, installed into a fresh venv and checked there
# make wheels      manylinux wheels for CPython 3.9-3.13 into dist/, each
#                  installed without a compiler and checked
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

.PHONY: test test-asan stress bench compat compat-all build build-asan venv clean check-python dist-check wheels

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
	$(MAKE) dist-check PYTHON=$(PY)

STRESS_ARGS ?=
stress: build
	CMP_TEST_RUN=$(RUN_TOKEN) $(VPY) -m pytest -q -s -m stress -p no:cacheprovider $(STRESS_ARGS)
	$(VPY) tests/check_leftovers.py $(RUN_TOKEN)

test-asan: build-asan
	LD_PRELOAD="$(ASAN_LIBS)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 CMP_ARENA_SIZE=1073741824 \
	    $(VPY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)
	$(MAKE) build

COMPAT_ARGS ?= --compare
compat: build
	$(VPY) tests/compat/run.py $(COMPAT_ARGS)

# CPython's whole multiprocessing suite (every class its
# test_multiprocessing_<method> runs) under cmp and the stdlib, for each start
# method in turn; fails where cmp does worse.  About 3 min (fork) + 9 min
# (spawn) + 8 min (forkserver) on 2 cores with 3.11.
COMPAT_METHODS ?= fork spawn forkserver
compat-all: build
	set -e; for m in $(COMPAT_METHODS); do \
	    $(VPY) tests/compat/run.py --require all --start-method $$m $(COMPAT_ARGS_ALL); \
	done

$(VENV)/.bench-installed: $(STAMP) benchmarks/requirements.txt benchmarks/requirements-optional.txt
	$(VPY) -m pip install -q -r benchmarks/requirements.txt
	$(VPY) -m pip install -q -r benchmarks/requirements-optional.txt || \
	    echo "note: the optional competitors did not install; their benchmarks are skipped"
	touch $@

bench: $(VENV)/.bench-installed
	$(VPY) setup.py -q build_ext --inplace --force -b build/py$(PYVER) -t build/tmp-py$(PYVER)
	$(VPY) -m benchmarks $(if $(QUICK),--quick) $(BENCH_ARGS)

clean:
	rm -rf build dist .venv cmp/*.so

$(VENV)/.dist-installed: $(STAMP) requirements-dist.txt
	$(VPY) -m pip install -q -r requirements-dist.txt
	touch $@

# The sdist built, installed by pip into a fresh venv outside the tree, and
# the smoke program and the typing sample run against that install.
dist-check: $(VENV)/.dist-installed
	$(VPY) tests/dist_check.py sdist

# One sdist; from it a wheel for each interpreter, built by pip (isolated,
# as on a user's machine), repaired by auditwheel into a manylinux wheel;
# each wheel then installed with no compiler and smoke-tested.
WHEEL_PYTHONS ?= 3.9 3.10 3.11 3.12 3.13
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $$HOME/.pyenv)
wheels: $(VENV)/.dist-installed
	rm -rf build/wheels dist && mkdir -p build/wheels dist
	$(VPY) -m build --sdist --no-isolation --outdir dist .
	set -e; for v in $(WHEEL_PYTHONS); do \
	    py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python$$v 2>/dev/null | tail -n 1); py=$${py:-python$$v}; \
	    $$py -m pip wheel -q --no-deps -w build/wheels dist/*.tar.gz; \
	done
	PATH=$(abspath $(VENV))/bin:$$PATH $(VPY) -m auditwheel repair -w dist build/wheels/*.whl
	$(VPY) tests/dist_check.py wheel dist/*.whl
	$(VPY) -m twine check --strict dist/*
	ls dist
