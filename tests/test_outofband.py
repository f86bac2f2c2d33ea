"""numpy arrays and other large buffers through queues: the same arrays
come out, bit for bit, under both backends and every start method; under
cmp the large ones travel out of band in the arena (cmp/_outofband.py) and
come back as views of it, which cost the arena nothing once dropped."""
import gc
import hashlib
import os
import pickle
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cmp
from cmp import _cmp, _outofband
from conftest import TIMEOUT

BIG = 4 * _outofband.THRESHOLD


def _usage():
    gc.collect()
    st = _cmp.arena_stats()     # gives back what dead processes held first
    return st["bytes_in_use"], st["blocks_in_use"]


def _arrays():
    """name -> array: each dtype the issue names, large and small, and the
    awkward shapes."""
    rng = np.random.default_rng(5)
    n = BIG // 8
    structured = np.dtype([('a', '<i4'), ('b', '<f8'), ('c', 'S3')])
    s = np.zeros(n // 2, dtype=structured)
    s['a'] = np.arange(len(s))
    s['b'] = rng.standard_normal(len(s))
    s['c'] = b'xyz'
    floats = rng.standard_normal(n)
    floats[::97] = np.nan
    return {
        'float64': floats,
        'int8': rng.integers(-128, 128, size=BIG, dtype=np.int8),
        'bool': rng.integers(0, 2, size=BIG).astype(bool),
        'complex128': rng.standard_normal(n // 2) + 1j * rng.standard_normal(n // 2),
        'structured': s,
        'small float64': rng.standard_normal(100),
        'zero-size': np.zeros(0),
        'zero-size 2-d': np.zeros((0, 7), dtype=np.int8),
        'non-contiguous': rng.standard_normal((512, 512))[:, ::3],
        'fortran order': np.asfortranarray(rng.standard_normal((300, 200))),
        '3-d': rng.standard_normal((40, 50, 60)),
    }


def same(a, b):
    return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
            and a.tobytes() == b.tobytes())


def _digest(a):
    return hashlib.sha256(repr((a.dtype.descr, a.shape)).encode() + a.tobytes()).hexdigest()


def _echo(requests, replies):
    """Put back every array received, with what the child saw of it."""
    while True:
        a = requests.get()
        if a is None:
            return
        replies.put((_digest(a), a.flags.writeable, a))


@pytest.mark.parametrize("kind", ["Queue", "SimpleQueue", "JoinableQueue"])
def test_arrays_come_back_bit_for_bit(ctx, kind):
    arrays = _arrays()
    requests, replies = getattr(ctx, kind)(), getattr(ctx, kind)()
    p = ctx.Process(target=_echo, args=(requests, replies))
    p.start()
    # (SimpleQueue.get takes no timeout.)
    get = replies.get if kind == "SimpleQueue" else lambda: replies.get(timeout=TIMEOUT)
    try:
        for name, a in arrays.items():
            requests.put(a)
            digest, writeable, back = get()
            assert digest == _digest(a), name
            assert writeable, name
            assert same(back, a), name
            assert back.flags.writeable, name
            back[...] = back[...]        # writable indeed
        requests.put(None)
        p.join(TIMEOUT)
        assert p.exitcode == 0
    finally:
        if p.is_alive():
            p.kill()
            p.join()
        # The stdlib's feeder thread closes its pipe end when it ends: wait
        # for it, or the fd check may run first.
        for q in (requests, replies):
            q.close()
            if hasattr(q, "join_thread"):
                q.join_thread()


def test_put_many_sends_arrays_out_of_band():
    q = cmp.Queue()
    start = _usage()
    arrays = [np.full(BIG // 8, float(i)) for i in range(5)]
    q.put_many(arrays)
    got = q.get_many(5, timeout=TIMEOUT)
    assert all(same(a, b) for a, b in zip(arrays, got))
    assert all(_shared(b) for b in got)
    del got
    assert _usage() == start


def _shared(a):
    """Is `a` a view of a cmp SharedBuffer?"""
    base = a
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return isinstance(base, memoryview) and type(base.obj) is cmp.sharedctypes.SharedBuffer


def test_large_arrays_arrive_as_views_of_the_arena_and_free_with_them():
    q = cmp.Queue()
    start = _usage()
    a = np.arange(BIG // 8, dtype=np.float64)
    q.put(a)
    b = q.get(timeout=TIMEOUT)
    assert same(a, b) and _shared(b)
    assert _usage()[0] >= start[0] + a.nbytes     # the block lives with b
    view = b[10:20]
    del b
    assert _usage()[0] >= start[0] + a.nbytes     # and with any view of it
    assert list(view) == list(range(10, 20))
    del view
    assert _usage() == start


def test_small_and_awkward_buffers_stay_in_band():
    q = cmp.Queue()
    for a in (np.arange(_outofband.THRESHOLD // 8 - 1, dtype=np.float64),
              np.zeros(0), np.arange(BIG)[::2]):
        q.put(a)
        b = q.get(timeout=TIMEOUT)
        assert same(a, b) and not _shared(b)


def test_other_buffer_types_gain_too():
    q = cmp.Queue()
    start = _usage()
    data = os.urandom(BIG)
    for obj in (bytearray(data), pickle.PickleBuffer(bytearray(data))):
        q.put(obj)
        got = q.get(timeout=TIMEOUT)
        assert bytes(got) == data
        del got
    q.put({'x': [np.frombuffer(data, dtype=np.uint8)], 'b': data})
    got = q.get(timeout=TIMEOUT)
    assert got['b'] == data and type(got['b']) is bytes
    assert got['x'][0].tobytes() == data and _shared(got['x'][0])
    del got
    assert _usage() == start


def test_arena_back_after_a_million_small_and_a_thousand_large_messages():
    q = cmp.Queue()
    start = _usage()
    # Small messages: every 100th a small array (pickled, in band), the
    # others small tuples (cmp's plain encoding), in batches of 1000.
    small = np.arange(4, dtype=np.int8)
    for batch in range(1000):
        msgs = [small if i % 100 == 0 else (batch, i, b'x') for i in range(1000)]
        q.put_many(msgs)
        got = q.get_many(1000, timeout=TIMEOUT)
        assert len(got) == 1000 and same(got[0], small) and got[-1] == (batch, 999, b'x')
    large = np.arange(1 << 17, dtype=np.float64)       # 1 MiB: out of band
    for i in range(1000):
        large[0] = i
        q.put(large)
        b = q.get(timeout=TIMEOUT)
        assert b[0] == i and b[-1] == large[-1] and _shared(b)
    del b
    assert _usage() == start


def test_unpicklable_message_with_arrays_raises_and_frees_its_blocks():
    # cmp's choice: put() raises (the stdlib's feeder thread reports it).
    q = cmp.Queue()
    start = _usage()
    with pytest.raises((TypeError, AttributeError, pickle.PicklingError)):
        q.put([np.zeros(BIG), lambda: 0])
    assert _usage() == start
    q.put(np.ones(BIG // 8))
    assert same(q.get(timeout=TIMEOUT), np.ones(BIG // 8))


def test_an_array_larger_than_the_arena_raises_memoryerror_in_put():
    # A small arena of its own: a subprocess.
    code = textwrap.dedent('''
        import numpy as np, cmp
        from cmp import _cmp
        q = cmp.Queue()
        start = _cmp.arena_stats()["bytes_in_use"]
        try:
            q.put(np.zeros(96 << 17))       # 96 MiB
        except MemoryError as e:
            print("MemoryError", e)
        assert _cmp.arena_stats()["bytes_in_use"] == start
        q.put(np.ones(8 << 17))             # 8 MiB: still works
        assert (q.get(timeout=30) == 1).all()
        q.put("after")
        assert q.get(timeout=30) == "after"
        print("ok")
    ''')
    env = dict(os.environ, CMP_ARENA_SIZE=str(64 << 20))
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("MemoryError") and "arena" in lines[0], out.stdout
    assert lines[1] == "ok"


def _hold_and_report(q, notes):
    a = q.get()
    notes.put(int(a[-1]))
    signal.pause()          # holding the view until killed


def test_a_consumer_killed_holding_a_view_costs_nothing(start_method, process_helpers):
    c = cmp.get_context(start_method)
    q, notes = c.Queue(), c.SimpleQueue()
    start = _usage()
    for round in range(3):
        p = c.Process(target=_hold_and_report, args=(q, notes))
        p.start()
        q.put(np.full(BIG // 8, float(round)))
        assert notes.get() == round
        os.kill(p.pid, signal.SIGKILL)
        p.join(TIMEOUT)
        assert p.exitcode == -signal.SIGKILL
        assert _usage() == start        # the dead consumer's block came back
    q.put(np.arange(BIG // 8, dtype=np.float64))
    assert same(q.get(timeout=TIMEOUT), np.arange(BIG // 8, dtype=np.float64))
    del q, notes


def _through_the_worker(a):
    return _digest(a), a


def test_pool_tasks_and_results_carry_arrays(ctx):
    arrays = _arrays()
    start = _usage()
    with ctx.Pool(2) as pool:
        out = pool.map(_through_the_worker, list(arrays.values()), chunksize=1)
        one = pool.apply(_through_the_worker, (arrays['float64'],))
    for (name, a), (digest, back) in zip(arrays.items(), out):
        assert digest == _digest(a), name
        assert same(back, a) and back.flags.writeable, name
    assert same(one[1], arrays['float64'])
    if ctx.__module__.startswith('cmp'):
        assert _shared(one[1])
        del out, one, back, pool
        assert _usage() == start
