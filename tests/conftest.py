"""Every behaviour test takes the `mp` fixture and so runs twice: against
the standard library's multiprocessing and against cmp.  A test that starts
processes takes `ctx` instead (or `start_method` beside `mp`) and so runs
for each start method too: `ctx` is `mp.get_context(start_method)`.  For
spawn and forkserver, the targets of the processes must be module-level
functions, as the stdlib requires."""
import gc
import importlib
import os
import select
import sys
import time

import pytest

# Generous: only matters when the code under test is broken.
TIMEOUT = 30.0


START_METHODS = ["fork", "spawn", "forkserver"]


@pytest.fixture(params=["multiprocessing", "cmp"])
def mp(request):
    mod = importlib.import_module(request.param)
    if request.param == "multiprocessing":
        return mod.get_context("fork")
    return mod


@pytest.fixture(scope="session")
def process_helpers():
    """The helper processes of spawn and forkserver live as long as this
    process once started (the resource tracker, the stdlib's fork server,
    cmp's fork server): start them before a test's leftover check looks,
    stop them when the session ends."""
    import multiprocessing.forkserver
    import multiprocessing.resource_tracker
    import cmp.forkserver
    multiprocessing.resource_tracker.ensure_running()
    multiprocessing.forkserver.ensure_running()
    cmp.forkserver.ensure_running()
    yield
    cmp.forkserver._forkserver._stop()
    multiprocessing.forkserver._forkserver._stop()
    multiprocessing.resource_tracker._resource_tracker._stop()


@pytest.fixture(scope="session")
def stdlib_heap():
    """The stdlib keeps the small arenas of its sharedctypes heap (one open
    file each) for reuse: create them before a leftover check looks."""
    import multiprocessing.sharedctypes as std
    blocks = [std.RawArray('c', 1 << k) for k in range(10, 22)]
    del blocks
    gc.collect()


@pytest.fixture(params=START_METHODS)
def start_method(request):
    """A start method; the helpers it needs run (see no_leftovers)."""
    return request.param


@pytest.fixture
def ctx(mp, start_method):
    """The context of `start_method` of the implementation under test."""
    return mp.get_context(start_method)


def _fds():
    fds = set(os.listdir("/proc/self/fd"))
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        # Connected to a Ray cluster (tests/test_ray.py): Ray opens sockets
        # to the cluster's processes as it needs them and keeps them.
        fds = {fd for fd in fds if not _target(fd).startswith("socket:")}
    return fds


def _target(fd):
    try:
        return os.readlink("/proc/self/fd/" + fd)
    except OSError:
        return ""


@pytest.fixture(autouse=True)
def no_leftovers(request):
    """No child process, /dev/shm entry or file descriptor outlives a test."""
    import multiprocessing
    if "start_method" in request.fixturenames:
        # Before the snapshot: the helpers outlive every test.
        request.getfixturevalue("process_helpers")
    shm_before = set(os.listdir("/dev/shm"))
    fds_before = _fds()
    yield
    children = multiprocessing.active_children()
    for p in children:
        p.join(TIMEOUT)
    alive = [p for p in children if p.is_alive()]
    for p in alive:
        p.kill()
        p.join(TIMEOUT)
    assert not alive, "test left processes running: %r" % alive
    gc.collect()
    # The stdlib creates each semaphore under a name "sem.mp-*" (through a
    # temporary "sem.XXXXXX") and unlinks it at once: such a name seen here
    # may be any process's, in passing.
    # Those that persist are caught after the suite (check_leftovers.py).
    new = set(os.listdir("/dev/shm")) - shm_before
    left = {f for f in new if not f.startswith("sem.")
            and os.path.exists("/dev/shm/" + f)}
    assert not left, "test left files in /dev/shm: %s" % sorted(left)
    leaked = {fd for fd in _fds() - fds_before if os.path.exists("/proc/self/fd/" + fd)}
    assert not leaked, "test left file descriptors open: %s" % {
        fd: os.readlink("/proc/self/fd/" + fd) for fd in leaked if os.path.exists("/proc/self/fd/" + fd)}


class Notes:
    """Single bytes from children to the test, through a raw pipe: os.write
    is async-signal-safe and involves none of the primitives under test
    (the stdlib's Event.set, say, blocks until its waiter wakes, and is no
    fit for a signal handler)."""

    def __init__(self):
        self.r, self.w = os.pipe()

    def put(self, note):
        os.write(self.w, note)

    def get(self):
        readable, _, _ = select.select([self.r], [], [], TIMEOUT)
        return os.read(self.r, 1) if readable else None

    def close(self):
        os.close(self.r)
        os.close(self.w)


@pytest.fixture
def notes():
    n = Notes()
    yield n
    n.close()


# A child counts as asleep once its main thread was seen in state S this
# many times in a row, SAMPLE seconds apart (longer than a wait for the
# interpreter lock, which ends within sys.getswitchinterval()).
ASLEEP_SAMPLES = 10
SAMPLE = 0.002


def _main_thread_state(pid):
    with open("/proc/%d/task/%d/stat" % (pid, pid)) as f:
        return f.read().rpartition(")")[2].split()[0]


def wait_asleep(pid):
    """Until the main thread of `pid` sleeps in the kernel for good."""
    deadline = time.monotonic() + TIMEOUT
    seen = 0
    while seen < ASLEEP_SAMPLES:
        assert time.monotonic() < deadline, "the child never fell asleep"
        seen = seen + 1 if _main_thread_state(pid) == "S" else 0
        time.sleep(SAMPLE)
