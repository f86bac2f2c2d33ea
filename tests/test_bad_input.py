"""Bad arguments get the stdlib's answer.

One table of bad (and borderline) calls to the Pool, Queue, Value/Array
and the primitives.  Each case runs on the stdlib's multiprocessing (fork
context) and on cmp, side by side in the same test, and both answers must
be the same: the same exception type, or the same returned value.  Where
cmp's answer is deliberately better (the stdlib hangs or breaks itself),
the case is a documented difference (DIFF below, listed in the README's
differences): the stdlib is not run, and cmp's answer is checked.

A Pool given a bad argument must stay usable: every pool case is followed
by a task on the same pool.  The pool cases run under every start method:
under fork each has its own test; under spawn and forkserver, where a pool
takes about a second to start, they run in turn on one pool per backend
(each still followed by the usability check).
"""
import ctypes
import math
import multiprocessing
import multiprocessing.synchronize
import queue
import sys
import threading

import pytest

import cmp
from conftest import START_METHODS, TIMEOUT

SEM_VALUE_MAX = multiprocessing.synchronize.SEM_VALUE_MAX
INF = float("inf")
NAN = float("nan")


def sqr(x):
    return x * x


def add(a, b):
    return a + b


def outcome(fn, *args):
    """('ok', value) or ('raise', exception type)."""
    try:
        value = fn(*args)
    except Exception as e:
        return ("raise", type(e))
    if isinstance(value, float) and math.isnan(value):
        value = "nan"
    if not isinstance(value, (type(None), bool, int, float, str, bytes, list, tuple)):
        value = type(value).__name__    # an object made: compare its type's name
    return ("ok", value)


# ---- the cases: name -> fn(mp) ---------------------------------------------
#
# mp is the stdlib's fork context or the cmp module.  Pool cases take
# (mp, pool) and run on one pool per backend.

def _held_lock(mp):
    lock = mp.Lock()
    lock.acquire()
    return lock


def _held_rlock_elsewhere(mp):
    # an RLock held by another thread of this process
    lock = mp.RLock()
    got = threading.Event()
    done = threading.Event()

    def hold():
        lock.acquire()
        got.set()
        done.wait(TIMEOUT)
        lock.release()
    t = threading.Thread(target=hold)
    t.start()
    got.wait(TIMEOUT)
    return lock, done, t


def _rlock_release_elsewhere(mp):
    lock, done, t = _held_rlock_elsewhere(mp)
    try:
        lock.release()
    finally:
        done.set()
        t.join()


def _full_queue(mp):
    q = mp.Queue(1)
    q.put(1)
    return q


def _closed_queue(mp):
    q = mp.Queue()
    q.close()
    q.join_thread()
    return q


def _q_put_get(q, obj, **kw):
    q.put(obj, **kw)
    try:
        return q.get(timeout=TIMEOUT)
    finally:
        q.close()
        q.join_thread()


def _q_get_empty(mp, **kw):
    q = mp.Queue()
    try:
        return q.get(**kw)
    finally:
        q.close()
        q.join_thread()


def _q_put_full(mp, *args, **kw):
    q = _full_queue(mp)
    try:
        return q.put(2, *args, **kw)
    finally:
        q.close()
        q.join_thread()


def _q_make(mp, *args, **kw):
    q = mp.Queue(*args, **kw)
    q.close()
    q.join_thread()
    return "made"


def _q_bounded_size(mp, maxsize):
    # how many items fit without blocking (capped)
    q = mp.Queue(maxsize)
    n = 0
    try:
        while n < 5:
            q.put(n, False)
            n += 1
    except queue.Full:
        pass
    while True:
        try:
            q.get(timeout=0.5 if n else 0.01)
            n -= 1
        except queue.Empty:
            break
    q.close()
    q.join_thread()
    return n == 0


def _event_wait(mp, *args, **kw):
    return mp.Event().wait(*args, **kw)


