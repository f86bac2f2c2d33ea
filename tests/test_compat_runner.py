"""tests/compat/run.py: runs the stdlib's own multiprocessing tests against
cmp and the stdlib, and reports per class what each passes."""
import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, 'tests', 'compat', 'run.py')
CLASS = 'WithProcessesTestLock'

try:
    import test._test_multiprocessing  # noqa: F401
except ImportError:     # only the check that the runner skips then can run
    HAVE_SUITE = False
else:
    HAVE_SUITE = True
needs_suite = pytest.mark.skipif(
    not HAVE_SUITE, reason='this interpreter has no test._test_multiprocessing')


def run(*args, env=None, timeout=300):
    proc = subprocess.run([sys.executable, RUNNER] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=env, timeout=timeout)
    return proc.returncode, proc.stdout


def table_row(output, cls):
    """The counts of cls's row: {impl: (run, passed, failed, errors, skipped)}
    and the note."""
    header = next(line for line in output.splitlines() if line.startswith('class '))
    impls = re.findall(r'\| (\w+)\s+run pass fail  err skip', header)
    row = next(line for line in output.splitlines()
               if line.split('|')[0].strip() == cls)
    cells = [c.strip() for c in row.split('|')]
    counts = {impl: tuple(int(n) for n in cell.split())
              for impl, cell in zip(impls, cells[1:1 + len(impls)])}
    return counts, cells[-1]


@needs_suite
def test_compare_reports_counts_for_both(tmp_path):
    rc, out = run('--compare', '--classes', '^%s$' % CLASS,
                  '--json', str(tmp_path / 'r.json'))
    assert rc == 0, out
    counts, note = table_row(out, CLASS)
    assert set(counts) == {'cmp', 'stdlib'}, out
    run_, passed, failed, errors, skipped = counts['stdlib']
    assert run_ >= 3 and passed == run_ and failed == errors == 0, out
    # The printed counts are those of every test's recorded outcome.
    with open(str(tmp_path / 'r.json')) as f:
        outcomes = json.load(f)[CLASS]
    for impl, (run_, passed, failed, errors, skipped) in counts.items():
        assert outcomes[impl]['counts'] == dict(
            run=run_, passed=passed, failed=failed, errors=errors,
            skipped=skipped), out
        assert 'test_lock' in outcomes[impl]['outcomes'], out
    # cmp is worse exactly when the table says so.
    worse = [t for t, o in outcomes['stdlib']['outcomes'].items()
             if o == 'pass' and outcomes['cmp']['outcomes'].get(t) != 'pass']
    assert ('cmp worse' in note) == bool(worse), out


@needs_suite
def test_require_fails_and_names_the_tests_when_cmp_does_worse(tmp_path):
    # A package standing in for cmp: its first Lock() raises, its second
    # kills the process, and its RLock never lets go - an error, a crash
    # and a hang, one in each test of the class.
    pkg = tmp_path / 'brokencmp'
    pkg.mkdir()
    (pkg / '__init__.py').write_text(textwrap.dedent('''
        import os
        import signal
        import threading
        import cmp

        def __getattr__(name):
            return getattr(cmp, name)

        calls = []

        def Lock():
            calls.append(1)
            if len(calls) == 1:
                raise OSError('broken on purpose')
            os.kill(os.getpid(), signal.SIGSEGV)

        class RLock:
            def acquire(self, block=True, timeout=None):
                threading.Event().wait()
            __enter__ = acquire
    '''))
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    rc, out = run('--module', 'brokencmp', '--require', CLASS, '--classes', '^$',
                  '--test-timeout', '8', '--retries', '0', env=env)
    assert rc == 1, out
    counts, note = table_row(out, CLASS)
    assert 'cmp worse: 3' in note, out
    # After the crash the class went on in a new process, to the hang.
    # Under the sanitizer build, AddressSanitizer turns the SIGSEGV into an abort.
    crash_signal = (signal.SIGABRT if 'asan' in os.environ.get('LD_PRELOAD', '')
                    else signal.SIGSEGV)
    assert 'crash (exit by signal %d) in test_lock_context' % crash_signal in note, out
    assert 'hang (test past 8s) in test_rlock' in note, out
    assert counts['cmp'][:4] == (3, 0, 0, 3), out
    assert counts['stdlib'][1] == counts['stdlib'][0] >= 3, out
    assert re.search(r'test_lock +error +OSError: broken on purpose', out), out
    # Where it hung and where it died, from faulthandler.
    assert re.search(r'test_rlock +hang +File .*(\n +File .*)*brokencmp.*, line \d+ in acquire',
                     out), out
    assert re.search(r'test_lock_context +crash +File ".*brokencmp.*", line \d+ in Lock', out), out
    assert 'FAILED: cmp does worse than the stdlib in %s' % CLASS in out, out


def test_skips_cleanly_without_the_test_package(tmp_path):
    # A `test` package of its own hides the interpreter's.
    (tmp_path / 'test').mkdir()
    (tmp_path / 'test' / '__init__.py').write_text('')
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    rc, out = run('--compare', env=env)
    assert rc == 0, out
    assert 'compat: skipped' in out and 'test._test_multiprocessing' in out, out


@needs_suite
def test_every_class_of_the_suite_is_installed():
    # As CPython's test_multiprocessing_<method> installs them: the three
    # variants of the mixin classes and the module's plain test cases.
    rc, out = run('--list')
    assert rc == 0, out
    classes = set(out.split())
    assert {'WithProcessesTestLock', 'WithThreadsTestLock', 'WithManagerTestLock',
            'TestStartMethod', 'TestResourceTracker', 'TestWait'} <= classes, out
    import test._test_multiprocessing as tm
    import unittest
    plain = {name for name, value in vars(tm).items() if isinstance(value, type)
             and issubclass(value, unittest.TestCase)
             and not issubclass(value, tm.BaseTestCase)}
    assert plain <= classes, plain - classes


@needs_suite
def test_require_names_an_unknown_class_or_set():
    rc, out = run('--require', 'nosuchset')
    assert rc == 2 and 'no such class: nosuchset' in out, out
