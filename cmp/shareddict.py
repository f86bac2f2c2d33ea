"""cmp.Dict: a dict shared by every process of the tree, in cmp's arena.

    d = cmp.Dict()              # or ctx.Dict(), cmp.Dict({'a': 1}, b=2)
    d['hits'] = 0
    d.increment('hits')         # atomic: 1
    with d.lock:                # a multi-step update nobody sees halfway
        d['a'] = d['a'] + d.pop('b')

A ``collections.abc.MutableMapping`` whose keys and values are any
picklable objects, stored encoded in the shared arena (csrc/dict.h): every
process forked from the one that imported cmp sees the same dict, whether
it was created before or after the process started, inherited, passed
through a Queue or as Pool arguments (pickling a Dict pickles a reference).
The C core is csrc/dict.c; the encodings are drawn in
csrc/python/dict_type.c.

Differences from a dict, all documented here:

- Keys compare by their encoded bytes, not by ``==``: ``1``, ``1.0`` and
  ``True`` are three different keys; ``-0.0`` is not ``0.0``.  Keys of the
  builtin scalar types (None, bool, int, float, str, bytes) and tuples of
  them compare by type and value; other keys compare by their pickle.  A
  key must be hashable, and a frozenset (anywhere in a tuple key) raises
  TypeError: its pickle depends on the hash seed and its history.  A key
  object of your own whose pickle is not always the same bytes for equal
  objects (one holding a set, say) cannot be detected: it then finds
  nothing.
- Values are pickled (protocol 5), except the builtin scalars, which are
  stored as they are; reading a value gives a new object each time.  A
  cmp object in a value (a Lock, a Queue, another Dict ...) is stored by
  reference and can be read any number of times, by any process of the
  tree; it then lives as long as the tree's arena (deleting the entry does
  not free it).
- ``keys()``, ``values()`` and ``items()`` return lists (as the Manager's
  dict does): snapshots, each of the dict's 64 segments copied under its
  lock; under ``with d.lock:`` a snapshot of one instant.  Iterating a Dict
  iterates a snapshot of its keys, so it never raises for a concurrent
  change.  ``copy()`` returns a plain dict (where keys collapse that Python
  calls equal, such as 1 and 1.0).
- ``popitem()`` removes some item, not the last one inserted.
- Atomic: every single operation, and ``setdefault``, ``pop``, ``popitem``,
  ``update`` (all pairs at once), ``clear`` and ``increment(key, delta=1)``
  (``d[key] = d.get(key, 0) + delta``, returned).  ``with d.lock:`` (or
  ``d.lock.acquire()``/``release()``, recursive per thread) holds every
  segment: the other processes' and threads' operations on the dict wait
  until it is released.

Faults: a value that cannot be pickled raises in the assignment, with the
dict unchanged; an assignment that does not fit in the arena raises
MemoryError, with the dict unchanged (``update`` keeps the pairs before the
one that did not fit).  A process killed at any instruction leaves the dict
consistent: each write is published by one store, so an entry is the old
one or the new one, never half of each; the next process to use the
segment recounts it, and the killed process's one entry in flight may
leak.  A process killed inside ``with d.lock:`` may leave its multi-step
update incomplete: the next process to take that segment gets an
OwnerDiedWarning saying so.

``cmp.Manager().dict()`` is unchanged: the stdlib's proxy to a dict in a
server process (reachable by address from other programs; every operation
a round trip through a socket).
"""
import types
from collections.abc import Mapping, MutableMapping

from . import _cmp
from ._core import c_class
from ._reduce import reduce_shared

__all__ = ['Dict']


class DictLock:
    """``d.lock``: holds every segment of a Dict (recursive per thread)."""
    __slots__ = ('_dict',)

    def __init__(self, d):
        self._dict = d

    def acquire(self, block=True, timeout=None):
        """acquire(block=True, timeout=None) -> whether it was acquired."""
        return self._dict._lock_all(block, timeout)

    def release(self):
        """release() -> None"""
        self._dict._unlock_all()

    def __enter__(self):
        return self._dict._lock_all()

    def __exit__(self, *exc):
        self._dict._unlock_all()

    def __repr__(self):
        return '<%s of %s, %s>' % (
            type(self).__name__, object.__repr__(self._dict),
            'held by this thread' if self._dict._lock_held() else 'not held by this thread')


def _pairs(other):
    if isinstance(other, Dict):
        return other._snapshot(2)
    if isinstance(other, dict):
        return list(other.items())
    if hasattr(other, 'keys'):
        return [(k, other[k]) for k in other.keys()]
    pairs = []
    for i, item in enumerate(other):
        try:
            pair = tuple(item)
        except TypeError:
            raise TypeError('cannot convert dictionary update sequence element '
                            '#%d to a sequence' % i) from None
        if len(pair) != 2:
            raise ValueError('dictionary update sequence element #%d has length '
                             '%d; 2 is required' % (i, len(pair)))
        pairs.append(pair)
    return pairs


@c_class(_cmp.Dict)
class Dict:
    """Dict(other=(), /, **kwargs)

    A dict shared by every process of the tree (see cmp.shareddict).  A
    MutableMapping (registered as one): the C type has the mapping's
    methods, the rest are here.
    """

    def __init__(self, other=(), /, **kwargs):
        self._c_init()
        if other or kwargs:
            self.update(other, **kwargs)

    # What MutableMapping would add that the C type and this class lack.
    __reversed__ = None
    __class_getitem__ = classmethod(types.GenericAlias)

    @property
    def lock(self):
        """Holds every segment of the dict: ``with d.lock:`` for a
        multi-step update (recursive per thread)."""
        return DictLock(self)

    def __iter__(self):
        return iter(self._snapshot(0))

    def keys(self):
        """keys() -> a list of the keys (a snapshot)."""
        return self._snapshot(0)

    def values(self):
        """values() -> a list of the values (a snapshot)."""
        return self._snapshot(1)

    def items(self):
        """items() -> a list of the (key, value) pairs (a snapshot)."""
        return self._snapshot(2)

    def copy(self):
        """copy() -> a plain dict of the items (a snapshot)."""
        return dict(self._snapshot(2))

    def update(self, other=(), /, **kwargs):
        """update(other=(), /, **kwargs) -> None; every pair at once."""
        pairs = _pairs(other)
        if kwargs:
            pairs.extend(kwargs.items())
        if pairs:
            self._update(pairs)

    @classmethod
    def fromkeys(cls, iterable, value=None):
        """fromkeys(iterable, value=None) -> a new Dict."""
        d = cls()
        d._update([(k, value) for k in iterable])
        return d

    def __eq__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        mine = self._snapshot(2)
        if len(mine) != len(other):
            return False
        missing = object()
        for k, v in mine:
            theirs = other.get(k, missing)
            if theirs is missing or not (theirs is v or theirs == v):
                return False
        return True

    __hash__ = None

    def __repr__(self):
        items = ', '.join('%r: %r' % kv for kv in self._snapshot(2))
        return '%s({%s})' % (type(self).__name__, items)

    def __reduce__(self):
        return reduce_shared(self)


MutableMapping.register(Dict)
