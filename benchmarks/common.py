"""The protocol every benchmark script follows.

A script ``benchmarks/bench_<topic>.py`` declares cases with ``@case``::

    @case("lock acquire+release, uncontended", unit="ops/s")
    def lock_uncontended(mp, quick):
        ...            # run with `mp`: the stdlib's fork context, or cmp
        return n / elapsed

The function runs the work once with ``mp`` and returns one measurement in
``unit``.  It verifies its own results (raise AssertionError when they are
wrong: a benchmark that computes garbage fast must fail).  ``quick`` asks
for small sizes.  The runner calls it repeatedly for each backend,
alternating them, and reports medians and the cmp/stdlib ratio (for
``higher_is_better=False`` units such as seconds the ratio is inverted, so a
ratio above 1 always means cmp is faster).

``pin``: None (no pinning), "same" (the runner pins this process to one CPU;
the function must start its processes from it, and they inherit the
affinity), or "cross" (the function pins its partner processes itself with
``cross_cpus()``: two different CPUs).

``competitors``: optional dict name -> function(quick) measured the same
way (e.g. faster-fifo); the runner skips one that raises ImportError, with
a note.
"""
import os

CASES = []


class Case:
    def __init__(self, fn, name, unit, higher_is_better, pin, competitors, repeat):
        self.fn = fn
        self.name = name
        self.unit = unit
        self.higher_is_better = higher_is_better
        self.pin = pin
        self.competitors = competitors or {}
        self.repeat = repeat
        self.module = fn.__module__


def case(name, unit, higher_is_better=True, pin=None, competitors=None, repeat=5):
    def register(fn):
        CASES.append(Case(fn, name, unit, higher_is_better, pin, competitors, repeat))
        return fn
    return register


def cross_cpus():
    """Two distinct CPUs this process may run on (for pin='cross')."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise RuntimeError("pinning across cores needs two CPUs")
    return cpus[0], cpus[1]


def pin_self(cpu):
    os.sched_setaffinity(0, {cpu})