def _sem_acquire(mp, value, *args, **kw):
    return mp.Semaphore(value).acquire(*args, **kw)


def _cond_wait_unheld(mp, *args):
    return mp.Condition().wait(*args)


def _cond_notify_unheld(mp):
    return mp.Condition().notify()


def _cond_wait_for(mp, pred, timeout):
    c = mp.Condition()
    with c:
        return c.wait_for(pred, timeout)


def _cond_wait_held(mp, timeout):
    c = mp.Condition()
    with c:
        return c.wait(timeout)


def _barrier_wait(mp, parties, timeout):
    b = mp.Barrier(parties)
    try:
        return b.wait(timeout)
    finally:
        b.abort()


def _value(mp, *args, **kw):
    return mp.Value(*args, **kw).value


def _raw_value(mp, *args):
    return mp.RawValue(*args).value


def _array(mp, *args, **kw):
    return list(mp.Array(*args, **kw)[:])


def _raw_array(mp, *args):
    return list(mp.RawArray(*args)[:])


def _array_setitem(mp, index, value):
    a = mp.Array("i", 3)
    a[index] = value
    return list(a[:])


def _array_getitem(mp, index):
    return mp.Array("i", 3)[index]


def _char_array_value(mp, value):
    a = mp.Array("c", 3)
    a.value = value
    return a.value


def _value_set(mp, typecode, value):
    v = mp.Value(typecode, 0)
    v.value = value
    return v.value


def _pool_make(mp, *args, **kw):
    p = mp.Pool(*args, **kw)
    try:
        return p.apply(sqr, (3,))
    finally:
        p.terminate()
        p.join()


def _simple_queue_put(mp, obj):
    q = mp.SimpleQueue()
    try:
        q.put(obj)
        return q.get()
    finally:
        q.close()


def _joinable_task_done(mp):
    q = mp.JoinableQueue()
    try:
        q.task_done()
    finally:
        q.close()
        q.join_thread()


def _unpicklable():
    return threading.Lock()


