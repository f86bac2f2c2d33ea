"""What does a process Pool cost per task, and how close does it get to the
ideal when tasks do real waiting?

Every case uses a pool of 2 workers with trivial (module-level) tasks and
checks every result.  Cases named '... [tasks=N]' form the series of "pool
overhead against task count".  concurrent.futures.ProcessPoolExecutor is
measured alongside as a competitor where it has the same operation.

The cases named 'pool (spawn) ...' and 'pool (forkserver) ...' run the
round trip, one point of each map series and the start-up with workers
started by that method: cmp's context for it against the stdlib's.
"""
import time

from benchmarks.common import case

WORKERS = 2


def sqr(x):
    return x * x


def sleep_1ms(x):
    time.sleep(0.001)
    return x


METHODS = ('spawn', 'forkserver')   # besides fork, the rows' default


def _context(mp, method):
    """The backend for `method`: `mp` itself for fork, else its context."""
    return mp if method == 'fork' else mp.get_context(method)


def _prefix(method):
    return 'pool' if method == 'fork' else 'pool (%s)' % method


def _preimport(mp):
    # Import the pool module before the clock starts: the start-up case
    # measures a pool, not a module import (which PYTHONDONTWRITEBYTECODE
    # would make a compilation).
    import importlib
    name = getattr(mp, '__name__', None) or type(mp).__module__
    importlib.import_module(name.split('.')[0] + '.pool')


def _executor():
    import concurrent.futures
    import multiprocessing
    return concurrent.futures.ProcessPoolExecutor(
        WORKERS, mp_context=multiprocessing.get_context('fork'))


def _check(got, n):
    if got != [x * x for x in range(n)]:
        raise AssertionError('wrong results')


# -- round trip ---------------------------------------------------------------

def _round_trips(quick):
    return 500 if quick else 5000


def _executor_round_trip(quick):
    n = _round_trips(quick)
    with _executor() as ex:
        ex.submit(sqr, 0).result()
        t0 = time.perf_counter()
        for i in range(n):
            if ex.submit(sqr, i).result() != i * i:
                raise AssertionError('wrong result')
        return n / (time.perf_counter() - t0)


def _round_trip_case(method):
    def run(mp, quick):
        n = _round_trips(quick)
        with _context(mp, method).Pool(WORKERS) as p:
            p.apply(sqr, (0,))
            t0 = time.perf_counter()
            for i in range(n):
                if p.apply_async(sqr, (i,)).get() != i * i:
                    raise AssertionError('wrong result')
            elapsed = time.perf_counter() - t0
        p.join()
        return n / elapsed
    return run


case('pool apply_async(f, (i,)).get() round trip', 'round trips/s',
     competitors={'ProcessPoolExecutor submit().result()': _executor_round_trip})(
    _round_trip_case('fork'))


# -- map against task count: chunksize=1, and the stdlib's default rule ----------

