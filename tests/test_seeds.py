"""The seed tutorials' programs (tests/seeds/*.py) print the same under
cmp as under the stdlib.

Each program runs under each start method (fork, spawn, forkserver), twice
in a subprocess of its own, in a fresh directory: as it is, and with its
multiprocessing imports rewritten to cmp (`import multiprocessing` ->
`import cmp as multiprocessing`, ...).  None of the programs picks a start
method, so a small `-c` wrapper does it first, as a program would:
`set_start_method(method)` of the module the program uses (the stdlib or
cmp), then the program runs as `__main__` (runpy), so that a spawned child
imports it as its main module as usual.  Both runs must exit 0 with nothing on stderr, write the same files, and print
the same after normalising what legitimately varies: pids, addresses,
timings and, for the programs SPECS says why, the order of lines printed by
processes running at once or results that depend on scheduling.  A program
that the stdlib cannot run under a method (SPECS' fails_under: no
`__main__` guard) must fail there under cmp with the stdlib's error.  One
that the stdlib runs wrongly under a method (SPECS' stdlib_fails_under:
it exits without joining its processes, which then find their lock gone)
runs under cmp alone there and must print what the program means.  While a
known gap of cmp (SPECS' cmp_gap) changes what a program prints, its cmp
half is an expected failure, and a failure once the gap is gone.
"""
import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEEDS = os.path.join(HERE, 'seeds')
SITE = os.path.join(SEEDS, '_site')        # sitecustomize.py: line buffering, pids
PROGRAMS = sorted(f for f in os.listdir(SEEDS) if f.endswith('.py'))
# Generous: only matters when a program hangs.
TIMEOUT = 120


def to_cmp(source):
    """The program with `import cmp as multiprocessing` for its imports."""
    rules = [
        (r'^(\s*)import multiprocessing as (\w+)[ \t]*$', r'\1import cmp as \2'),
        (r'^(\s*)import multiprocessing[ \t]*$', r'\1import cmp as multiprocessing'),
        (r'^(\s*)import multiprocessing\.(\w+) as (\w+)[ \t]*$', r'\1import cmp.\2 as \3'),
        (r'^(\s*)import multiprocessing\.(\w+)[ \t]*$',
         r'\1import cmp.\2; import cmp as multiprocessing'),
        (r'^(\s*)from multiprocessing(\.\w+)? import ', r'\1from cmp\2 import '),
    ]
    for pattern, replacement in rules:
        source = re.sub(pattern, replacement, source, flags=re.M)
    left = [line for line in re.findall(r'^\s*(?:import|from)\b.*$', source, re.M)
            if re.search(r'\bmultiprocessing\b', line.replace(' as multiprocessing', ''))]
    assert not left, 'imports the rewrite does not know: %r' % left
    return source


# --- what legitimately varies, program by program ---------------------------

def sort_lines(out):
    return '\n'.join(sorted(out.splitlines())) + '\n'


def times(pattern):
    """Replace the timing that `pattern`'s group 1 matches."""
    def normalise(out):
        return re.sub(pattern, lambda m: m.group(0).replace(m.group(1), '<time>'), out)
    return normalise


def queue_offer(out):
    # The second child prints "tester" only if the parent's put() reached
    # the pipe before the child looked: the stdlib's feeder thread may not
    # have written it yet (then the child puts "Hello World" and prints
    # nothing).  Both outcomes are the program's.
    assert out in ('Hello World\n', 'Hello World\ntester\n'), out
    return 'Hello World\n<tester, if put() was done when the child looked>\n'


def queue_write_read(out):
    # The reader stops as soon as it finds the queue empty, which depends
    # on the writer's random sleeps: how many "Get" lines appear varies.
    # What the program fixes: all three puts, in order; the gets in the
    # same (FIFO) order; "Done!" last.
    lines = out.splitlines()
    assert lines[-1] == 'Done!', out
    puts = [l for l in lines if l.startswith('Put ')]
    gets = [l for l in lines if l.startswith('Get ')]
    assert puts == ['Put %s to queue...' % v for v in 'ABC'], out
    assert gets == ['Get %s from queue.' % v for v in 'ABC'[:len(gets)]], out
    assert len(puts) + len(gets) + 1 == len(lines), out
    return '\n'.join(puts) + '\n<a FIFO prefix of the gets>\nDone!\n'


