"""Large buffers of a message travel in the arena, beside its pickle.

cmp pickles a queue's messages (dumps) and the Pool's tasks and results
(pool_dumps) with
protocol 5 and a buffer callback: every contiguous buffer the objects
expose as a ``pickle.PickleBuffer`` (numpy arrays, ``bytearray``,
``memoryview``, a user type's ``__reduce_ex__(5)``) of at least THRESHOLD
bytes is copied once, straight from the object's memory, into a
SharedBuffer of its own, and the message pickles those blocks by handle
beside the rest of the pickle.  The receiver unpickles the objects over
views of the blocks: a numpy array comes back as an array over shared
memory, writable and the receiver's alone (nobody else holds its block),
with no copy.  The block is freed when its last view goes (the array's
base keeps it alive), or, in a process killed holding it, when the process
table gives back what the dead process held.

Smaller buffers, buffers that are not contiguous and every other object
stay in band, pickled as ForkingPickler pickles them.  A block the arena
has no room for raises MemoryError in the call that pickles, and nothing
else is lost.
"""
import io
import pickle

from multiprocessing.reduction import ForkingPickler

from .sharedctypes import SharedBuffer

# A buffer of at least this many bytes travels out of band: below it, the
# block's creation costs more than the copies it saves (benchmarks, "queue
# ... numpy array" rows: measured by payload size).
THRESHOLD = 64 * 1024


class _OutOfBand:
    """What a message with blocks pickles as: its in-band pickle and the
    blocks, in the order the pickle names its buffers."""
    __slots__ = ('data', 'blocks')

    def __init__(self, data, blocks):
        self.data = data
        self.blocks = blocks

    def __reduce__(self):
        return _load, (self.data, self.blocks)


def _load(data, blocks):
    return pickle.loads(data, buffers=[memoryview(b) for b in blocks])


def _collector(blocks):
    """The buffer callback that copies large buffers into `blocks`."""
    def out_of_band(buffer):
        try:
            view = buffer.raw()
        except BufferError:         # not contiguous: in band
            return True
        if view.nbytes < THRESHOLD:
            return True
        blocks.append(SharedBuffer._copy_of(view))
        return False
    return out_of_band


def dumps(obj):
    """obj pickled by ForkingPickler for a process of the tree (a queue's
    message): a bytes-like object."""
    blocks = []
    f = io.BytesIO()
    # (ForkingPickler passes only positional arguments on.)
    ForkingPickler(f, 5, True, _collector(blocks)).dump(obj)
    if not blocks:
        return f.getbuffer()
    return ForkingPickler.dumps(_OutOfBand(f.getvalue(), blocks))


def pool_dumps(obj, protocol=None):
    """obj pickled by pickle.dumps (a Pool's task or result): bytes.
    `protocol` is taken for pickle.dumps's signature; it is always 5."""
    blocks = []
    data = pickle.dumps(obj, 5, buffer_callback=_collector(blocks))
    if not blocks:
        return data
    return pickle.dumps(_OutOfBand(data, blocks), 5)
