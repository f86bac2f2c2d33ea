"""Run CPython's own multiprocessing test suite against cmp.

The running interpreter's test._test_multiprocessing (its standard library's,
never a copy) is loaded with cmp standing in for `multiprocessing`
(tests/compat/standin.py says how) and its test classes are installed for a
start method (fork unless --start-method says otherwise) exactly as CPython's
own test_multiprocessing_<method> installs them: the processes, threads and
manager variants of each mixin class (WithProcessesTestLock,
WithThreadsTestLock, WithManagerTestLock, ...) and the module's plain test
cases (TestStartMethod, TestResourceTracker, ...).  Each class runs in its
own subprocess under a timeout, so a hang or a crash costs that class only
and is reported as such.

    run.py                        cmp, the default classes
    run.py --baseline             the same with the stdlib
    run.py --compare              both, side by side; marks where cmp is worse
    run.py --classes 'Lock|Pool'  classes whose name matches the regex
    run.py --all                  every class
    run.py --list                 list the classes
    run.py --start-method spawn   the same under spawn (or forkserver)
    run.py --require WithProcessesTestLock,WithProcessesTestEvent
                                  exit 1 if a test of those classes that
                                  passes under the stdlib does not pass under
                                  cmp (implies --compare for them); also a
                                  set: ci, all, processes, threads, manager,
                                  misc (the plain test cases)

"cmp is worse" means: some test passes under the stdlib and does not pass
under cmp (fails, errors, hangs, crashes, or is skipped or not run).  A test
that does worse under cmp is run again (--retries times, under cmp only);
one that then passes counts as passed and is listed as flaky.

`make compat` runs --compare on the default classes (the primitives cmp
replaces: Lock, Semaphore, Condition, Event, Barrier, Value, Array,
SharedCTypes, Queue, Pool), --require ci the same as a check.  CI (.ci/run)
requires the whole suite under fork (about 190 s for both implementations on
2 cores, 3.11) and the processes classes under spawn and forkserver (about
120 s and 220 s):
    make compat COMPAT_ARGS='--require all'
    make compat COMPAT_ARGS='--require processes --start-method spawn'
`make compat-all` requires the whole suite under every start method.
"""
import argparse
import concurrent.futures
import faulthandler
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
START_METHOD = 'fork'       # --start-method
MODNAME = 'cmp_compat_fork'     # cmp_compat_<start method>
PACKAGE = 'cmp'             # --module
TEST_MODULE = 'test._test_multiprocessing'

# Required in CI, and what `make compat` runs: the classes of everything cmp
# implements itself (primitives, shared ctypes, queues, pools).
REQUIRED = (
    'WithProcessesTestLock', 'WithProcessesTestSemaphore',
    'WithProcessesTestCondition', 'WithProcessesTestEvent',
    'WithProcessesTestBarrier',
    'WithProcessesTestValue', 'WithProcessesTestArray',
    'WithProcessesTestSharedCTypes', 'WithProcessesTestQueue',
    'WithProcessesTestPool', 'WithProcessesTestPoolWorkerErrors',
    'WithProcessesTestPoolWorkerLifetime',
)
DEFAULT = REQUIRED

# A test's outcome: pass, xfail (expected failure), fail, xpass (unexpected
# success), error, skip, hang, crash, or notrun (the class ended before it).
PASSED = ('pass', 'xfail')

# Where cmp differs from the stdlib on purpose: (class, test) -> why.  These
# tests are listed under their own heading and do not count as "cmp worse".
DELIBERATE = {
    ('WithProcessesTestQueue', 'test_queue_feeder_donot_stop_onexc'):
        'an object that cannot be pickled raises in put() under cmp (the '
        'caller learns at once, nothing is lost); the stdlib prints the '
        'error from its feeder thread and drops the object',
    ('TestResourceTracker', 'test_resource_tracker_sigkill'):
        "cmp's Semaphore lives in the arena and never registers with the "
        "resource tracker, so the test's semaphore never tells a restarted "
        'tracker anything and the warning "resource_tracker: process died" '
        'it waits for does not come',
}
# Tests the stand-in cannot run as their author meant under cmp:
# (class, test) -> why.  Listed, not counted as cmp worse.
UNFAITHFUL = {
    ('_TestImportStar', 'test_import'):
        "it imports every module file of multiprocessing's folder (cmp's "
        'folder under cmp) and looks each up in sys.modules as '
        '"multiprocessing.<name>", which the stand-in leaves alone; a module '
        'cmp has and the stdlib has not (raycontext, ...) is never there',
}
# Tests whose outcome is a race in the test itself, the code under test
# being the same under both: (class, test) -> why.  Listed when they do not
# pass under cmp, not counted as cmp worse.
RACY = {
    ('WithThreadsTestPool', 'test_terminate'):
        "the thread pool is the stdlib's ThreadPool under both (cmp.dummy is "
        "the stdlib's); a worker thread that takes one of the test's long "
        'sleeps before terminate() makes join() wait for it (3.9-3.12; seen '
        'under the stdlib too, more often on a loaded machine)',
}
NOT_WORSE = {**DELIBERATE, **UNFAITHFUL, **RACY}
BAD = ('fail', 'xpass', 'error', 'hang', 'crash')