def negated_twice(out):
    # Two children negate every element at once, each by reading b[i] and
    # then writing -b[i] with no lock around the pair (Array's lock guards
    # each access alone): when both read an element before either writes
    # it, one negation is lost and the element ends negative.  The stdlib
    # loses one in about 8 runs of 100 here, cmp in about 4.  What the
    # program fixes: the child's value, then every element as i or -i.
    lines = out.splitlines()
    assert lines[0] == '3.333333333333333', out
    assert [abs(int(l)) for l in lines[1:]] == list(range(11)), out
    return '3.333333333333333\n' + ''.join(
        '<%d or -%d>\n' % (i, i) for i in range(11))


def consumers(out):
    # Which consumer takes which task, and the order of their lines and of
    # the results, depend on scheduling.
    return sort_lines(re.sub(r'Consumer-\d+', 'Consumer-N', out))


def chain(*functions):
    def normalise(out):
        for f in functions:
            out = f(out)
        return out
    return normalise


# normalise: applied to stdout after pids and addresses are replaced (every
#            program); sort_lines where processes print concurrently and the
#            program does not fix the order.
# expected:  the normalised stdout, where the program fixes it (the
#            tutorial prints it, or it is plain from the code).
# methods:   the start methods it runs under (default every one); only a
#            program that starts no multiprocessing process has fewer.
# fails_under: {method: how the stdlib's error begins}, where the stdlib
#            refuses to run the program: cmp must refuse with the same
#            message and exit status.
# stdlib_fails_under: {method: why}, where the stdlib's run goes wrong
#            (not always the same way): there cmp alone runs, and must
#            print `expected`.
# cmp_gap:   a known difference of cmp from the stdlib that changes what
#            the program prints: a function returning why while the gap is
#            there (the test is then expected to fail, strictly), else None.

def cmp_lacks(module):
    def gap():
        try:
            missing = importlib.util.find_spec(module) is None
        except ImportError:
            missing = True
        return '%s does not exist yet' % module if missing else None
    return gap


def process_class_name():
    import multiprocessing
    import cmp
    if cmp.Process.__name__ != multiprocessing.Process.__name__:
        return ("cmp.Process is the stdlib's %s: processes are named %s-N, "
                "not %s-N" % ((cmp.Process.__name__,) * 2 + (
                    multiprocessing.Process.__name__,)))
    return None


# Why the stdlib cannot run a program that leaves its processes running
# under spawn and forkserver (observed with 3.11: some children fail with
# FileNotFoundError in SemLock._rebuild).
UNJOINED = ("the program's main process ends without joining its processes; "
            "at exit the stdlib unlinks the lock's named semaphore before it "
            "joins them, and a child still starting cannot open it")