CASES = {
    # Lock
    "lock.acquire(timeout='x')": lambda mp: mp.Lock().acquire(timeout="x"),
    "lock.acquire(True, 'x')": lambda mp: mp.Lock().acquire(True, "x"),
    "lock.acquire(timeout=[])": lambda mp: mp.Lock().acquire(timeout=[]),
    "lock.acquire(timeout=-1)": lambda mp: mp.Lock().acquire(timeout=-1),
    "lock.acquire(timeout=nan)": lambda mp: mp.Lock().acquire(timeout=NAN),
    "lock.acquire(timeout=inf)": lambda mp: mp.Lock().acquire(timeout=INF),
    "lock.acquire(timeout=1e300)": lambda mp: mp.Lock().acquire(timeout=1e300),
    "lock.acquire(timeout=2**64)": lambda mp: mp.Lock().acquire(timeout=2 ** 64),
    "lock.acquire(block='')": lambda mp: mp.Lock().acquire(block=""),
    "lock.acquire(1, 2, 3)": lambda mp: mp.Lock().acquire(1, 2, 3),
    "lock.acquire(nosuch=1)": lambda mp: mp.Lock().acquire(nosuch=1),
    "held lock.acquire(timeout=-1)": lambda mp: _held_lock(mp).acquire(timeout=-1),
    "held lock.acquire(timeout=nan)": lambda mp: _held_lock(mp).acquire(timeout=NAN),
    "held lock.acquire(timeout='x')": lambda mp: _held_lock(mp).acquire(timeout="x"),
    "held lock.acquire(False, 5)": lambda mp: _held_lock(mp).acquire(False, 5),
    "held lock.acquire(timeout=0)": lambda mp: _held_lock(mp).acquire(timeout=0),
    "held lock.acquire(timeout=0.001)": lambda mp: _held_lock(mp).acquire(timeout=0.001),
    "lock.release() unheld": lambda mp: mp.Lock().release(),
    "Lock(1)": lambda mp: mp.Lock(1),
    # RLock
    "rlock.release() unheld": lambda mp: mp.RLock().release(),
    "rlock.release() held elsewhere": _rlock_release_elsewhere,
    "rlock.acquire(timeout='x')": lambda mp: mp.RLock().acquire(timeout="x"),
    "rlock.acquire(timeout=-1)": lambda mp: mp.RLock().acquire(timeout=-1),
    "rlock.acquire(timeout=nan)": lambda mp: mp.RLock().acquire(timeout=NAN),
    "rlock.acquire(timeout=inf)": lambda mp: mp.RLock().acquire(timeout=INF),
    # Semaphore
    "Semaphore(-1)": lambda mp: mp.Semaphore(-1),
    "Semaphore('x')": lambda mp: mp.Semaphore("x"),
    "Semaphore(1.5)": lambda mp: mp.Semaphore(1.5),
    "Semaphore(None)": lambda mp: mp.Semaphore(None),
    "Semaphore(2**40)": lambda mp: mp.Semaphore(2 ** 40),
    "Semaphore(SEM_VALUE_MAX + 1)": lambda mp: mp.Semaphore(SEM_VALUE_MAX + 1),
    "Semaphore(SEM_VALUE_MAX).get_value()": lambda mp: mp.Semaphore(SEM_VALUE_MAX).get_value(),
    "Semaphore(SEM_VALUE_MAX).release()": lambda mp: mp.Semaphore(SEM_VALUE_MAX).release(),
    "Semaphore(0).acquire(timeout=-1)": lambda mp: _sem_acquire(mp, 0, timeout=-1),
    "Semaphore(0).acquire(timeout=nan)": lambda mp: _sem_acquire(mp, 0, timeout=NAN),
    "Semaphore(0).acquire(False)": lambda mp: _sem_acquire(mp, 0, False),
    "Semaphore(1).acquire(timeout='x')": lambda mp: _sem_acquire(mp, 1, timeout="x"),
    "Semaphore(1).acquire(timeout=inf)": lambda mp: _sem_acquire(mp, 1, timeout=INF),
    "Semaphore(1).acquire(timeout=nan)": lambda mp: _sem_acquire(mp, 1, timeout=NAN),
    "Semaphore(0).acquire(timeout='x')": lambda mp: _sem_acquire(mp, 0, timeout="x"),
    "Semaphore(value=1, x=2)": lambda mp: mp.Semaphore(value=1, x=2),
    # BoundedSemaphore
    "BoundedSemaphore(2).release()": lambda mp: mp.BoundedSemaphore(2).release(),
    "BoundedSemaphore(-1)": lambda mp: mp.BoundedSemaphore(-1),
    "BoundedSemaphore(1.5)": lambda mp: mp.BoundedSemaphore(1.5),
    "BoundedSemaphore(2**40)": lambda mp: mp.BoundedSemaphore(2 ** 40),
    "BoundedSemaphore(0).release()": lambda mp: mp.BoundedSemaphore(0).release(),
    # Event
    "event.wait('x')": lambda mp: _event_wait(mp, "x"),
    "event.wait(-1)": lambda mp: _event_wait(mp, -1),
    "event.wait(0)": lambda mp: _event_wait(mp, 0),
    "event.wait(nan)": lambda mp: _event_wait(mp, NAN),
    "event.wait(timeout=[])": lambda mp: _event_wait(mp, timeout=[]),
    "event.wait(1, 2)": lambda mp: _event_wait(mp, 1, 2),
    "set event.wait('x')": lambda mp: (lambda e: (e.set(), e.wait("x"))[1])(mp.Event()),
    "set event.wait(nan)": lambda mp: (lambda e: (e.set(), e.wait(NAN))[1])(mp.Event()),
    "set event.wait(inf)": lambda mp: (lambda e: (e.set(), e.wait(INF))[1])(mp.Event()),
    # Condition
    "condition.wait() unheld": lambda mp: _cond_wait_unheld(mp),
    "condition.wait(1) unheld": lambda mp: _cond_wait_unheld(mp, 1),
    "condition.notify() unheld": _cond_notify_unheld,
    "condition.notify_all() unheld": lambda mp: mp.Condition().notify_all(),
    "condition.wait(-1) held": lambda mp: _cond_wait_held(mp, -1),
    "condition.wait(0) held": lambda mp: _cond_wait_held(mp, 0),
    "condition.wait('x') held": lambda mp: _cond_wait_held(mp, "x"),
    "condition.wait(nan) held": lambda mp: _cond_wait_held(mp, NAN),
    "condition.wait_for(5, 0)": lambda mp: _cond_wait_for(mp, 5, 0),
    "condition.wait_for(lambda: 7, 'x')": lambda mp: _cond_wait_for(mp, lambda: 7, "x"),
    "condition.wait_for(lambda: 0, -1)": lambda mp: _cond_wait_for(mp, lambda: 0, -1),
    "Condition(lock=5)": lambda mp: mp.Condition(lock=5).acquire(),
    "condition.release() unheld": lambda mp: mp.Condition().release(),
    # Barrier
    "Barrier(0)": lambda mp: mp.Barrier(0),
    "Barrier(-1)": lambda mp: mp.Barrier(-1),
    "Barrier(2, timeout='x')": lambda mp: mp.Barrier(2, timeout="x").wait(),
    "Barrier(1).wait()": lambda mp: _barrier_wait(mp, 1, None),
    "Barrier(2).wait(-1)": lambda mp: _barrier_wait(mp, 2, -1),
    "Barrier(2).wait(0)": lambda mp: _barrier_wait(mp, 2, 0),
    "Barrier(2).wait('x')": lambda mp: _barrier_wait(mp, 2, "x"),
    "Barrier(1, action=5).wait()": lambda mp: mp.Barrier(1, action=5).wait(),
    # Queue
    "Queue('x')": lambda mp: _q_make(mp, "x"),
    "Queue(1.5)": lambda mp: _q_make(mp, 1.5),
    "Queue(None)": lambda mp: _q_make(mp, None),
    "Queue(2**40)": lambda mp: _q_make(mp, 2 ** 40),
    "Queue(SEM_VALUE_MAX + 1)": lambda mp: _q_make(mp, SEM_VALUE_MAX + 1),
    "Queue(SEM_VALUE_MAX) bounded": lambda mp: _q_bounded_size(mp, SEM_VALUE_MAX),
    "Queue(-5) unbounded": lambda mp: _q_bounded_size(mp, -5),
    "Queue(True) bounded": lambda mp: _q_bounded_size(mp, True),
    "Queue(1, 2)": lambda mp: _q_make(mp, 1, 2),
    "queue.get(timeout='x')": lambda mp: _q_get_empty(mp, timeout="x"),
    "queue.get(timeout=-1)": lambda mp: _q_get_empty(mp, timeout=-1),
    "queue.get(timeout=0)": lambda mp: _q_get_empty(mp, timeout=0),
    "queue.get(timeout=nan)": lambda mp: _q_get_empty(mp, timeout=NAN),
    "queue.get(False, 'x')": lambda mp: _q_get_empty(mp, block=False, timeout="x"),
    "queue.get(block=False)": lambda mp: _q_get_empty(mp, block=False),
    "queue.get(timeout=[])": lambda mp: _q_get_empty(mp, timeout=[]),
    "full queue.put(timeout=-1)": lambda mp: _q_put_full(mp, timeout=-1),
    "full queue.put(timeout=0)": lambda mp: _q_put_full(mp, timeout=0),
    "full queue.put(timeout='x')": lambda mp: _q_put_full(mp, timeout="x"),
    "full queue.put(timeout=nan)": lambda mp: _q_put_full(mp, timeout=NAN),
    "full queue.put(False)": lambda mp: _q_put_full(mp, False),
    "full queue.put(False, 'x')": lambda mp: _q_put_full(mp, False, "x"),
    "bounded queue.put(1, timeout='x')": lambda mp: _q_put_get(mp.Queue(3), 1, timeout="x"),
    "bounded queue.put(1, timeout=nan)": lambda mp: _q_put_get(mp.Queue(3), 1, timeout=NAN),
    "bounded queue.put(1, timeout=-1)": lambda mp: _q_put_get(mp.Queue(3), 1, timeout=-1),
    "queue.put(1, timeout='x')": lambda mp: _q_put_get(mp.Queue(), 1, timeout="x"),
    "closed queue.put(1)": lambda mp: _closed_queue(mp).put(1),
    "closed queue.get()": lambda mp: _closed_queue(mp).get(),
    "closed queue.get_nowait()": lambda mp: _closed_queue(mp).get_nowait(),
    "queue.put() no item": lambda mp: mp.Queue().put(),
    "SimpleQueue(5)": lambda mp: mp.SimpleQueue(5),
    "simplequeue.put(unpicklable)": lambda mp: _simple_queue_put(mp, _unpicklable()),
    "simplequeue.put(1, 2)": lambda mp: mp.SimpleQueue().put(1, 2),
    "joinablequeue.task_done() too many": _joinable_task_done,
    "JoinableQueue('x')": lambda mp: mp.JoinableQueue("x"),
    # Value
    "Value('x', 1)": lambda mp: _value(mp, "x", 1),
    "Value('', 1)": lambda mp: _value(mp, "", 1),
    "Value(5, 1)": lambda mp: _value(mp, 5, 1),
    "Value('i', 'a')": lambda mp: _value(mp, "i", "a"),
    "Value('i', 1.5)": lambda mp: _value(mp, "i", 1.5),
    "Value('i', 2**40)": lambda mp: _value(mp, "i", 2 ** 40),
    "Value('i', -2**40)": lambda mp: _value(mp, "i", -(2 ** 40)),
    "Value('B', -1)": lambda mp: _value(mp, "B", -1),
    "Value('i', 2**70)": lambda mp: _value(mp, "i", 2 ** 70),
    "Value('d', 'x')": lambda mp: _value(mp, "d", "x"),
    "Value('d', 2**2000)": lambda mp: _value(mp, "d", 2 ** 2000),
    "Value('d', nan)": lambda mp: _value(mp, "d", NAN),
    "Value('c', 1)": lambda mp: _value(mp, "c", 1),
    "Value('c', b'ab')": lambda mp: _value(mp, "c", b"ab"),
    "Value('c', 'a')": lambda mp: _value(mp, "c", "a"),
    "Value('u', 'ab')": lambda mp: _value(mp, "u", "ab"),
    "Value('i', 1, 2)": lambda mp: _value(mp, "i", 1, 2),
    "Value('i', lock=5)": lambda mp: _value(mp, "i", 1, lock=5),
    "Value('i', lock=None)": lambda mp: _value(mp, "i", 3, lock=None),
    "Value('i', nosuch=1)": lambda mp: _value(mp, "i", 1, nosuch=1),
    "Value(c_int, 'x')": lambda mp: _value(mp, ctypes.c_int, "x"),
    "RawValue('x')": lambda mp: _raw_value(mp, "x"),
    "RawValue('i', 'a')": lambda mp: _raw_value(mp, "i", "a"),
    "value.value = 'x' (i)": lambda mp: _value_set(mp, "i", "x"),
    "value.value = 2**40 (i)": lambda mp: _value_set(mp, "i", 2 ** 40),
    "value.value = 1.5 (i)": lambda mp: _value_set(mp, "i", 1.5),
    "value.value = None (d)": lambda mp: _value_set(mp, "d", None),
    # Array
    "Array('i', -1)": lambda mp: _array(mp, "i", -1),
    "Array('i', 1.5)": lambda mp: _array(mp, "i", 1.5),
    "Array('x', 3)": lambda mp: _array(mp, "x", 3),
    "Array('i', [1, 'a'])": lambda mp: _array(mp, "i", [1, "a"]),
    "Array('i', [1, 2**40])": lambda mp: _array(mp, "i", [1, 2 ** 40]),
    "Array('i', None)": lambda mp: _array(mp, "i", None),
    "Array('i', 'abc')": lambda mp: _array(mp, "i", "abc"),
    "Array('c', 'abc')": lambda mp: _array(mp, "c", "abc"),
    "Array('c', b'abc')": lambda mp: _array(mp, "c", b"abc"),
    "Array('i', 0)": lambda mp: _array(mp, "i", 0),
    "Array('i', 2**62)": lambda mp: _array(mp, "i", 2 ** 62),
    "Array('i', 2**70)": lambda mp: _array(mp, "i", 2 ** 70),
    "Array('i', 3, lock=5)": lambda mp: _array(mp, "i", 3, lock=5),
    "Array('i', 3, 4)": lambda mp: _array(mp, "i", 3, 4),
    "RawArray('i', -1)": lambda mp: _raw_array(mp, "i", -1),
    "RawArray('x', 3)": lambda mp: _raw_array(mp, "x", 3),
    "RawArray('i', [1.5])": lambda mp: _raw_array(mp, "i", [1.5]),
    "array[5] = 1": lambda mp: _array_setitem(mp, 5, 1),
    "array[0] = 'x'": lambda mp: _array_setitem(mp, 0, "x"),
    "array[0:2] = [1]": lambda mp: _array_setitem(mp, slice(0, 2), [1]),
    "array[0:2] = [1, 'x']": lambda mp: _array_setitem(mp, slice(0, 2), [1, "x"]),
    "array['a'] = 1": lambda mp: _array_setitem(mp, "a", 1),
    "array[-4]": lambda mp: _array_getitem(mp, -4),
    "array[3]": lambda mp: _array_getitem(mp, 3),
    "array[1.0]": lambda mp: _array_getitem(mp, 1.0),
    "char array.value = 'ab'": lambda mp: _char_array_value(mp, "ab"),
    "char array.value = b'abcd'": lambda mp: _char_array_value(mp, b"abcd"),
    # Pool construction
    "Pool(0)": lambda mp: _pool_make(mp, 0),
    "Pool(-1)": lambda mp: _pool_make(mp, -1),
    "Pool(1.5)": lambda mp: _pool_make(mp, 1.5),
    "Pool('2')": lambda mp: _pool_make(mp, "2"),
    "Pool(initializer=5)": lambda mp: _pool_make(mp, 1, initializer=5),
    "Pool(maxtasksperchild=0)": lambda mp: _pool_make(mp, 1, maxtasksperchild=0),
    "Pool(maxtasksperchild=-1)": lambda mp: _pool_make(mp, 1, maxtasksperchild=-1),
    "Pool(maxtasksperchild=1.5)": lambda mp: _pool_make(mp, 1, maxtasksperchild=1.5),
    "Pool(maxtasksperchild='1')": lambda mp: _pool_make(mp, 1, maxtasksperchild="1"),
    "Pool(nosuch=1)": lambda mp: _pool_make(mp, 1, nosuch=1),
}