# The names --require takes for sets of classes, by kind: the variants of
# the mixin classes (WithProcessesTestLock, WithThreadsTestLock,
# WithManagerTestLock) and the module's plain test cases (TestStartMethod,
# ...); "all" is every class CPython's test_multiprocessing_<method> runs.
KINDS = {'processes': ('processes',), 'threads': ('threads',),
         'manager': ('manager',), 'misc': ('misc',),
         'all': ('processes', 'threads', 'manager', 'misc')}


def _kind(cls):
    for kind in ('processes', 'threads', 'manager'):
        if cls.startswith('With' + kind.capitalize()):
            return kind
    return 'misc'


# ---------------------------------------------------------------- the child

class _JsonLinesResult:
    """Mixed into unittest.TestResult: one JSON line per event, written
    with a single write(2) so that forked test processes cannot duplicate
    buffered output."""

    def _emit(self, **record):
        os.write(self._fd, (json.dumps(record) + '\n').encode())

    def _err(self, err):
        etype, value, tb = err
        lines = traceback.format_exception_only(etype, value)
        frames = traceback.extract_tb(tb)
        where = ''
        if frames:
            f = frames[-1]
            where = '%s:%s in %s' % (os.path.basename(f.filename), f.lineno, f.name)
        return {'message': ''.join(lines).strip(), 'where': where,
                'traceback': ''.join(traceback.format_exception(etype, value, tb))}

    def startTest(self, test):
        super().startTest(test)
        if self._test_timeout:
            # Where a test hangs: dumped to the log just before the parent
            # gives up on it.
            faulthandler.dump_traceback_later(max(1.0, self._test_timeout - 3))
        self._emit(event='start', test=test.id())

    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
        self._emit(event='stop', test=test.id())

    def addSuccess(self, test):
        super().addSuccess(test)
        self._emit(event='end', test=test.id(), outcome='pass')

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._emit(event='end', test=test.id(), outcome='fail', **self._err(err))

    def addError(self, test, err):
        super().addError(test, err)
        self._emit(event='end', test=test.id(), outcome='error', **self._err(err))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._emit(event='end', test=test.id(), outcome='skip', message=str(reason))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._emit(event='end', test=test.id(), outcome='xfail')

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._emit(event='end', test=test.id(), outcome='xpass',
                   message='unexpected success')

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = 'fail' if issubclass(err[0], test.failureException) else 'error'
            self._emit(event='end', test=test.id(), outcome=outcome,
                       subtest=subtest.id(), **self._err(err))


# How a child of the tests started by spawn or forkserver installs the same
# test module: run.py is its main module, imported as __mp_main__ before it
# unpickles its target (a method of a class of MODNAME).
_INSTALL_ENV = 'CMP_COMPAT_INSTALL'


def _install(impl, package, method):
    global MODNAME
    MODNAME = 'cmp_compat_' + method
    os.environ[_INSTALL_ENV] = ':'.join((impl, package, method))
    sys.path.insert(0, HERE)
    sys.path.insert(1, ROOT)
    import standin
    standin.package = package
    tm = standin.load_test_module(impl)
    ns = {'__name__': MODNAME}
    # Every class, as CPython's test_multiprocessing_<method> installs them.
    tm.install_tests_in_module_dict(ns, method)
    import types
    import unittest
    module = types.ModuleType(MODNAME)
    module.__dict__.update(ns)
    sys.modules[MODNAME] = module
    classes = sorted(name for name, value in ns.items()
                     if isinstance(value, type) and issubclass(value, unittest.TestCase))
    return module, classes, standin.fallbacks