def _map_cases(n, chunksize, quick_cap, method='fork'):
    """The Pool case and the executor competitor for one series point.
    chunksize None: the Pool's default rule (the executor, whose default
    is 1, is given the same number)."""
    def sizes(quick):
        count = min(n, quick_cap) if quick else n
        return count, chunksize or -(-count // (WORKERS * 4))

    def run(mp, quick):
        count, _ = sizes(quick)
        with _context(mp, method).Pool(WORKERS) as p:
            p.apply(sqr, (0,))
            t0 = time.perf_counter()
            got = p.map(sqr, range(count), chunksize)
            elapsed = time.perf_counter() - t0
        p.join()
        _check(got, count)
        return count / elapsed

    def executor(quick):
        count, size = sizes(quick)
        with _executor() as ex:
            ex.submit(sqr, 0).result()
            t0 = time.perf_counter()
            got = list(ex.map(sqr, range(count), chunksize=size))
            elapsed = time.perf_counter() - t0
        _check(got, count)
        return count / elapsed
    return run, executor


for _n in (100, 1000, 10000):
    _run, _ex = _map_cases(_n, 1, 2000)
    case('pool map chunksize=1, trivial tasks [tasks=%d]' % _n, 'tasks/s',
         competitors={'ProcessPoolExecutor map chunksize=1': _ex})(_run)

for _n in (1000, 10000, 100000):
    _run, _ex = _map_cases(_n, None, 10000)
    case('pool map default chunksize, trivial tasks [tasks=%d]' % _n, 'tasks/s',
         competitors={'ProcessPoolExecutor map, Pool chunksize rule': _ex})(_run)


# -- start-up and shutdown --------------------------------------------------------

def _executor_startup(quick):
    import concurrent.futures.process  # noqa: F401  (as _preimport does)
    t0 = time.perf_counter()
    ex = _executor()
    if ex.submit(sqr, 3).result() != 9:
        raise AssertionError('wrong result')
    ex.shutdown(wait=True)
    return time.perf_counter() - t0


def _startup_case(method):
    def run(mp, quick):
        mp = _context(mp, method)
        _preimport(mp)
        t0 = time.perf_counter()
        p = mp.Pool(WORKERS)
        if p.apply(sqr, (3,)) != 9:
            raise AssertionError('wrong result')
        p.close()
        p.join()
        return time.perf_counter() - t0
    return run


case('pool start-up + one task + close()/join(), 2 workers', 's', higher_is_better=False,
     competitors={'ProcessPoolExecutor start + one task + shutdown': _executor_startup})(
    _startup_case('fork'))


# -- the same under the other start methods ------------------------------------------

for _m in METHODS:
    case('%s apply_async(f, (i,)).get() round trip' % _prefix(_m), 'round trips/s')(
        _round_trip_case(_m))
    case('%s map chunksize=1, 1000 trivial tasks' % _prefix(_m), 'tasks/s')(
        _map_cases(1000, 1, 1000, _m)[0])
    case('%s map default chunksize, 10000 trivial tasks' % _prefix(_m), 'tasks/s')(
        _map_cases(10000, None, 10000, _m)[0])
    case('%s start-up + one task + close()/join(), 2 workers' % _prefix(_m), 's',
         higher_is_better=False)(_startup_case(_m))


# -- real waiting: how close to the ideal ------------------------------------------

@case('pool 1 ms sleeps on 2 workers, share of the ideal throughput [tasks=1000]', '%')
def sleeps(mp, quick):
    n = 200 if quick else 1000
    with mp.Pool(WORKERS) as p:
        p.apply(sqr, (0,))
        t0 = time.perf_counter()
        rs = [p.apply_async(sleep_1ms, (i,)) for i in range(n)]
        got = [r.get() for r in rs]
        elapsed = time.perf_counter() - t0
    p.join()
    if got != list(range(n)):
        raise AssertionError('wrong results')
    return 100.0 * (n * _one_sleep(50 if quick else 200) / WORKERS) / elapsed


def _one_sleep(count):
    """What one time.sleep(0.001) really takes here (it overshoots), in the
    workers' conditions: WORKERS forked processes sleeping back to back at
    the same time, `count` sleeps each; the mean over them."""
    import os
    import struct
    r, w = os.pipe()
    pids = []
    for _ in range(WORKERS):
        pid = os.fork()
        if pid == 0:
            try:
                t0 = time.perf_counter()
                for _ in range(count):
                    time.sleep(0.001)
                os.write(w, struct.pack('d', (time.perf_counter() - t0) / count))
            finally:
                os._exit(0)
        pids.append(pid)
    os.close(w)
    with os.fdopen(r, 'rb') as f:
        data = f.read()
    for pid in pids:
        os.waitpid(pid, 0)
    ones = [v for (v,) in struct.iter_unpack('d', data)]
    if len(ones) != WORKERS:
        raise AssertionError('a sleeping process failed')
    return sum(ones) / len(ones)