SPECS = {
    't0_01_process.py': dict(expected='hello zhangyanlin\n'),
    't0_02_array_value.py': dict(normalise=negated_twice),
    't0_03_manager.py': dict(
        expected="{'name': 'zhangyanlin', 'age': 18, 'Job': 'pythoner'}\n"
                 "[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]\n"),
    # Parent and child print at once; the parent does not wait, so the
    # child's parent may already be its reaper when it asks.
    # It calls os.fork() itself: no start method is involved.
    't3_01_os_fork.py': dict(methods=('fork',), normalise=chain(
        lambda out: re.sub(r'my parent is \S+\.', 'my parent is <pid>.', out),
        sort_lines)),
    # Five processes print at once.
    't3_02_current_process.py': dict(normalise=sort_lines, cmp_gap=process_class_name),
    't3_03_write_files.py': dict(expected='程序运行成功!\n'),
    # The child prints while the parent prints its first two lines.
    # No `__main__` guard: a spawned (or forkserver) child imports the
    # program as its main module, which starts a process during the child's
    # bootstrapping.
    't3_04_fork_sleeper.py': dict(normalise=sort_lines, fails_under=dict.fromkeys(
        ('spawn', 'forkserver'),
        'RuntimeError: \n        An attempt has been made to start a new process')),
    # The two processes print at once.
    't3_05_urlopen.py': dict(normalise=sort_lines, expected=(
        "b'http://www.baidu.com'\nb'http://www.sogou.com'\ndone!\n")),
    't3_06_pool_vs_serial.py': dict(normalise=times(r'time elapse: (\S+)')),
    # The pool's workers print at once, each the tasks it happens to take.
    't3_07_pool_map.py': dict(normalise=sort_lines),
    't3_08_pool_apply_async.py': dict(expected=(
        '<multiprocessing.pool.ApplyResult object at <addr>>\n100\n'
        '[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n')),
    't3_09_pool_map_objects.py': dict(
        expected='[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n'),
    't3_10_pool_timing.py': dict(normalise=times(r'执行时间: (\d+)')),
    't3_11_queue_offer.py': dict(normalise=queue_offer),
    't3_12_queue_write_read.py': dict(normalise=queue_write_read),
    't3_13_joinable_queue.py': dict(normalise=consumers),
    # Fifty processes print at once.
    't3_14_no_lock.py': dict(normalise=sort_lines, expected=sort_lines(
        ''.join('Hello Num: %d\n' % i for i in range(50)))),
    # The lock keeps the prints apart, in the order the processes get it.
    't3_15_lock.py': dict(normalise=sort_lines, expected=sort_lines(
        ''.join('Hello Num: %d\n' % i for i in range(50))),
        stdlib_fails_under=dict.fromkeys(('spawn', 'forkserver'), UNJOINED)),
    # Which three of the five get the semaphore first, and when the others
    # do, depends on scheduling.
    't3_16_semaphore.py': dict(normalise=sort_lines, expected=sort_lines(''.join(
        'Process-%d %s\n' % (i, what) for i in range(1, 6)
        for what in ('acquire', 'release'))), cmp_gap=process_class_name,
        stdlib_fails_under=dict.fromkeys(('spawn', 'forkserver'), UNJOINED)),
    # The waiters print while the main process prints.  The main process
    # ends 0.3 s after it starts them without joining them: a spawned or
    # forkserver child that has not unpickled the Event by then finds the
    # stdlib's semaphore unlinked (seen under load).
    't3_17_event.py': dict(normalise=sort_lines, expected=sort_lines(
        'begin,e.is_set() False\n'
        'main: waiting before calling Event.set()\nmain: event is set\n'
        'wait_for_event: starting\nwait_for_event: e.is_set()-> True\n'
        'wait_for_event_timeout: starting\n'
        'wait_for_event_timeout: e.is_set()-> False\n'),
        stdlib_fails_under=dict.fromkeys(('spawn', 'forkserver'), UNJOINED)),
    't3_18_event_two_waiters.py': dict(normalise=sort_lines, expected=sort_lines(
        'begin,e.is_set() False\n'
        'main: waiting before calling Event.set()\nmain: event is set\n'
        + 'wait_for_event: starting\nwait_for_event: e.is_set()-> True\n' * 2
        + 'wait_for_event_timeout: starting\n'
        'wait_for_event_timeout: e.is_set()-> False\n'),
        stdlib_fails_under=dict.fromkeys(('spawn', 'forkserver'), UNJOINED)),
    # Each print happens before the send the other process waits for.
    't3_19_pipe.py': dict(expected=(
        'proc_2 received: hello\nproc_1 received: hello, too\n'
        'proc_2 received: what is your name?\n'
        "proc_1 received: I don't tell you!\n")),
    't3_20_pipe_lock_file.py': dict(expected=(
        'proc_2 received: hello\nproc_1 received: hello, too\n'
        'proc_2 received: what is your name?\n'
        "proc_1 received: I don't tell you!\n")),
    # The program's sleeps make each consumer wait before the next starts.
    't3_21_condition.py': dict(expected=(
        'consumer before wait\nconsumer before wait\n'
        'producer before notifyAll\nproducer after notifyAll\n'
        'consumer after wait\nconsumer after wait\n'),
        stdlib_fails_under=dict.fromkeys(('spawn', 'forkserver'), UNJOINED +
                                         ' (the consumers then wait forever)')),
    't3_22_not_shared.py': dict(expected='0\n[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n'),
    't3_23_value_array.py': dict(expected='2.0\n[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n'),
    't3_24_counter_lock.py': dict(expected='500\n'),
    't3_25_manager_value.py': dict(expected='Hello, World!, World!, World!\n'),
    't3_26_manager_dict_list.py': dict(
        expected="{1: '1', '2': 2, 0.25: None}\n[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]\n"),
    # The pool's workers print at once.
    't3_27_manager_counter_pool.py': dict(
        normalise=chain(times(r'runs (\S+) seconds'), sort_lines),
        cmp_gap=cmp_lacks('cmp.managers')),
}

