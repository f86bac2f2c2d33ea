"""A program written for the stdlib's multiprocessing.  tests/test_typing.py
runs mypy --strict on it as it is and on its cmp twin (`import multiprocessing`
becomes `import cmp as multiprocessing`, `from multiprocessing.X` becomes
`from cmp.X`): both must pass."""
import multiprocessing
from multiprocessing.managers import DictProxy, SyncManager
from multiprocessing.pool import AsyncResult
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Lock
from typing import Any, Dict, List, Optional


def work(lock: Lock, total: 'Synchronized[int]', queue: 'Queue[int]', n: int) -> None:
    with lock:
        total.value += n
    queue.put(n * n)


def add(a: int, b: int) -> int:
    return a + b


def main() -> Optional[str]:
    lock = multiprocessing.Lock()
    rlock = multiprocessing.RLock()
    total: 'Synchronized[int]' = multiprocessing.Value('i', 0)
    queue: 'Queue[int]' = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=work, args=(lock, total, queue, n)) for n in range(4)]
    for p in procs:
        p.start()
    squares = sorted(queue.get() for _ in procs)
    for p in procs:
        p.join(timeout=10.0)
    print(total.value, squares, multiprocessing.current_process().name)

    with multiprocessing.Pool(processes=2, initializer=None) as pool:
        result: 'AsyncResult[int]' = pool.apply_async(add, (1, 2))
        print(result.get(timeout=5), pool.map(abs, [-1, -2]), pool.starmap(add, [(1, 2)]))

    event = multiprocessing.Event()
    event.set()
    cond = multiprocessing.Condition(rlock)
    with cond:
        cond.notify_all()
    sem = multiprocessing.BoundedSemaphore(2)
    sem.acquire(timeout=1.0)
    sem.release()
    barrier = multiprocessing.Barrier(1)
    barrier.wait()
    arr = multiprocessing.Array('d', [1.0, 2.0])
    floats: List[float] = arr[:]
    raw = multiprocessing.RawArray('i', 3)
    print(floats, raw[0], multiprocessing.cpu_count(), event.is_set())

    reader, writer = multiprocessing.Pipe()
    writer.send({'k': 1})
    message: Dict[str, int] = reader.recv()
    reader.close()
    writer.close()

    ctx = multiprocessing.get_context('spawn')
    spawn_queue = ctx.Queue()
    spawn_queue.put('x')
    spawn_queue.close()
    manager: SyncManager = multiprocessing.Manager()
    with manager:
        shared: 'DictProxy[str, Any]' = manager.dict()
        shared['x'] = message['k']
    try:
        multiprocessing.set_start_method('fork', force=True)
    except (ValueError, multiprocessing.ProcessError):
        pass
    return multiprocessing.get_start_method(allow_none=True)


if __name__ == '__main__':
    print(main())
