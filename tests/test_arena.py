"""The shared arena: objects live as long as some process holds them, and
nothing leaks (cmp only: the stdlib has no arena)."""
import os
import pickle

import pytest

import cmp
from cmp import _cmp
from cmp._core import arena_stats
from conftest import TIMEOUT


def _usage():
    st = arena_stats()
    return st["bytes_in_use"], st["blocks_in_use"]


def test_million_create_destroy_cycles_leak_nothing():
    start = _usage()
    for _ in range(1_000_000):
        cmp.Lock()
    for _ in range(1000):
        pickle.loads(pickle.dumps(cmp.RLock()))
    assert _usage() == start


def test_objects_are_freed_with_their_last_wrapper():
    start = _usage()
    lock = cmp.Lock()
    assert _usage()[1] == start[1] + 1
    again = pickle.loads(pickle.dumps(lock))
    assert _cmp._shared_refcount(lock) == 2
    del lock
    assert _cmp._shared_refcount(again) == 1
    del again
    assert _usage() == start


def _child_uses_after_parent_dropped(conn):
    lock = conn.recv()          # rebuilt after the parent let go of it
    ok = lock.acquire(timeout=TIMEOUT)
    lock.release()
    conn.send((ok, _cmp._shared_refcount(lock)))
    conn.close()


def test_transfer_keeps_object_alive_until_rebuilt():
    import multiprocessing
    start = _usage()
    parent, child = multiprocessing.Pipe()
    p = multiprocessing.get_context("fork").Process(
        target=_child_uses_after_parent_dropped, args=(child,))
    p.start()
    child.close()
    lock = cmp.Lock()
    parent.send(lock)           # pickled: a transfer reference
    del lock                    # the parent lets go before the child rebuilds
    ok, refs = parent.recv()
    assert ok and refs == 1
    p.join(TIMEOUT)
    parent.close()
    assert p.exitcode == 0
    assert _usage() == start


def _fork_child_holds(lock, conn):
    conn.send(_cmp._shared_refcount(lock))
    conn.recv()
    conn.close()


def test_forked_children_hold_their_own_references():
    import multiprocessing
    start = _usage()
    lock = cmp.Lock()
    parent, child = multiprocessing.Pipe()
    p = multiprocessing.get_context("fork").Process(
        target=_fork_child_holds, args=(lock, child))
    p.start()
    child.close()
    assert parent.recv() == 2   # the parent's and the child's
    parent.send(None)
    p.join(TIMEOUT)
    parent.close()
    assert p.exitcode == 0
    # the child let go when it exited
    assert _cmp._shared_refcount(lock) == 1
    del lock
    assert _usage() == start


def test_unpickling_outside_the_tree_raises_clearly():
    handle = cmp.Lock()._handle()
    bogus = (handle[0] ^ 1, handle[1], handle[2])
    with pytest.raises(RuntimeError, match="shared arena"):
        type(cmp.Lock())._rebuild(bogus)
    # give back the transfer reference taken above
    lock = type(cmp.Lock())._rebuild(handle)
    del lock


CHILD_EXITS_NORMALLY = r"""
import os, sys
import cmp
from cmp import _cmp
lock = cmp.Lock()
pid = os.fork()
if pid == 0:
    sys.exit(0)                 # a normal exit: atexit lets go
_, status = os.waitpid(pid, 0)
assert os.WEXITSTATUS(status) == 0
print(_cmp._shared_refcount(lock))
"""


def test_raw_fork_child_normal_exit_releases():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", CHILD_EXITS_NORMALLY],
                         capture_output=True, text=True, timeout=TIMEOUT,
                         cwd=os.path.dirname(os.path.dirname(cmp.__file__)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def _noop(obj):
    pass


def test_passing_to_a_spawned_process_raises_clearly(process_helpers):
    # A process the stdlib's spawn context starts maps no arena of this
    # tree: refuse at start, instead of breaking in the child.
    import multiprocessing
    proc = multiprocessing.get_context("spawn").Process(target=_noop, args=(cmp.Lock(),))
    with pytest.raises(RuntimeError, match="shared arena"):
        proc.start()