# Cases on a running pool: fn(mp, pool).
POOL_CASES = {
    "map(chunksize=0)": lambda mp, p: p.map(sqr, [1, 2, 3], chunksize=0),
    "map(chunksize=-1)": lambda mp, p: p.map(sqr, [1, 2, 3], chunksize=-1),
    "map([], chunksize=0)": lambda mp, p: p.map(sqr, [], chunksize=0),
    "map(range, chunksize=0)": lambda mp, p: p.map(sqr, range(4), chunksize=0),
    "map(tuple, chunksize=-3)": lambda mp, p: p.map(sqr, (1, 2), chunksize=-3),
    "map(generator, chunksize=0)": lambda mp, p: p.map(sqr, (i for i in range(3)), chunksize=0),
    "map_async(chunksize=0).get()": lambda mp, p: p.map_async(sqr, [1, 2], chunksize=0).get(TIMEOUT),
    "starmap(chunksize=0)": lambda mp, p: p.starmap(add, [(1, 2)], chunksize=0),
    "starmap(chunksize=-1)": lambda mp, p: p.starmap(add, [(1, 2), (3, 4)], chunksize=-1),
    "map(chunksize='x')": lambda mp, p: p.map(sqr, [1, 2], chunksize="x"),
    "map(5)": lambda mp, p: p.map(sqr, 5),
    "map(None)": lambda mp, p: p.map(sqr, None),
    "map(not callable)": lambda mp, p: p.map(5, [1, 2]),
    "map(func raises)": lambda mp, p: p.map(sqr, ["a"]),
    "starmap(not iterables)": lambda mp, p: p.starmap(add, [1, 2]),
    "starmap(wrong arity)": lambda mp, p: p.starmap(add, [(1,)]),
    "imap(chunksize=0)": lambda mp, p: list(p.imap(sqr, [1, 2], chunksize=0)),
    "imap(chunksize=-1)": lambda mp, p: list(p.imap(sqr, [1, 2], chunksize=-1)),
    "imap_unordered(chunksize=0)": lambda mp, p: list(p.imap_unordered(sqr, [1], chunksize=0)),
    "imap(5)": lambda mp, p: list(p.imap(sqr, 5)),
    "imap(not callable)": lambda mp, p: list(p.imap(5, [1])),
    "apply(args=5)": lambda mp, p: p.apply(sqr, 5),
    "apply(kwds=5)": lambda mp, p: p.apply(sqr, (1,), 5),
    "apply(not callable)": lambda mp, p: p.apply(5),
    "apply(wrong arity)": lambda mp, p: p.apply(add, (1,)),
    "apply_async().get('x')": lambda mp, p: p.apply_async(sqr, (2,)).get("x"),
    "apply_async().get(-1) when ready": lambda mp, p: (lambda r: (r.wait(TIMEOUT), r.get(-1))[1])(p.apply_async(sqr, (2,))),
    "apply_async().wait('x')": lambda mp, p: p.apply_async(sqr, (2,)).wait("x"),
    "apply_async(args=None)": lambda mp, p: p.apply_async(sqr, None).get(TIMEOUT),
    "map_async(sqr, 5)": lambda mp, p: p.map_async(sqr, 5),
    "apply(unpicklable arg)": lambda mp, p: p.apply(sqr, (_unpicklable(),)),
}

