"""The type stubs: mypy --strict accepts every extension used as documented,
reports each misuse, and a program written for the stdlib's multiprocessing
type-checks the same with `import cmp as multiprocessing`."""
import os
import re
import subprocess
import sys

import pytest

import dist_check

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SAMPLES = os.path.join(HERE, 'typecheck')


@pytest.fixture(scope='module')
def mypy(tmp_path_factory):
    cache = tmp_path_factory.mktemp('mypy-cache')
    workdir = tmp_path_factory.mktemp('mypy-work')

    def run(*files):
        # Outside the source tree, with the tree's stubs on MYPYPATH; the
        # installed package is checked by tests/dist_check.py.
        env = dict(os.environ, MYPYPATH=ROOT)
        proc = subprocess.run(
            [sys.executable, '-m', 'mypy', '--strict', '--cache-dir', str(cache),
             '--no-error-summary', '--show-error-codes', '--no-pretty', *files],
            cwd=str(workdir), env=env, capture_output=True, text=True, timeout=600)
        return proc.returncode, proc.stdout + proc.stderr

    run.workdir = workdir
    return run


def test_extensions_pass(mypy):
    code, out = mypy(os.path.join(SAMPLES, 'ok_extensions.py'))
    assert (code, out) == (0, '')


STDLIB_PROGRAM = os.path.join(SAMPLES, 'ok_stdlib_program.py')


def _cmp_twin(directory):
    return dist_check.cmp_twin(STDLIB_PROGRAM, directory)


def test_stdlib_program_passes_both_ways(mypy):
    code, out = mypy(STDLIB_PROGRAM, _cmp_twin(mypy.workdir))
    assert (code, out) == (0, '')


def _normalise(message):
    # Older mypy releases (the ones that still run on 3.9) spell unions and
    # builtin generics the old way.
    message = re.sub(r'Optional\[([^\[\]]+)\]', r'\1 | None', message)
    return re.sub(r'\bList\[', 'list[', message)


def test_misuse_is_reported(mypy):
    src = os.path.join(SAMPLES, 'bad_extensions.py')
    expected = {}
    with open(src) as f:
        for lineno, line in enumerate(f, 1):
            if '# E: ' in line:
                expected[lineno] = line.split('# E: ', 1)[1].strip()
    assert len(expected) >= 14
    code, out = mypy(src)
    assert code == 1, out
    errors = {}
    for line in out.splitlines():
        m = re.match(r'.*bad_extensions\.py:(\d+): error: (.*)$', line)
        if m:
            errors.setdefault(int(m.group(1)), []).append(_normalise(m.group(2)))
        else:
            assert ': note: ' in line, line
    assert sorted(errors) == sorted(expected), out
    for lineno, text in expected.items():
        assert any(text in e for e in errors[lineno]), (lineno, text, errors[lineno])


@pytest.mark.parametrize('sample', ['ok_extensions.py', 'ok_stdlib_program.py', 'twin'])
def test_samples_run(sample, tmp_path):
    # The samples that type-check also run: the stubs describe what is there.
    path = _cmp_twin(tmp_path) if sample == 'twin' else os.path.join(SAMPLES, sample)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, str(path)], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stubs_match_runtime(tmp_path):
    # Every name, signature and class the stubs declare is what cmp has at
    # run time, but for the allowlisted differences (each with its reason).
    env = dict(os.environ, PYTHONPATH=ROOT, MYPYPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, '-m', 'mypy.stubtest', 'cmp',
         '--allowlist', os.path.join(SAMPLES, 'stubtest-allowlist.txt'),
         # Entries for older stubtest releases go unused by newer ones.
         '--ignore-unused-allowlist', '--mypy-config-file', os.devnull],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