def child_main(args):
    import unittest
    fd = os.open(args.out, os.O_WRONLY | os.O_APPEND)
    result_class = type('Result', (_JsonLinesResult, unittest.TestResult), {})
    result = result_class()
    result._fd = fd
    result._test_timeout = args.test_timeout
    faulthandler.enable()
    # The suite relies on Python's own SIGINT handler (test_wait_result
    # interrupts itself), which Python does not install when it starts with
    # SIGINT ignored, as in a job a shell started in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        module, classes, fallbacks = _install(args.impl, args.module,
                                              args.start_method)
    except BaseException:
        result._emit(event='load-error', message=traceback.format_exc())
        return 2
    if args.list:
        result._emit(event='classes', classes=classes, fallbacks=fallbacks)
        return 0
    cls = getattr(module, args.cls, None)
    if cls is None:
        result._emit(event='load-error', message='no class %s' % args.cls)
        return 2
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(cls)
    if args.tests:
        wanted = set(args.tests.split(','))
        suite = unittest.TestSuite(t for t in suite if t._testMethodName in wanted)
    result._emit(event='tests', tests=[t.id() for t in suite],
                 fallbacks=fallbacks)

    # The module fixtures run here rather than in unittest: when cmp fails
    # setUpModule (its own finding, reported), the stdlib's setUpModule
    # prepares the same environment as in the baseline and the classes
    # still run under cmp.
    setup = module.__dict__.pop('setUpModule', None)
    teardown = module.__dict__.pop('tearDownModule', None)
    tm = sys.modules[TEST_MODULE]
    standin = tm.multiprocessing
    if not _fixture(result, 'setUpModule', setup):
        if args.impl == 'stdlib':
            _skip_all(result, suite, 'setUpModule failed')
            return 0
        import multiprocessing
        tm.multiprocessing = multiprocessing
        try:
            ok = _fixture(result, 'setUpModule (with the stdlib)', setup)
        finally:
            tm.multiprocessing = standin
        if not ok:
            _skip_all(result, suite, 'setUpModule failed')
            return 0
        standin = multiprocessing
    suite.run(result)
    saved, tm.multiprocessing = tm.multiprocessing, standin
    try:
        _fixture(result, 'tearDownModule', teardown)
    finally:
        tm.multiprocessing = saved
    result._emit(event='done')
    return 0


def _fixture(result, name, function):
    """Run a module fixture; report and swallow what it raises."""
    if function is None:
        return True
    try:
        function()
    except BaseException as e:
        err = result._err((type(e), e, e.__traceback__))
        cause = e.__cause__ or e.__context__
        if cause is not None:
            err['message'] += ' (from %s)' % ''.join(
                traceback.format_exception_only(type(cause), cause)).strip()
        result._emit(event='fixture', name=name, **err)
        return False
    return True


def _skip_all(result, suite, why):
    for test in suite:
        result._emit(event='end', test=test.id(), outcome='skip', message=why)
    result._emit(event='done')


# --------------------------------------------------------------- the parent

class ClassResult:
    """The outcome of each test of one class under one implementation."""

    def __init__(self, cls, impl):
        self.cls = cls
        self.impl = impl
        self.outcomes = {}      # test method name -> outcome
        self.details = {}       # test method name -> first error line(s)
        self.fixture = []       # (name, message, where): setUpModule, tearDownModule
        self.status = 'ok'      # ok, hang, crash, load-error
        self.note = ''
        self.flaky = []
        self.fallbacks = []
        self.seconds = 0.0

    def counts(self):
        c = dict.fromkeys(('run', 'passed', 'failed', 'errors', 'skipped'), 0)
        for outcome in self.outcomes.values():
            if outcome in PASSED:
                c['passed'] += 1
            elif outcome in ('fail', 'xpass'):
                c['failed'] += 1
            elif outcome in ('error', 'hang', 'crash'):
                c['errors'] += 1
            else:
                c['skipped'] += 1
            if outcome not in ('skip', 'notrun'):
                c['run'] += 1
        return c

    def passed(self, test):
        return self.outcomes.get(test) in PASSED

    def worse_than(self, baseline):
        """Tests that pass under `baseline` and not here, and class
        fixtures that fail here only."""
        worse = {t for t in baseline.outcomes
                 if baseline.passed(t) and not self.passed(t)
                 and (self.cls, t) not in NOT_WORSE}
        worse |= {t for t, o in self.outcomes.items()
                  if t.startswith('(') and o in BAD and baseline.outcomes.get(t) not in BAD}
        return sorted(worse)


