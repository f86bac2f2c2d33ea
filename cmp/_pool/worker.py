"""The worker side of cmp's pool: what a worker process runs.

A worker, under any start method, runs ``_worker_main``: it arms its
parent-death signal, closes the parent's fds a forked worker inherited,
runs the initializer and enters the C take-run-post loop
(``_cmp._pool_serve``, csrc/python/channel_type.c), which takes
each message from the task channel, calls ``_run_message`` on it (unpickle,
run, pickle: the wire format is cmp/_pool/wire.py) and posts the answer to
the result ring.  The loop looks at the parent's pidfd whenever it waits
and ends when the parent is gone, or after ``maxtasks`` tasks, or on the
stop message.
"""
import functools
import itertools
import os
import select
import signal

from multiprocessing import reduction
from multiprocessing.pool import ExceptionWithTraceback, MaybeEncodingError

from .. import _cmp
from .wire import (_APPLY, _MAP, _SPAN, _FLAT, _PACKED_BATCH, _COUNT, _PACK,
                   _DUMPS, _LOADS, _PROTO)


class _Fd:
    """A file descriptor a worker needs, as a Process argument: a forked
    worker inherits it under the same number; pickled for a spawned or
    forkserver-started one, it travels with the start (the stdlib's
    reduction.DupFd: the Popen's pass_fds, or the forkserver's SCM_RIGHTS)
    and is this process's number on the other side."""
    __slots__ = ('fd',)

    def __init__(self, fd):
        self.fd = fd

    def __reduce__(self):
        return _rebuild_fd, (reduction.DupFd(self.fd),)


def _rebuild_fd(dup):
    fd = dup.detach()
    os.set_inheritable(fd, False)   # not for what the worker's tasks start
    return _Fd(fd)


def _gone(pidfd):
    """The process behind a pidfd has exited."""
    return bool(select.select([pidfd], [], [], 0)[0])


def _worker_main(task_ring, result_ring, parent, close_fds,
                 initializer, initargs, maxtasks, wrap_exception):
    """A worker, under any start method: task_ring and result_ring are its
    _cmp.Channel objects (inherited, or rebuilt from their handles),
    `parent` (a pidfd of the pool's process) an _Fd (the result channel
    reaches its doorbell itself); `close_fds` are the
    parent's fds a forked worker inherited (nothing for the others)."""
    # SIGKILL when the thread that started this process ends: the pool's
    # main or handler thread under fork and spawn, the forkserver (which
    # ends with the pool's process) under forkserver; the C loop looks at
    # the parent's pidfd whenever it waits.
    _cmp._pool_set_pdeathsig(signal.SIGKILL)
    if _gone(parent.fd):
        os._exit(1)             # the parent died before the line above
    # A forked worker inherited every channel of the pool: keep its own
    # (before close_fds, which may hold the numbers of their fds).
    _cmp._channel_keep_only((task_ring, result_ring))
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    if initializer is not None:
        initializer(*initargs)
    # Take a task, run it, post its result: the loop is C (channel_type.c).
    run = functools.partial(_run_message, wrap_exception=wrap_exception)
    if _cmp._pool_serve(task_ring, result_ring, parent.fd, maxtasks, run):
        os._exit(1)             # the parent is gone


def _failure(e, wrap_exception):
    if wrap_exception:
        e = ExceptionWithTraceback(e, e.__traceback__)
    return (False, e)


def _run_chunk(kind, func, chunk, wrap_exception):
    try:
        if kind == _MAP:
            return (True, list(map(func, chunk)))
        return (True, list(itertools.starmap(func, chunk)))
    except Exception as e:
        return _failure(e, wrap_exception)


def _packed(result):
    """A chunk's (success, values): the values packed into bytes when they
    are a successful list of plain numbers (see _PACKED_BATCH), else None."""
    return _PACK(result[1]) if result[0] else None


def _run_task(payload, wrap_exception):
    """One task's bytes -> (success, value), or a map chunk's values packed
    (bytes, see _packed)."""
    try:
        kind, func, args, kwds = _LOADS(payload)
        if kind == _APPLY:
            return (True, func(*args, **kwds) if kwds else func(*args))
    except Exception as e:
        return _failure(e, wrap_exception)
    result = _run_chunk(kind, func, args, wrap_exception)
    packed = _packed(result)
    return result if packed is None else packed


def _dump_result(result):
    try:
        return _DUMPS(result, _PROTO)
    except Exception as e:
        return _DUMPS((False, MaybeEncodingError(e, result[1])), _PROTO)


def _dump_results(results):
    try:
        return _DUMPS(results, _PROTO)
    except Exception:
        # Find the ones that cannot be pickled and wrap them.
        safe = []
        for r in results:
            try:
                _DUMPS(r, _PROTO)
            except Exception as e:
                r = (False, MaybeEncodingError(e, r[1]))
            safe.append(r)
        return _DUMPS(safe, _PROTO)


def _run_span(payload, wrap_exception):
    """A span's bytes -> the bytes of its answer.  Each chunk runs as
    list(map(func, chunk)) would: the first exception ends that chunk."""
    (count,) = _COUNT.unpack_from(payload, 1)
    try:
        func, items, kind, cs = _LOADS(memoryview(payload)[1 + _COUNT.size:])
    except Exception as e:
        return _dump_batch([_failure(e, wrap_exception)] * count)
    run = map if kind == _MAP else itertools.starmap
    n = len(items)
    out, failed, it = [], {}, iter(items)
    while True:
        try:
            out.extend(run(func, it))   # keeps what came before a raise
            break
        except Exception as e:
            pos = len(out)
            failed[pos // cs] = _failure(e, wrap_exception)
            rest = min(n, (pos // cs + 1) * cs) - pos - 1   # the chunk's rest
            out.extend(itertools.repeat(None, rest + 1))
            next(itertools.islice(it, rest, rest), None)
    if not failed:
        data = _PACK(out)
        if data is not None:
            return _FLAT + data
        try:
            return _FLAT + _DUMPS(out, _PROTO)
        except Exception:
            pass                # the chunks that cannot be pickled, alone
    return _dump_batch([failed.get(c) or (True, out[c * cs:(c + 1) * cs])
                        for c in range(count)])


def _dump_batch(results):
    """A span's [(success, value)], one per chunk -> bytes, packing plain
    number lists."""
    packed = False
    for i, result in enumerate(results):
        data = _packed(result)
        if data is not None:
            results[i] = (True, data)
            packed = True
    data = _dump_results(results)
    return _PACKED_BATCH + data if packed else data


def _run_message(payload, wrap_exception):
    """What the C worker loop calls for each message: run it, and return
    (the result's bytes, how many tasks it held)."""
    head = payload[:1]
    if head == _SPAN:
        return _run_span(payload, wrap_exception), _COUNT.unpack_from(payload, 1)[0]
    result = _run_task(payload, wrap_exception)
    if type(result) is bytes:
        return result, 1        # a chunk's packed list
    return _dump_result(result), 1