# Documented differences: name -> cmp's answer.  The stdlib is not run on
# them: each hangs it or leaves its pool broken.
DIFF = {
    # the stdlib's task generator fails inside its handler thread and
    # map() never returns
    "map(chunksize=1.5)": ("raise", TypeError),
    "imap(chunksize=1.5)": ("raise", TypeError),
    "starmap(chunksize=2.5)": ("raise", TypeError),
    # the stdlib's workers fail initializer(*5) and are replaced forever
    "Pool(initargs=5)": ("raise", TypeError),
    # the stdlib takes them and its wait() then fails or never trips
    "Barrier('x')": ("raise", TypeError),
    "Barrier(None)": ("raise", TypeError),
    # the stdlib looks at the timeout only when it has to wait
    "Barrier(1).wait('x')": ("raise", TypeError),
}
DIFF_CASES = {
    "map(chunksize=1.5)": lambda mp, p: p.map(sqr, [1, 2, 3], chunksize=1.5),
    "imap(chunksize=1.5)": lambda mp, p: list(p.imap(sqr, [1, 2, 3], chunksize=1.5)),
    "starmap(chunksize=2.5)": lambda mp, p: p.starmap(add, [(1, 2)], chunksize=2.5),
    "Pool(initargs=5)": lambda mp, p: _pool_make(mp, 1, sqr, 5),
    "Barrier('x')": lambda mp, p: mp.Barrier("x"),
    "Barrier(None)": lambda mp, p: mp.Barrier(None),
    "Barrier(1).wait('x')": lambda mp, p: _barrier_wait(mp, 1, "x"),
}