def _merge(old, new):
    # A test with a failing subtest reports that, never a later success.
    if old is None:
        return new
    if old in BAD and new not in BAD:
        return old
    return new


def _short(test_id):
    return test_id.rsplit('.', 1)[-1]


def run_child(impl, cls=None, tests=None, timeout=180.0, test_timeout=None,
              list_classes=False):
    """Run one class (or list the classes) in a subprocess under `impl`.

    Killed (with all it forked) when it runs past `timeout` seconds, or when
    one test runs past `test_timeout`: then `hung` is true.  Returns the
    child's records, its exit status, hung, the seconds it took, and what it
    printed."""
    fd, out = tempfile.mkstemp(prefix='cmp-compat-', suffix='.jsonl')
    os.close(fd)
    log = tempfile.TemporaryFile()
    cmd = [sys.executable, os.path.abspath(__file__), '--child',
           '--impl', impl, '--out', out, '--module', PACKAGE,
           '--start-method', START_METHOD]
    if list_classes:
        cmd.append('--list')
    else:
        cmd += ['--cls', cls]
    if tests:
        cmd += ['--tests', ','.join(tests)]
    if test_timeout:
        cmd += ['--test-timeout', str(test_timeout)]
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    start = time.monotonic()
    # A session of its own: on a timeout the whole tree it forked goes.
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                            start_new_session=True)
    records, pending, test_started, hung = [], '', None, False
    with open(out) as f:
        while True:
            try:
                proc.wait(0.2)
                finished = True
            except subprocess.TimeoutExpired:
                finished = False
            pending += f.read()
            *lines, pending = pending.split('\n')
            for line in lines:
                rec = json.loads(line)
                records.append(rec)
                if rec['event'] == 'start':
                    test_started = time.monotonic()
                elif rec['event'] == 'stop':
                    test_started = None
            if finished:
                break
            now = time.monotonic()
            if now - start > timeout or (test_timeout and test_started
                                         and now - test_started > test_timeout):
                hung = True
                break
    try:
        os.killpg(proc.pid, signal.SIGKILL)     # leftovers of the tests too
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    elapsed = time.monotonic() - start
    os.unlink(out)
    log.seek(0)
    output = log.read().decode('utf-8', 'replace')
    log.close()
    return records, proc.returncode, hung, elapsed, output


def run_class(impl, cls, timeout, test_timeout=None, tests=None):
    """Run a class's tests under `impl`; after a hang or a crash, the tests
    not yet run go on in a new subprocess, within `timeout` in all."""
    r = ClassResult(cls, impl)
    prefix = '%s.%s.' % (MODNAME, cls)
    notes = []
    while True:
        records, rc, hung, seconds, output = run_child(
            impl, cls, tests, timeout - r.seconds, test_timeout)
        r.seconds += seconds
        running = None
        for rec in records:
            ev = rec['event']
            if ev == 'tests':
                r.fallbacks = rec['fallbacks']
                for t in rec['tests']:
                    r.outcomes.setdefault(_short(t), 'notrun')
            elif ev == 'start':
                running = _short(rec['test'])
            elif ev == 'stop':
                running = None
            elif ev == 'end':
                tid = rec['test']
                if tid.startswith(prefix):
                    name = tid[len(prefix):]
                    old = r.outcomes.get(name)
                    r.outcomes[name] = _merge(None if old == 'notrun' else old,
                                              rec['outcome'])
                    if rec['outcome'] not in ('pass', 'xfail', 'skip') or name not in r.details:
                        if rec.get('message'):
                            r.details[name] = (rec['message'], rec.get('where', ''))
                else:           # setUpClass, tearDownClass: a test of their own
                    name = '(%s)' % tid.split(' ')[0]
                    r.outcomes[name] = _merge(r.outcomes.get(name), rec['outcome'])
                    r.details[name] = (rec.get('message', ''), rec.get('where', ''))
            elif ev == 'fixture':   # setUpModule, tearDownModule
                if (rec['name'], rec['message'], rec.get('where', '')) not in r.fixture:
                    r.fixture.append((rec['name'], rec['message'], rec.get('where', '')))
            elif ev == 'load-error':
                r.status = 'load-error'
                notes.append(rec['message'].strip().splitlines()[-1])
                r.details['(load)'] = (rec['message'].strip(), '')
        done = any(rec['event'] == 'done' for rec in records)
        if not hung and (done or r.status == 'load-error'):
            break
        lines = output.strip().splitlines()
        dumps = [i for i, line in enumerate(lines)
                 if line.startswith(('Timeout (', 'Fatal Python error'))]
        if dumps:                   # faulthandler: where the test hung or died
            frames = [l for l in lines[dumps[-1] + 1:] if l.startswith('  File')]
            # Innermost first; the harness's frames below the test say nothing.
            lines = frames[:next((i for i, l in enumerate(frames) if '/unittest/' in l),
                                 12)][:12]
        tail = '\n'.join(lines[-25:])
        if hung:
            r.status = 'hang'
            what = 'hang (%s)' % ('test past %ds' % test_timeout if running
                                  and r.seconds < timeout else 'class past %ds' % timeout)
        else:
            r.status = 'crash'
            what = 'crash (exit %s)' % (rc if rc >= 0 else 'by signal %d' % -rc)
        if running:
            r.outcomes[running] = 'hang' if hung else 'crash'
            r.details[running] = (tail, '')
            notes.append('%s in %s' % (what, running))
        else:
            notes.append(what)
            r.details['(output)'] = (tail, '')
        tests = [t for t, o in r.outcomes.items() if o == 'notrun']
        if not tests or not running or r.seconds >= timeout - 1:
            break
    r.note = '; '.join(notes)
    return r


