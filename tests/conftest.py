"""Every behaviour test takes the `mp` fixture and so runs twice: against
the standard library's multiprocessing and against cmp."""
import gc
import importlib
import os
import sys

import pytest

# Generous: only matters when the code under test is broken.
TIMEOUT = 30.0


@pytest.fixture(params=["multiprocessing", "cmp"])
def mp(request):
    mod = importlib.import_module(request.param)
    if request.param == "multiprocessing":
        return mod.get_context("fork")
    return mod


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
def no_leftovers():
    """No child process, /dev/shm entry or file descriptor outlives a test."""
    import multiprocessing
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