def test_the_table_is_large():
    assert len(CASES) + len(POOL_CASES) + len(DIFF_CASES) >= 100


_stdlib = multiprocessing.get_context("fork")
# The stdlib's Value and Array live in a heap whose first arena keeps a
# file open: make it before the leftover check of the first test looks.
_heap_in_use = _stdlib.RawValue("i")


# Before 3.10 the stdlib's Pool takes these and its workers fail an
# assertion at start, replaced without end (a hang); cmp raises the
# ValueError that 3.10+ raise.
BEFORE_310_HANGS = {"Pool(maxtasksperchild=0)", "Pool(maxtasksperchild=-1)",
                    "Pool(maxtasksperchild=1.5)", "Pool(maxtasksperchild='1')"}


def _check_case(name, std, mine):
    fn = CASES[name]
    if name in BEFORE_310_HANGS and sys.version_info < (3, 10):
        assert outcome(fn, mine) == ("raise", ValueError)
        return
    want = outcome(fn, std)
    got = outcome(fn, mine)
    assert got == want, "%s: stdlib %r, cmp %r" % (name, want, got)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_argument(name):
    _check_case(name, _stdlib, cmp)


def _make_pools(std, mine):
    return {"stdlib": std.Pool(2), "cmp": mine.Pool(2)}


