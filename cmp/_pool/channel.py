"""The channel: the parent's end of one worker's two rings.

``_Link`` is, with the worker's C loop, the only code that knows what a
channel is: a ``_cmp.Channel`` (csrc/python/channel_type.c), one of cmp's
shared rings (csrc/ring.h) as a shared object of the arena, which lives
while the parent or the worker holds it (so a killed worker, or a killed
parent, leaks nothing), the result channel with a doorbell: a pipe
readable while it holds a result, which is what the handler polls.  ``spin`` is the one place that
spins on result rings before a reader sleeps in poll().
"""
import collections
import os

from .. import _cmp
from .wire import _APPLY, _MAP, _SPAN, _COUNT, _DUMPS, _PROTO

_RING_SLOTS = 1024              # cells of each ring: 64 KiB
# Seconds a reader spins on the result rings of workers whose result is
# due within that time, before it sleeps in poll().
RING_SPIN = float(os.environ.get('CMP_POOL_SPIN', '200e-6'))


def _arena_full(*args):
    raise MemoryError("cmp's shared arena is full: a task did not fit (set "
                      "CMP_ARENA_SIZE to reserve more before importing cmp)")


def _arena_full_message(msg):
    """A small message in place of `msg`, that fails the same tasks."""
    if msg[:1] == _SPAN:
        return msg[:1 + _COUNT.size] + _DUMPS(
            (_arena_full, [None] * _COUNT.unpack_from(msg, 1)[0], _MAP, 1), _PROTO)
    return _DUMPS((_APPLY, _arena_full, (), None), _PROTO)


class _Link:
    """The parent's end of one worker's two channels (_cmp.Channel: rings
    in the arena that live while the parent or the worker holds them):
    the task channel the worker takes from, the result channel the handler
    polls through its doorbell, a pipe readable while it holds a result.
    A full task ring keeps messages in `outbuf` until a result comes back
    (the worker took some: room appeared).  Sending is done by C calls
    (Channel.send, flush, steal_into) that a signal handler cannot cut in
    two: the task in the worker's fifo, its message in the ring or outbuf
    and its ring position in `sent` go together."""
    __slots__ = ('task_ring', 'result_ring', 'result_fd', 'outbuf', 'sent')

    def __init__(self):
        self.task_ring = _cmp.Channel(_RING_SLOTS)
        try:
            self.result_ring = _cmp.Channel(_RING_SLOTS, doorbell=True)
            self.result_fd = self.result_ring.fileno()
        except BaseException:
            self.task_ring.close()
            raise
        self.outbuf = collections.deque()
        # The ring positions of the tasks published and not answered yet,
        # in order (the worker's fifo without what waits in outbuf).
        self.sent = collections.deque()

    def took_oldest(self):
        """(Once the worker is dead.)  Did it take the oldest task it was
        sent?  A worker killed while idle, before it took the task handed
        to it, was running nothing."""
        if not self.sent:
            return not self.outbuf
        got = self.task_ring.steal()
        return got is None or got[0] != self.sent[0]

    def took_oldest_yet(self):
        """Has the (live) worker taken the oldest task it was sent?"""
        return bool(self.sent) and self.task_ring.taken(self.sent[0])

    def stealable(self):
        """May an idle worker steal from this one (nothing waits in outbuf,
        whose messages come after those in the ring)?"""
        return not self.outbuf

    def flush(self):
        """Publish buffered messages; True when nothing is left.  A message
        that no arena block is left for is replaced by one that fails its
        tasks (the worker fails them in its place)."""
        out = self.outbuf
        while True:
            try:
                return self.task_ring.flush(out, self.sent)
            except MemoryError:
                m = out[0]
                small = _arena_full_message(m)
                if small == m:
                    raise
                out[0] = small

    def take_all(self, out):
        """Append every result now in the ring to `out`."""
        self.result_ring.take_all(out)

    def fds(self):
        return (self.result_fd,)

    def close(self):
        """Let go of both channels (and the doorbell's fds) here; the
        worker, dead or alive, holds its own references."""
        self.task_ring.close()
        self.result_ring.close()


def spin(links, seconds):
    """Spin up to `seconds` (the GIL released, no system call) until one of
    the links' result rings holds a result: True when one does.  C yields
    the CPU instead when the workers all last ran on this one."""
    return _cmp._pool_spin(tuple(link.result_ring for link in links), seconds)
