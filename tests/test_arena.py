"""The shared arena: objects live as long as some process holds them, and
nothing leaks (cmp only: the stdlib has no arena)."""
import os
import pickle

import pytest

import cmp
from cmp import _cmp
from cmp._core import arena_stats
from conftest import START_METHODS, TIMEOUT


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


def test_transfer_keeps_object_alive_until_rebuilt(start_method):
    import multiprocessing
    ctx = cmp.get_context(start_method)
    start = _usage()
    parent, child = multiprocessing.Pipe()
    p = ctx.Process(target=_child_uses_after_parent_dropped, args=(child,))
    p.start()
    child.close()
    lock = ctx.Lock()
    parent.send(lock)           # pickled: a transfer reference
    del lock                    # the parent lets go before the child rebuilds
    ok, refs = parent.recv()
    assert ok and refs == 1
    p.join(TIMEOUT)
    parent.close()
    assert p.exitcode == 0
    assert _usage() == start


def _child_holds(lock, conn):
    conn.send(_cmp._shared_refcount(lock))
    conn.recv()
    conn.close()


def test_children_hold_their_own_references(start_method):
    # Inherited (fork) or rebuilt from the start's pickle (spawn,
    # forkserver): the child's reference is its own either way.
    import multiprocessing
    ctx = cmp.get_context(start_method)
    start = _usage()
    lock = ctx.Lock()
    parent, child = multiprocessing.Pipe()
    p = ctx.Process(target=_child_holds, args=(lock, child))
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
    # Fork only by nature: a bare os.fork() outside multiprocessing, whose
    # child inherits the parent's references and lets go at exit.
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", CHILD_EXITS_NORMALLY],
                         capture_output=True, text=True, timeout=TIMEOUT,
                         cwd=os.path.dirname(os.path.dirname(cmp.__file__)))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


def _noop(obj):
    pass


@pytest.mark.parametrize("start_method", [m for m in START_METHODS if m != "fork"])
def test_passing_to_a_stdlib_spawned_process_raises_clearly(start_method):
    # A process the stdlib's spawn or forkserver context starts maps no
    # arena of this tree: refuse at start, instead of breaking in the
    # child.  (The stdlib's fork context forks: its children inherit the
    # arena.)
    import multiprocessing
    lock = cmp.get_context(start_method).Lock()
    proc = multiprocessing.get_context(start_method).Process(target=_noop, args=(lock,))
    with pytest.raises(RuntimeError, match="shared arena"):
        proc.start()


def _run_in_fresh_arena(code, size):
    """Run `code` in a new interpreter whose arena reserves `size` bytes;
    returns its stdout."""
    import subprocess
    import sys
    env = dict(os.environ, CMP_ARENA_SIZE=str(size))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=10 * TIMEOUT, env=env,
                         cwd=os.path.dirname(os.path.dirname(cmp.__file__)))
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


SIZE_DRIFT = r"""
import cmp
from cmp._core import arena_stats
q = cmp.Queue()
start = arena_stats()
for size in (600_000, 300_000, 150_000, 70_000):
    n = 200_000_000 // size           # 200 MB a round
    for i in range(n):
        q.put(bytes([i % 251]) * size)
    peak = arena_stats()["resident"]
    for i in range(n):
        got = q.get()
        assert len(got) == size and got[0] == i % 251 and got[-1] == i % 251
    st = arena_stats()
    assert st["bytes_in_use"] == start["bytes_in_use"], (st, start)
    print(size, peak, st["resident"], start["resident"])
"""


def test_drifting_message_sizes_reuse_memory_and_give_it_back():
    # Each round frees memory of one size class that the next round's
    # (smaller) class must reuse: 4 x 200 MB through a 1 GiB arena, and the
    # freed pages go back to the kernel after each round.
    out = _run_in_fresh_arena(SIZE_DRIFT, 1 << 30)
    rounds = [tuple(map(int, line.split())) for line in out.split("\n") if line]
    assert [r[0] for r in rounds] == [600_000, 300_000, 150_000, 70_000]
    for size, peak, after, start in rounds:
        assert peak > 150_000_000                 # the round was resident
        # back to the start, but for the free pages kept for reuse
        assert after < start + (16 << 20), (size, peak, after, start)


ARENA_FILLS_UP = r"""
import cmp
from cmp._core import arena_stats
start = arena_stats()["bytes_in_use"]
lock = cmp.Lock()
q = cmp.Queue()
for round in range(3):
    # shared objects until the arena is full
    values = []
    try:
        while True:
            values.append(cmp.Value("i", len(values)))
    except MemoryError as e:
        assert "arena is full" in str(e)
    assert len(values) > 1000
    assert lock.acquire(timeout=5) and (lock.release() is None)
    assert [v.value for v in values[:: 97]] == list(range(0, len(values), 97))
    nvalues = len(values)
    del values
    # out-of-line queue messages until the arena is full
    n = 0
    try:
        while True:
            q.put(bytes([n % 251]) * 100_000)
            n += 1
    except MemoryError as e:
        assert "arena is full" in str(e)
    assert n > 10
    for i in range(n):
        got = q.get(timeout=5)
        assert len(got) == 100_000 and got[0] == i % 251
    assert q.empty()
    assert arena_stats()["bytes_in_use"] - start < 1 << 20
    print(nvalues, n)
"""


def test_a_full_arena_raises_memoryerror_and_recovers():
    out = _run_in_fresh_arena(ARENA_FILLS_UP, 8 << 20)
    rounds = [tuple(map(int, line.split())) for line in out.split("\n") if line]
    assert len(rounds) == 3
    # every round fits as much as the first
    assert all(r == rounds[0] for r in rounds), rounds


def test_stale_handles_are_refused_after_their_memory_serves_other_sizes():
    # Handles of Locks freed long ago, whose spans went back to the ranges
    # and now hold other data, the handles' own generations included: each
    # is refused, never taken for whatever lives there now.
    locks = [cmp.Lock() for _ in range(5000)]
    stale = []
    for lock in locks:
        h = lock._handle()
        type(lock)._rebuild(h)      # adopt it back: the refs balance
        stale.append(h)
    lock_type = type(locks[0])
    del locks, lock, h
    gens = [h[2] for h in stale]
    fill = [cmp.RawArray("I", [gens[i % len(gens)]] * 4000) for i in range(200)]
    fill += [cmp.RawArray("I", [g] * 3) for g in gens[:3000]]
    refused = 0
    for h in stale:
        try:
            lock_type._rebuild(h)
        except RuntimeError as e:
            assert "no longer exists" in str(e) or "invalid handle" in str(e)
            refused += 1
    assert refused == len(stale)
    again = cmp.Lock()
    assert pickle.loads(pickle.dumps(again)).acquire(timeout=TIMEOUT)
    del fill