def _end_pools(made):
    for pool in made.values():
        pool.terminate()
        pool.join()
    # the stdlib's pool closes its pipes when it is collected
    made.clear()


@pytest.fixture
def pools():
    made = _make_pools(_stdlib, cmp)
    yield made
    _end_pools(made)


def _still_usable(pool):
    assert pool.apply(sqr, (7,)) == 49
    assert pool.map(sqr, range(5)) == [0, 1, 4, 9, 16]


def _check_pool_case(name, std, mine, pools):
    fn = POOL_CASES[name]
    want = outcome(fn, std, pools["stdlib"])
    got = outcome(fn, mine, pools["cmp"])
    assert got == want, "%s: stdlib %r, cmp %r" % (name, want, got)
    _still_usable(pools["cmp"])
    _still_usable(pools["stdlib"])


def _check_difference(name, mine, pools):
    got = outcome(DIFF_CASES[name], mine, pools["cmp"])
    assert got == DIFF[name], "%s: cmp %r" % (name, got)
    _still_usable(pools["cmp"])


@pytest.mark.parametrize("name", sorted(POOL_CASES))
def test_bad_argument_to_a_pool(name, pools):
    _check_pool_case(name, _stdlib, cmp, pools)


@pytest.mark.parametrize("name", sorted(DIFF_CASES))
def test_documented_difference(name, pools):
    _check_difference(name, cmp, pools)


@pytest.mark.parametrize("start_method", [m for m in START_METHODS if m != "fork"])
def test_bad_arguments_to_pools_of_other_start_methods(start_method):
    # The fork tests above, every case in turn, under spawn or forkserver:
    # the Pool constructions (their workers started by the method), then
    # the cases on one running pool per backend, the differences last.
    std = multiprocessing.get_context(start_method)
    mine = cmp.get_context(start_method)
    for name in sorted(n for n in CASES if n.startswith("Pool(")):
        _check_case(name, std, mine)
    made = _make_pools(std, mine)
    try:
        for name in sorted(POOL_CASES):
            _check_pool_case(name, std, mine, made)
        for name in sorted(DIFF_CASES):
            _check_difference(name, mine, made)
    finally:
        _end_pools(made)
