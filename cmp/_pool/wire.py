"""The pool's wire format: what travels in a worker's two rings.  Both
sides import it (the parent: cmp/_pool/scheduler.py and handler.py; the
worker: cmp/_pool/worker.py).

A task message is one of:

* the pickle of ``(kind, func, args, kwds)``: one apply (kind ``_APPLY``;
  the task is ``func(*args, **kwds)``) or one map chunk (kind ``_MAP`` or
  ``_STARMAP``; ``args`` is the chunk, ``kwds`` None);
* a span, several chunks of one map over a list, tuple or range: ``_SPAN``,
  ``_COUNT`` (how many chunks), then the pickle of ``(func, the chunks'
  items as one slice, kind, chunksize)``;
* ``_STOP`` (empty): the worker exits.

A result message is one of:

* a pickle (it starts with ``b'\\x80'``): ``(success, value)``;
* one map chunk's list of plain numbers packed by ``_PACK`` (it starts with
  ``b'i'`` or ``b'f'``);
* the answer to a span whose chunks all succeeded: ``_FLAT`` and then their
  values as one list (packed, or a pickle);
* else a span's per-chunk results ``[(success, value)]``: a pickle, or
  ``_PACKED_BATCH`` and then that pickle with the successful number lists
  packed into bytes.
"""
import pickle
import struct

from .. import _cmp
from .. import _outofband

_APPLY, _MAP, _STARMAP = 0, 1, 2
_STOP = b''                     # the task that tells a worker to exit
_COUNT = struct.Struct('<I')    # after _SPAN: how many chunks
_SPAN = b'S'
_FLAT = b'R'
_PACKED_BATCH = b'Q'
_PACK = _cmp._pool_pack
_UNPACK = _cmp._pool_unpack
# pickle.dumps, with large buffers out of band (cmp/_outofband.py).
_DUMPS = _outofband.pool_dumps
_LOADS = pickle.loads
_PROTO = pickle.HIGHEST_PROTOCOL


def task_message(kind, func, args, kwds):
    """One apply or one map chunk -> its message (pickling may raise)."""
    return _DUMPS((kind, func, args, kwds), _PROTO)


def span_message(kind, func, items, chunksize, count):
    """`count` chunks of a map, their items as one slice -> the message."""
    return _SPAN + _COUNT.pack(count) + _DUMPS((func, items, kind, chunksize), _PROTO)


class Flat(object):
    """A span's answer: the values of all its chunks, in order."""
    __slots__ = ('values',)

    def __init__(self, values):
        self.values = values


def load_result(payload):
    """A result message -> (success, value), a span's Flat values, or a
    span's list of (success, value)."""
    head = payload[:1]
    if head == b'\x80':
        return _LOADS(payload)
    if head == _FLAT:
        if payload[1:2] == b'\x80':
            return Flat(_LOADS(memoryview(payload)[1:]))
        return Flat(_UNPACK(payload, 1))
    if head == _PACKED_BATCH:
        # Only map chunks travel in spans: a successful chunk's value is a
        # list, so bytes there are a packed one.
        return [(True, _UNPACK(v, 0)) if s and type(v) is bytes else (s, v)
                for s, v in _LOADS(memoryview(payload)[1:])]
    return (True, _UNPACK(payload, 0))