FILES = {
    't3_03_write_files.py': {
        'test%d.txt' % i: ''.join('glory%d\n' % j for j in range(100))
        for i in range(1, 6)},
    't3_20_pipe_lock_file.py': {
        'a.txt': "hello\nhello, too\nwhat is your name?\nI don't tell you!\n"},
}


def test_every_program_has_a_spec():
    assert sorted(SPECS) == PROGRAMS
    assert len(PROGRAMS) == 30      # 3 in tutorial 000, 27 in tutorial 003


def test_rewrite():
    assert to_cmp('import multiprocessing\n') == 'import cmp as multiprocessing\n'
    assert to_cmp('import multiprocessing as mp\n') == 'import cmp as mp\n'
    assert to_cmp('from multiprocessing import Process, Lock  \n') == \
        'from cmp import Process, Lock  \n'
    assert to_cmp('from multiprocessing.managers import BaseManager\n') == \
        'from cmp.managers import BaseManager\n'
    assert to_cmp('  import multiprocessing.pool\n') == \
        '  import cmp.pool; import cmp as multiprocessing\n'
    assert to_cmp('import multiprocessing.pool as p\n') == 'import cmp.pool as p\n'
    with pytest.raises(AssertionError):
        to_cmp('import os, multiprocessing\n')


START_METHODS = ('fork', 'spawn', 'forkserver')

# What a program that picks its start method first does: the method set,
# then the program run as the main module itself (its globals live until
# the interpreter exits, as they would; a spawned child finds it through
# __main__.__file__).
WRAPPER = """\
import sys
import {module} as multiprocessing
multiprocessing.set_start_method({method!r})
sys.argv = [{path!r}]
sys.path[0] = {dir!r}
__file__ = {path!r}
with open(__file__, encoding='utf-8') as f:
    code = compile(f.read(), __file__, 'exec')
del f, sys, multiprocessing
exec(code)
"""


