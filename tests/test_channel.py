"""_cmp.Channel, the Pool's transport (csrc/python/channel_type.c): a ring
of the arena with its doorbell, a shared object like a Queue.  cmp-only:
the stdlib's Pool has no such object."""
import collections
import gc
import os
import pickle
import select

import pytest

import cmp
import cmp._pool.worker
from cmp import _cmp

from conftest import TIMEOUT


def _usage():
    gc.collect()
    st = _cmp.arena_stats()
    return st["bytes_in_use"], st["blocks_in_use"]


def test_put_steal_taken_take_all():
    ch = _cmp.Channel(64)
    positions = [ch.put(b"m%d" % i) for i in range(5)]
    assert all(type(p) is int for p in positions)
    assert positions == sorted(positions) and len(set(positions)) == 5
    assert not ch.taken(positions[0])
    pos, msg = ch.steal()
    assert (pos, msg) == (positions[0], b"m0")
    assert ch.taken(positions[0]) and not ch.taken(positions[1])
    out = []
    ch.take_all(out)
    assert out == [b"m1", b"m2", b"m3", b"m4"]
    assert ch.taken(positions[4])
    assert ch.steal() is None
    ch.take_all(out)
    assert len(out) == 4


def test_send_moves_a_task_in_one_call():
    """send() appends the task to the fifo, publishes the message and
    records its position in `sent` in one C call; once the ring is full,
    or while outbuf holds messages, the message waits in outbuf (order
    kept) and flush() publishes from its head as room appears."""
    ch = _cmp.Channel(64)       # 64 cells of 64 bytes: fewer than 64 fit
    msgs = [b"%03d" % i + b"y" * 97 for i in range(64)]
    sent, outbuf, fifo = collections.deque(), collections.deque(), collections.deque()
    published = [ch.send(m, sent, outbuf, fifo, i) for i, m in enumerate(msgs)]
    assert list(fifo) == list(range(64))
    n = len(sent)
    assert 0 < n < 64 and published == [True] * n + [False] * (64 - n)
    assert list(outbuf) == msgs[n:]
    assert [ch.taken(p) for p in sent] == [False] * n
    # The STOP message (empty) waits its turn, and has no position in sent.
    assert ch.send(b"", sent, outbuf, None, None) is False and outbuf[-1] == b""
    out = []
    ch.take_all(out)
    assert out == msgs[:n]
    while not ch.flush(outbuf, sent):
        ch.take_all(out)
    ch.take_all(out)
    assert out == msgs + [b""] and len(sent) == 64 and not outbuf
    assert list(sent) == sorted(sent) and all(ch.taken(p) for p in sent)
    ch.close()


def test_steal_into_moves_the_oldest_untaken_task_to_the_thief():
    victim, thief = _cmp.Channel(64), _cmp.Channel(64)
    vs, vf = collections.deque(), collections.deque()
    ts, tout, tf = collections.deque(), collections.deque(), collections.deque()
    for i in range(3):
        victim.send(b"t%d" % i, vs, collections.deque(), vf, "task%d" % i)
    first = vs[0]
    got = victim.steal_into(vs, vf, thief, ts, tout, tf)
    assert got == "task0" and list(vf) == ["task1", "task2"]
    assert first not in vs and len(vs) == 2 and list(tf) == ["task0"]
    out = []
    thief.take_all(out)
    assert out == [b"t0"] and len(ts) == 1
    victim.take_all(out)
    assert victim.steal_into(vs, vf, thief, ts, tout, tf) is None
    assert list(tf) == ["task0"]
    victim.close()
    thief.close()


def test_messages_go_through_the_queue_codec():
    ch = _cmp.Channel()
    msgs = [b"", b"x" * 100, 7, -2 ** 70, 1.5, "é", None, True, False,
            (1, [2, "three"]), {"a": 1}]
    for m in msgs:
        assert ch.put(m) is not None
    out = []
    ch.take_all(out)
    assert out == msgs
    assert [type(o) for o in out] == [type(m) for m in msgs]


def test_full_ring_refuses_then_takes_again():
    ch = _cmp.Channel(64)       # 64 cells of 64 bytes
    n = 0
    while ch.put(b"y" * 100) is not None:
        n += 1
        assert n < 64
    assert n > 0
    assert ch.steal()[1] == b"y" * 100
    assert ch.put(b"z" * 100) is not None
    out = []
    ch.take_all(out)
    assert out == [b"y" * 100] * (n - 1) + [b"z" * 100]


def test_large_records_go_out_of_line_and_come_back():
    start = _usage()
    ch = _cmp.Channel(64)       # inline up to 512 bytes
    big = [os.urandom(100_000), os.urandom(3 << 20)]
    for b in big:
        assert ch.put(b) is not None
    assert _usage()[1] == start[1] + 3      # the ring and two blocks
    assert ch.steal()[1] == big[0]
    out = []
    ch.take_all(out)
    assert out == big[1:]
    # Left in the ring when the last holder lets go: freed with it.
    ch.put(os.urandom(200_000))
    ch.close()
    del ch
    assert _usage() == start


