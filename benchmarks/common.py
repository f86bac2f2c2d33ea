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

Each call runs in a fresh interpreter of its own (``python -m benchmarks``
starts one per measurement), so a case may pin, fork and leave its process
in any state; it must not leave processes running (the runner fails a case
whose ``mp.active_children()`` is not empty when it returns).

``pin``: None (no pinning), "same" (the runner pins this process to one CPU,
``same_cpu()``; the function must start its processes from it, and they
inherit the affinity), or "cross" (the function pins its partner processes
itself with ``cross_cpus()``: two different CPUs).

``competitors``: optional dict name -> function(quick) measured the same
way (e.g. faster-fifo); the runner skips one that raises ImportError, with
a note.

Names with a parameter (the plots' convention)
----------------------------------------------

A case that is one point of a series carries its parameter at the end of
its name, in brackets, built with ``param_name``::

    @case(param_name("queue put+get, 1 producer 1 consumer", bytes=1024), "msgs/s")
    @case(param_name("pool map, trivial tasks", tasks=1000), "s", higher_is_better=False)

The runner's plots draw every series whose parameter is ``bytes``
(``SIZE``) against the message size (queue throughput) and every series
whose parameter is ``tasks`` (``TASKS``) against the task count (pool
overhead); ``parse_param`` reads a name back.
"""
import mmap
import os
import re

CASES = []

SIZE = "bytes"      # message size in bytes: queue throughput against size
TASKS = "tasks"     # number of tasks: pool overhead against task count

_PARAM = re.compile(r"^(?P<base>.*\S)\s+\[(?P<key>[a-z_]+)=(?P<value>\d+)\]$")


class Case:
    def __init__(self, fn, name, unit, higher_is_better, pin, competitors, repeat):
        if pin not in (None, "same", "cross"):
            raise ValueError("pin must be None, 'same' or 'cross', not %r" % (pin,))
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


def param_name(base, **param):
    """param_name(base, key=value) -> 'base [key=value]' (one integer parameter)."""
    (key, value), = param.items()
    name = "%s [%s=%d]" % (base, key, value)
    assert parse_param(name) == (base, key, value), name
    return name


def parse_param(name):
    """parse_param(name) -> (base, key, value), or None for a name without one."""
    m = _PARAM.match(name)
    if m is None:
        return None
    return m.group("base"), m.group("key"), int(m.group("value"))


def same_cpu():
    """The CPU a pin='same' case runs on (with every process it starts)."""
    return sorted(os.sched_getaffinity(0))[0]


def cross_cpus():
    """Two distinct CPUs this process may run on (for pin='cross')."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise RuntimeError("pinning across cores needs two CPUs")
    return cpus[0], cpus[1]


def pin_self(cpu):
    os.sched_setaffinity(0, {cpu})


def raw_shared(ctype):
    """raw_shared(ctype) -> a zeroed ctypes object in anonymous shared memory:
    processes forked after this call share it.

    For the counters and flags a case checks its results with, independent
    of both backends (no Value, no Array).  The memory lives as long as the
    returned object.
    """
    import ctypes
    return ctype.from_buffer(mmap.mmap(-1, max(ctypes.sizeof(ctype), 1)))


def finish(process, timeout=60.0):
    """finish(process, timeout=60.0) -> join a case's partner process; kill it
    if it is still running after `timeout` seconds, and raise AssertionError
    unless it exited with 0."""
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join(timeout)
        raise AssertionError("%r did not finish within %ss" % (process, timeout))
    if process.exitcode != 0:
        raise AssertionError("%r exited with %s" % (process, process.exitcode))
