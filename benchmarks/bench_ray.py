"""What does crossing machines cost a Pool program?

The same four pool cases run on a local Pool of 2 workers (the stdlib's and
cmp's columns) and, as the competitor, on cmp's Pool over a Ray cluster of
two nodes on this machine (``ray.cluster_utils.Cluster``: a head and a
second node, one CPU each, one worker on each), started and shut down by
each measurement outside the timed part.  Skipped with a note where Ray is
not installed.  Every case checks every result.
"""
import os
import time

from benchmarks.common import case

WORKERS = 2
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sqr(x):
    return x * x


def sleep_10ms(x):
    time.sleep(0.01)
    return x


def _check(got, want):
    if got != want:
        raise AssertionError('wrong results')


def _on_cluster(run):
    """A competitor: run(pool) on cmp's Pool over a fresh two-node cluster."""
    def competitor(quick):
        import ray
        from ray.cluster_utils import Cluster
        import cmp
        # The workers import this module (the tasks are its functions).
        os.environ['PYTHONPATH'] = os.pathsep.join(
            [ROOT] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])
        cluster = Cluster(initialize_head=True, head_node_args={'num_cpus': 1})
        try:
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            ray.init(address=cluster.address, log_to_driver=False)
            with cmp.Pool(WORKERS, ray_address=cluster.address) as p:
                if len({w.node for w in p._pool}) != 2:
                    raise AssertionError('the workers are not on two nodes')
                p.apply(sqr, (0,))
                value = run(p, quick)
            p.join()
            return value
        finally:
            ray.shutdown()
            cluster.shutdown()
    return competitor


def _local(run):
    def local(mp, quick):
        with mp.Pool(WORKERS) as p:
            p.apply(sqr, (0,))
            value = run(p, quick)
        p.join()
        return value
    return local


def _ray_case(name, unit, run):
    case(name, unit, repeat=3,
         competitors={'cmp Pool on a 2-node Ray cluster': _on_cluster(run)})(_local(run))


def _round_trips(p, quick):
    n = 100 if quick else 1000
    t0 = time.perf_counter()
    for i in range(n):
        if p.apply_async(sqr, (i,)).get() != i * i:
            raise AssertionError('wrong result')
    return n / (time.perf_counter() - t0)


def _map(n, chunksize, func, want):
    def run(p, quick):
        count = n // 10 if quick else n
        t0 = time.perf_counter()
        got = p.map(func, range(count), chunksize)
        elapsed = time.perf_counter() - t0
        _check(got, [want(x) for x in range(count)])
        return count / elapsed
    return run


_ray_case('Ray comparison: apply_async(f, (i,)).get() round trip', 'round trips/s',
          _round_trips)
_ray_case('Ray comparison: map of 10,000 trivial tasks, chunksize=1', 'tasks/s',
          _map(10000, 1, sqr, lambda x: x * x))
_ray_case('Ray comparison: map of 10,000 trivial tasks, default chunksize', 'tasks/s',
          _map(10000, None, sqr, lambda x: x * x))
_ray_case('Ray comparison: map of 200 tasks of 10 ms', 'tasks/s',
          _map(200, None, sleep_10ms, lambda x: x))