def list_classes(impl='stdlib'):
    records, rc, hung, _, output = run_child(impl, list_classes=True, timeout=120)
    for rec in records:
        if rec['event'] == 'classes':
            return rec['classes']
    sys.exit('cannot list the test classes:\n' + output +
             ''.join(r.get('message', '') for r in records))


def _fmt_counts(r):
    if r is None:
        return '%4s %4s %4s %4s %4s' % ('-',) * 5
    c = r.counts()
    return '%4d %4d %4d %4d %4d' % (c['run'], c['passed'], c['failed'],
                                   c['errors'], c['skipped'])


def print_table(rows, impls, out=sys.stdout):
    """rows: [(cls, {impl: ClassResult})]."""
    width = max([len('class')] + [len(cls) for cls, _ in rows])
    head = ' | '.join('%-6s  run pass fail  err skip' % impl for impl in impls)
    print('%-*s | %s | note' % (width, 'class', head), file=out)
    print('-' * (width + 3 + len(head) + 8), file=out)
    totals = {impl: dict.fromkeys(('run', 'passed', 'failed', 'errors', 'skipped'), 0)
              for impl in impls}
    for cls, results in rows:
        cells = ' | '.join('%-6s %s' % ('', _fmt_counts(results.get(impl)))
                           for impl in impls)
        notes = []
        if 'cmp' in results and 'stdlib' in results:
            worse = results['cmp'].worse_than(results['stdlib'])
            if worse:
                notes.append('<< cmp worse: %d' % len(worse))
        for impl in impls:
            r = results.get(impl)
            if r is None:
                continue
            for k, v in r.counts().items():
                totals[impl][k] += v
            if r.note:
                notes.append('%s: %s' % (impl, r.note))
            if r.flaky:
                notes.append('%s flaky: %s' % (impl, ','.join(r.flaky)))
        print('%-*s | %s | %s' % (width, cls, cells, '; '.join(notes)), file=out)
    print('-' * (width + 3 + len(head) + 8), file=out)
    cells = ' | '.join('%-6s %4d %4d %4d %4d %4d' % (
        '', t['run'], t['passed'], t['failed'], t['errors'], t['skipped'])
        for t in totals.values())
    print('%-*s | %s |' % (width, 'total', cells), file=out)