def test_stop_is_seen_by_the_worker_loop_only():
    ch, res = _cmp.Channel(), _cmp.Channel()
    ch.put(b"stop me", stop=True)
    assert ch.steal()[1] == b"stop me"
    ch.put(b"a")
    ch.put(b"", stop=True)
    ch.put(b"after")
    fd = os.pidfd_open(os.getpid())
    try:
        seen = []
        assert _cmp._pool_serve(ch, res, fd, None,
                                lambda m: (seen.append(m) or m.upper(), 1)) is False
    finally:
        os.close(fd)
    assert seen == [b"a"]
    out = []
    res.take_all(out)
    assert out == [b"A"]
    assert ch.steal()[1] == b"after"


def test_doorbell_is_readable_while_a_message_waits():
    ch = _cmp.Channel(doorbell=True)
    fd = ch.fileno()
    assert select.select([fd], [], [], 0)[0] == []
    ch.put(b"ring")
    assert select.select([fd], [], [], TIMEOUT)[0] == [fd]
    out = []
    ch.take_all(out)
    assert out == [b"ring"]
    assert select.select([fd], [], [], 0)[0] == []
    with pytest.raises(ValueError):
        _cmp.Channel().fileno()      # made without one


def test_close_lets_go_and_refuses():
    start = _usage()
    ch = _cmp.Channel(doorbell=True)
    ch.fileno()
    ch.close()
    assert ch.closed
    assert _usage() == start
    for call in (lambda: ch.put(b"x"), ch.steal, lambda: ch.taken(0),
                 lambda: ch.take_all([]), ch.fileno, lambda: pickle.dumps(ch)):
        with pytest.raises(ValueError, match="closed Channel"):
            call()
    ch.close()                       # again: nothing to do


def test_bad_arguments_get_type_errors():
    ch = _cmp.Channel()
    fd = os.pidfd_open(os.getpid())
    try:
        for call in (lambda: _cmp.Channel("x"),
                     lambda: _cmp.Channel(slots=1.5),
                     lambda: ch.put(),
                     lambda: ch.put(b"x", False, 1),
                     lambda: ch.put(b"x", nope=1),
                     lambda: ch.taken("x"),
                     lambda: ch.take_all(()),
                     lambda: _cmp._pool_serve(1, ch, fd, None, len),
                     lambda: _cmp._pool_serve(ch, 1 << 40, fd, None, len),
                     lambda: _cmp._pool_serve(ch, ch, fd, "x", len),
                     lambda: _cmp._pool_serve(ch, ch, "fd", None, len),
                     lambda: _cmp._pool_spin([ch], 0.0),
                     lambda: _cmp._pool_spin((ch, 3), 0.0),
                     lambda: _cmp._pool_spin((ch,), "x"),
                     lambda: _cmp._channel_keep_only([ch])):
            with pytest.raises(TypeError):
                call()
        with pytest.raises(TypeError, match="Channel, not int"):
            _cmp._pool_spin((7,), 0.0)
    finally:
        os.close(fd)


def test_spin_finds_a_message():
    a, b = _cmp.Channel(), _cmp.Channel()
    assert _cmp._pool_spin((a, b), 0.001) is False
    b.put(b"here")
    assert _cmp._pool_spin((a, b), TIMEOUT) is True


def _echo(tasks, results, parent):
    def run(msg):
        return msg[::-1], 1
    return _cmp._pool_serve(tasks, results, parent.fd, None, run)


@pytest.mark.parametrize("size", [10, 300_000])
def test_channels_pickled_or_inherited_to_a_child(start_method, process_helpers, size):
    """A child of any start method gets the channels (inherited under fork,
    rebuilt from their handles otherwise), serves them, and rings the
    result channel's doorbell; afterwards the arena is back."""
    start = _usage()
    ctx = cmp.get_context(start_method)
    tasks, results = _cmp.Channel(), _cmp.Channel(doorbell=True)
    fd = results.fileno()
    parent = os.pidfd_open(os.getpid())
    try:
        p = ctx.Process(target=_echo, args=(tasks, results, cmp._pool.worker._Fd(parent)))
        p.start()
        msgs = [os.urandom(size) for _ in range(20)]
        for m in msgs:
            assert tasks.put(m) is not None
        got = []
        while len(got) < len(msgs):
            assert select.select([fd], [], [], TIMEOUT)[0] == [fd]
            results.take_all(got)
        assert got == [m[::-1] for m in msgs]
        tasks.put(b"", stop=True)
        p.join(TIMEOUT)
        assert p.exitcode == 0
    finally:
        os.close(parent)
    tasks.close()
    results.close()
    assert _usage() == start
