"""Every cmp extension used as documented: mypy --strict must accept it, and
it runs (tests/test_typing.py does both)."""
import ctypes
import warnings
from multiprocessing import queues as std_queues
from typing import TYPE_CHECKING, Iterator, List

import cmp
import cmp as multiprocessing
from cmp._core import arena_stats
from cmp.pool import WorkerLostError
from cmp.synchronize import OwnerDiedWarning

if TYPE_CHECKING:
    from cmp._core import ArenaStats


def square(x: int) -> int:
    return x * x


def counters() -> int:
    total = multiprocessing.Value('q', 0)
    old: int = total.fetch_add(5)
    old = total.fetch_add(delta=-1)
    old = total.exchange(10)
    found: int = total.compare_exchange(10, 11)
    found = total.compare_exchange(expected=11, desired=12)
    typed = multiprocessing.Value(ctypes.c_long, 0)
    typed.fetch_add(1)
    arr = multiprocessing.Array('i', 8)
    arr.fetch_add(0)
    arr.fetch_add(1, delta=2)
    arr.exchange(2, 7)
    arr.compare_exchange(3, 0, 1)
    with total.get_lock():
        total.value += 1
    return old + found + total.value + arr[0]


def batches() -> List[str]:
    q: cmp.queues.Queue[str] = multiprocessing.Queue()
    q.put_many(['a', 'b', 'c'])
    q.put_many(iter(['d']), block=True, timeout=1.0)
    items: List[str] = q.get_many(2)
    while len(items) < 4:
        items += q.get_many(max_items=10, timeout=5.0)
    sq: cmp.queues.SimpleQueue[str] = multiprocessing.SimpleQueue()
    sq.put_many(['x'])
    items += sq.get_many(1)
    jq: cmp.queues.JoinableQueue[int] = multiprocessing.JoinableQueue()
    jq.put_many([1, 2])
    items += [str(n) for n in jq.get_many()]
    jq.task_done()
    # A cmp queue goes where a multiprocessing queue is expected.
    std_typed: std_queues.Queue[str] = q
    std_typed.put('e')
    items.append(std_typed.get(timeout=5.0))
    q.close()
    sq.close()
    return items


def pool_extensions() -> int:
    with multiprocessing.Pool(2) as pool:
        r1: List[int] = pool.map(square, range(10), task_timeout=5.0, progress=True)
        r2 = pool.apply_async(square, (3,), task_timeout=1.5).get()
        it: Iterator[int] = pool.imap(square, range(10), max_in_flight=4, progress=False,
                                      task_timeout=None)
        r0 = sum(it)
        r3 = sum(pool.imap_unordered(square, range(5), 2, max_in_flight=1))
        r4 = pool.starmap(pow, [(2, 3)], task_timeout=2)
        r5 = pool.map_async(square, [1], progress=True).get()
        try:
            pool.apply(square, (1,))
        except WorkerLostError as e:
            print(e.args)
    return sum(r1) + r2 + r0 + r3 + sum(r4) + sum(r5)


def diagnostics() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter('error', OwnerDiedWarning)
    st: 'ArenaStats' = arena_stats()
    in_use: int = st['bytes_in_use'] + st['blocks_in_use'] + st['size']
    version: str = cmp.__version__
    return in_use + len(version)


if __name__ == '__main__':
    print(counters(), batches(), pool_extensions(), diagnostics())