def run_program(path, workdir, module, method):
    """stdout, stderr, the files written, and the pids of its process tree,
    of the program at `path` run under `method`, set on `module` (the
    stdlib's multiprocessing or cmp) before the program starts."""
    pids_file = os.path.join(workdir, '..', os.path.basename(workdir) + '.pids')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SITE, ROOT]),
               PYTHONIOENCODING='utf-8', CMP_SEED_PIDS=pids_file,
               PYTHONDONTWRITEBYTECODE='1')
    env.pop('PYTHONUNBUFFERED', None)
    wrapper = WRAPPER.format(module=module, method=method, path=path,
                             dir=os.path.dirname(path))
    proc = subprocess.Popen([sys.executable, '-c', wrapper], cwd=workdir, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail('%s hung (%ds); it printed:\n%s\n%s' % (
            path, TIMEOUT, out.decode(errors='replace'), err.decode(errors='replace')))
    files = {}
    for name in sorted(os.listdir(workdir)):
        with open(os.path.join(workdir, name), encoding='utf-8') as f:
            files[name] = f.read()
    with open(pids_file) as f:
        pids = {int(line) for line in f if line.strip()}
    return proc.returncode, out.decode('utf-8'), err.decode('utf-8'), files, pids


def normalise(name, out, pids):
    # Every pid of the program's tree (never another number).
    pids = pids - {0, 1}
    out = re.sub(r'\b\d+\b', lambda m: '<pid>' if int(m.group(0)) in pids
                 else m.group(0), out)
    out = re.sub(r'0x[0-9a-fA-F]+', '<addr>', out)
    # cmp's classes say they are cmp's: <cmp.pool.ApplyResult object ...>.
    out = re.sub(r'<cmp\.', '<multiprocessing.', out)
    f = SPECS[name].get('normalise')
    return f(out) if f else out


@pytest.mark.parametrize('method', START_METHODS)
@pytest.mark.parametrize('name', PROGRAMS)
def test_seed_program(name, method):
    spec = SPECS[name]
    if method not in spec.get('methods', START_METHODS):
        pytest.skip('%s starts no multiprocessing process' % name)
    with open(os.path.join(SEEDS, name), encoding='utf-8') as f:
        source = f.read()
    cmp_source = to_cmp(source)
    if re.search(r'^\s*(import|from)\s+multiprocessing\b', source, re.M):
        assert cmp_source != source
    backends = [('stdlib', 'multiprocessing', source), ('cmp', 'cmp', cmp_source)]
    stdlib_fails = spec.get('stdlib_fails_under', {}).get(method)
    if stdlib_fails:
        del backends[0]
    results = {}
    with tempfile.TemporaryDirectory(prefix='cmp-seed-') as tmp:
        for backend, module, text in backends:
            program = os.path.join(tmp, backend + '_' + name)
            with open(program, 'w', encoding='utf-8') as f:
                f.write(text)
            workdir = os.path.join(tmp, backend)
            os.mkdir(workdir)
            results[backend] = run_program(program, workdir, module, method)

    refusal = spec.get('fails_under', {}).get(method)
    if refusal:
        # The stdlib refuses the program under this method; so must cmp.
        for backend, (rc, out, err, files, pids) in results.items():
            assert refusal in err, '%s under %s, %s: %s' % (
                name, method, backend, err)
            # The error's message, to the end (a traceback ends with it).
            results[backend] = (rc, err[err.index(refusal):])
        assert results['cmp'] == results['stdlib']
        return

    if stdlib_fails:
        # Where the stdlib goes wrong, cmp runs the program as it means.
        rc, out, err, files, pids = results['cmp']
        assert rc == 0 and err == '', '%s exited %s under cmp:\n%s%s' % (
            name, rc, out, err)
        assert normalise(name, out, pids) == spec['expected'], out
        assert files == FILES.get(name, {})
        return

    # The program works as the tutorial means it under the stdlib ...
    rc, out, err, files, pids = results['stdlib']
    assert rc == 0 and err == '', '%s exited %s:\n%s%s' % (name, rc, out, err)
    stdlib = normalise(name, out, pids)
    if 'expected' in spec:
        assert stdlib == spec['expected']
    assert files == FILES.get(name, {})

    # ... and does the same under cmp, unless a known gap says otherwise.
    why = spec['cmp_gap']() if 'cmp_gap' in spec else None
    try:
        rc, out, err, cmp_files, pids = results['cmp']
        assert rc == 0 and err == '', '%s exited %s under cmp:\n%s%s' % (
            name, rc, out, err)
        assert normalise(name, out, pids) == stdlib, \
            'the output of %s differs under cmp' % name
        assert cmp_files == files, 'the files %s writes differ under cmp' % name
    except AssertionError as e:
        if why:
            pytest.xfail('%s; %s' % (why, str(e).strip().splitlines()[0]))
        raise
    assert not why, '%s does as under the stdlib although %s: remove its cmp_gap' % (
        name, why)