def print_details(rows, impls, only_worse, out=sys.stdout):
    """First lines of what did not pass (under cmp, what the stdlib passes)."""
    printed = False
    for cls, results in rows:
        for impl in impls:
            r = results.get(impl)
            if r is None:
                continue
            if only_worse and impl == 'cmp' and 'stdlib' in results:
                tests = r.worse_than(results['stdlib'])
            else:
                tests = sorted(t for t, o in r.outcomes.items()
                               if o not in PASSED + ('skip',))
            if not tests and not (r.status != 'ok' and (impl == 'cmp' or not only_worse)):
                continue
            if only_worse and impl == 'stdlib':
                continue
            if not printed:
                print('\nWhat did not pass%s:' % (
                    ' under cmp but passes under the stdlib' if only_worse else ''), file=out)
                printed = True
            print('  %s [%s]%s' % (cls, impl, ' ' + r.note if r.note else ''), file=out)
            for t in tests:
                message, where = r.details.get(t, ('', ''))
                lines = message.strip().splitlines()[
                    :12 if r.outcomes.get(t) in ('hang', 'crash') else 3] or ['']
                print('    %-40s %-6s %s%s' % (
                    t, r.outcomes.get(t, 'notrun'), lines[0],
                    '  (%s)' % where if where else ''), file=out)
                for line in lines[1:]:
                    print('    %-40s %-6s %s' % ('', '', line), file=out)
            for key in ('(load)', '(output)'):
                if key in r.details:
                    for line in r.details[key][0].splitlines()[-15:]:
                        print('    | ' + line, file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument('--baseline', action='store_true',
                      help='run with the stdlib instead of cmp')
    mode.add_argument('--compare', action='store_true',
                      help='run with both and print them side by side')
    ap.add_argument('--classes', metavar='REGEX',
                    help='run the classes whose name matches (re.search)')
    ap.add_argument('--all', action='store_true',
                    help='run every class (as test_multiprocessing_<method> does)')
    ap.add_argument('--list', action='store_true', help='list the classes and exit')
    ap.add_argument('--require', metavar='CLASSES', default='',
                    help='comma-separated classes that must do no worse under '
                         'cmp than under the stdlib (exit status 1 otherwise); '
                         '"ci": %s; or a set: %s' % (', '.join(REQUIRED),
                                                     ', '.join(KINDS)))
    ap.add_argument('--timeout', type=float, default=300.0,
                    help='seconds per class and implementation (default 300)')
    ap.add_argument('--test-timeout', type=float, default=60.0,
                    help='seconds per test (default 60)')
    ap.add_argument('--retries', type=int, default=1,
                    help='re-runs, under cmp, of the tests where cmp does worse')
    ap.add_argument('-j', '--jobs', type=int, default=1,
                    help='classes run at once (default 1: the suite has timings)')
    ap.add_argument('--json', metavar='FILE', help='write every outcome to FILE')
    ap.add_argument('--module', default='cmp', metavar='PACKAGE',
                    help='the package to stand in for multiprocessing (default cmp)')
    ap.add_argument('--start-method', default='fork',
                    choices=('fork', 'spawn', 'forkserver'),
                    help='the start method the tests use (default fork)')
    # The subprocess side.
    ap.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--impl', choices=('cmp', 'stdlib'), help=argparse.SUPPRESS)
    ap.add_argument('--cls', help=argparse.SUPPRESS)
    ap.add_argument('--tests', help=argparse.SUPPRESS)
    ap.add_argument('--out', help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        return child_main(args)
    global PACKAGE, START_METHOD, MODNAME
    PACKAGE = args.module
    START_METHOD = args.start_method
    MODNAME = 'cmp_compat_' + START_METHOD

    if importlib.util.find_spec('test') is None or \
            importlib.util.find_spec(TEST_MODULE) is None:
        print('compat: skipped: Python %s at %s has no %s (its test package '
              'is not installed)' % (sys.version.split()[0], sys.executable,
                                     TEST_MODULE))
        return 0

    available = list_classes()
    if args.list:
        print('\n'.join(available))
        return 0
    if args.require == 'ci':
        required = list(REQUIRED)
    elif args.require in KINDS:
        required = [c for c in available if _kind(c) in KINDS[args.require]]
    else:
        required = [c.strip() for c in args.require.split(',') if c.strip()]
    if required and args.baseline:
        ap.error('--require compares cmp with the stdlib: not with --baseline')
    unknown = [c for c in required if c not in available]
    if unknown:
        ap.error('no such class: %s' % ', '.join(unknown))
    if args.all:
        classes = list(available)
    elif args.classes:
        classes = [c for c in available if re.search(args.classes, c)]
    else:
        classes = [c for c in DEFAULT if c in available]
    classes += [c for c in required if c not in classes]
    if not classes:
        ap.error('no class matches %r' % args.classes)

    if args.baseline:
        impls = ['stdlib']
    elif args.compare or required:
        impls = ['cmp', 'stdlib']
    else:
        impls = ['cmp']

    kinds = sorted({_kind(c) for c in classes})
    print('compat: Python %s, %d classes (%s), %s, %s start method%s' % (
              sys.version.split()[0], len(classes), ', '.join(kinds),
              ' and '.join(impls), START_METHOD,
                         '' if PACKAGE == 'cmp' else ' ("cmp" is package %s)' % PACKAGE),
          flush=True)
    results = {cls: {} for cls in classes}
    jobs = [(impl, cls) for cls in classes for impl in impls]
    start = time.monotonic()

    def one(job):
        impl, cls = job
        r = run_class(impl, cls, args.timeout, args.test_timeout)
        c = r.counts()
        print('  %-40s %-6s %3d passed of %3d run in %5.1fs%s' % (
            cls, impl, c['passed'], c['run'], r.seconds,
            '  ' + r.note if r.note else ''), flush=True)
        return r

    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as ex:
        for r in ex.map(one, jobs):
            results[r.cls][r.impl] = r

    # Tests where cmp does worse: once more, under cmp only.
    if 'cmp' in impls and 'stdlib' in impls:
        for cls in classes:
            r = results[cls]['cmp']
            for _ in range(args.retries):
                worse = [t for t in r.worse_than(results[cls]['stdlib'])
                         if not t.startswith('(')]
                if not worse:
                    break
                again = run_class('cmp', cls, args.timeout, args.test_timeout,
                                  tests=worse)
                for t in worse:
                    if again.passed(t):
                        r.outcomes[t] = again.outcomes[t]
                        r.details.pop(t, None)
                        r.flaky.append(t)
                print('  %-40s %-6s re-run of %d: %d passed' % (
                    cls, 'cmp', len(worse), sum(again.passed(t) for t in worse)),
                    flush=True)

    fallbacks = sorted({f for rs in results.values() for r in rs.values()
                        for f in r.fallbacks})
    print('\nTook %.0fs.' % (time.monotonic() - start))
    if fallbacks and 'cmp' in impls:
        print('%s has no %s: the stdlib\'s used.' % (PACKAGE, ', '.join(
            PACKAGE + '.' + f for f in fallbacks)))
    seen = []
    for rs in results.values():
        for impl in impls:
            for item in (rs[impl].fixture if impl in rs else ()):
                if (impl,) + item not in seen:
                    seen.append((impl,) + item)
    if seen:
        print('Module fixtures that failed (each class still ran; after a failed '
              'setUpModule under cmp, the stdlib\'s prepared the module):')
        for impl, name, message, where in seen:
            print('  %s: %s: %s%s' % (impl, name, ' '.join(message.split()),
                                     '  [%s]' % where if where else ''))
    print()
    rows = [(cls, results[cls]) for cls in classes]
    print_table(rows, impls)
    print_details(rows, impls, only_worse=len(impls) == 2)
    for heading, listed in (('Deliberate differences', DELIBERATE),
                            ('Tests the stand-in cannot run faithfully', UNFAITHFUL),
                            ('Races of the tests themselves', RACY)):
        found = [(cls, t, why) for (cls, t), why in sorted(listed.items())
                 if cls in results and 'cmp' in results[cls]
                 and t in results[cls]['cmp'].outcomes
                 and not results[cls]['cmp'].passed(t)]
        if found:
            print('\n%s (not counted as cmp worse):' % heading)
            for cls, t, why in found:
                print('  %s.%s: %s' % (cls, t, why))

    if args.json:
        with open(args.json, 'w') as f:
            json.dump({cls: {impl: {'outcomes': r.outcomes, 'status': r.status,
                                    'note': r.note, 'counts': r.counts(),
                                    'flaky': r.flaky,
                                    'details': {k: list(v) for k, v in r.details.items()}}
                             for impl, r in rs.items()}
                       for cls, rs in results.items()}, f, indent=1, sort_keys=True)

    failed = [cls for cls in required
              if results[cls]['cmp'].worse_than(results[cls]['stdlib'])]
    if required:
        if failed:
            print('\ncompat: FAILED: cmp does worse than the stdlib in %s'
                  % ', '.join(failed))
            return 1
        print('\ncompat: the %d required classes do as well under cmp as under '
              'the stdlib' % len(required))
    return 0


if __name__ == '__main__':
    sys.exit(main())
elif __name__ == '__mp_main__' and _INSTALL_ENV in os.environ:
    _install(*os.environ[_INSTALL_ENV].split(':'))
