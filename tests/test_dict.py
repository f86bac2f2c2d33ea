"""cmp.Dict: the mapping API (the behaviours a Manager's dict has run against
both, through the `shared_dict` fixture), cmp's own semantics (keys by
encoded bytes, snapshots, atomic operations, d.lock), sharing with other
processes, killed writers, memory and reference counts.

Child-process tests take the start method as a parameter: fork only for
now (cmp's objects cannot yet be sent to a spawned process)."""
import gc
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import MutableMapping

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import cmp
from cmp._core import OwnerDiedWarning, arena_stats
from conftest import START_METHODS, TIMEOUT


@pytest.fixture(params=["manager", "cmp"])
def shared_dict(request):
    """A factory of shared dicts: the stdlib Manager's, or cmp.Dict."""
    if request.param == "cmp":
        yield cmp.Dict
        return
    import multiprocessing
    # pytest keeps the fixture's value until after the leftover check: it
    # must not keep the manager (and its process's pipe) alive.
    holder = [multiprocessing.get_context("fork").Manager()]
    try:
        yield lambda *args, **kwargs: holder[0].dict(*args, **kwargs)
    finally:
        holder.pop().shutdown()


# ---- the mapping API, against the Manager's dict too -------------------------

def test_get_set_delete(shared_dict):
    d = shared_dict()
    d["a"] = 1
    d[2] = [1, 2]
    d[(1, "x")] = {"n": None}
    assert d["a"] == 1 and d[2] == [1, 2] and d[(1, "x")] == {"n": None}
    assert len(d) == 3 and "a" in d and "b" not in d
    d["a"] = "replaced"
    assert d["a"] == "replaced" and len(d) == 3
    del d["a"]
    assert "a" not in d and len(d) == 2
    with pytest.raises(KeyError) as e:
        d["a"]
    assert e.value.args == ("a",)
    with pytest.raises(KeyError):
        del d["a"]
    with pytest.raises(KeyError) as e:
        d[(1, 2)]
    assert e.value.args == ((1, 2),)


def test_get_pop_setdefault(shared_dict):
    d = shared_dict({"a": 1})
    assert d.get("a") == 1 and d.get("b") is None and d.get("b", 7) == 7
    assert d.setdefault("a", 5) == 1
    assert d.setdefault("b", 5) == 5 and d["b"] == 5
    assert d.setdefault("c") is None and d["c"] is None
    assert d.pop("a") == 1 and "a" not in d
    assert d.pop("a", "dflt") == "dflt"
    with pytest.raises(KeyError):
        d.pop("a")
    assert sorted(d.keys()) == ["b", "c"]


def test_update_forms(shared_dict):
    d = shared_dict()
    d.update({"a": 1})
    d.update([("b", 2), ["c", 3]])
    d.update(d=4)
    d.update({"e": 5}, f=6)
    assert d.copy() == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}
    with pytest.raises(ValueError):
        d.update([("x", 1, 2)])
    with pytest.raises(TypeError):
        d.update([1])
    assert "x" not in d


def test_items_keys_values_are_lists(shared_dict):
    d = shared_dict({1: "a", 2: "b"})
    assert sorted(d.keys()) == [1, 2]
    assert sorted(d.values()) == ["a", "b"]
    assert sorted(d.items()) == [(1, "a"), (2, "b")]
    assert isinstance(d.keys(), list) and isinstance(d.items(), list)
    assert sorted(d) == [1, 2] and len(d) == 2


def test_popitem_and_clear(shared_dict):
    d = shared_dict({1: "a", 2: "b"})
    seen = {d.popitem(), d.popitem()}
    assert seen == {(1, "a"), (2, "b")}
    with pytest.raises(KeyError):
        d.popitem()
    d.update({3: 4})
    d.clear()
    assert len(d) == 0 and d.copy() == {}


def test_copy_and_equality(shared_dict):
    d = shared_dict({"a": 1, "b": [2]})
    c = d.copy()
    assert type(c) is dict and c == {"a": 1, "b": [2]}
    c["a"] = 5
    assert d["a"] == 1


# ---- cmp.Dict's own semantics -----------------------------------------------

def test_is_a_mutable_mapping_and_context_factories():
    d = cmp.Dict(a=1)
    assert isinstance(d, MutableMapping)
    assert isinstance(cmp.get_context("fork").Dict(), cmp.shareddict.Dict)
    assert isinstance(cmp.get_context().Dict({1: 2}), cmp.shareddict.Dict)
    assert cmp.Dict({1: 2}) == {1: 2} and {1: 2} == cmp.Dict({1: 2})
    assert cmp.Dict({1: 2}) != {1: 3} and cmp.Dict({1: 2}) != {1: 2, 3: 4}
    assert cmp.Dict({1: 2}) == cmp.Dict({1: 2})
    assert cmp.Dict() != [1]
    assert repr(cmp.Dict({"a": 1})) == "Dict({'a': 1})"
    assert cmp.shareddict.Dict.fromkeys("ab", 0) == {"a": 0, "b": 0}
    with pytest.raises(TypeError):
        hash(d)


def test_keys_compare_by_type_and_value():
    d = cmp.Dict()
    d[1] = "int"
    d[1.0] = "float"
    d[True] = "bool"
    d[-0.0] = "negative zero"
    d[0.0] = "zero"
    assert len(d) == 5
    assert d[1] == "int" and d[1.0] == "float" and d[True] == "bool"
    assert d[-0.0] == "negative zero" and d[0.0] == "zero"
    # Equal tuples whose items are or are not the very same objects are
    # the same key (a pickle of them would differ).
    s = "".join(["ab", "c"])
    d[("abc", "abc")] = 1
    d[(s, "abc")] = 2
    assert d[("abc", "abc")] == 2 and len(d) == 6
    big = 2 ** 100
    d[big] = "big"
    assert d[2 ** 100] == "big" and (2 ** 100 + 1) not in d
    d[b"x"] = "bytes"
    d["x"] = "str"
    d["\U0001f600\x00é"] = "wide"
    assert d[b"x"] == "bytes" and d["x"] == "str" and d["\U0001f600\x00é"] == "wide"
    d[("t", (1, (None, b"b")))] = "nested"
    assert d[("t", (1, (None, b"b")))] == "nested"
    assert set(d.keys()) >= {1, 1.0, True, ("abc", "abc"), big, b"x", "x"}


def test_bad_keys_raise_and_change_nothing():
    d = cmp.Dict({"keep": 1})
    with pytest.raises(TypeError, match="unhashable"):
        d[[1]] = 1
    with pytest.raises(TypeError, match="unhashable"):
        d[(1, [2])] = 1
    with pytest.raises(TypeError, match="frozenset"):
        d[frozenset({"a", "b"})] = 1
    with pytest.raises(TypeError, match="frozenset"):
        d[("x", frozenset())] = 1
    with pytest.raises(TypeError, match="frozenset"):
        frozenset() in d
    assert d.copy() == {"keep": 1}


class _Unpicklable:
    def __reduce__(self):
        raise pickle.PicklingError("no pickling for you")


def test_unpicklable_value_raises_and_changes_nothing():
    d = cmp.Dict({"a": 1})
    with pytest.raises(pickle.PicklingError):
        d["a"] = _Unpicklable()
    with pytest.raises(pickle.PicklingError):
        d["b"] = _Unpicklable()
    with pytest.raises(pickle.PicklingError):
        d.setdefault("c", _Unpicklable())
    with pytest.raises(pickle.PicklingError):
        d.update({"x": 1, "y": _Unpicklable()})
    with pytest.raises(AttributeError):
        d["l"] = lambda: 1
    assert d.copy() == {"a": 1}
    d._check()


def test_values_of_every_kind_round_trip():
    values = [None, True, False, 0, -1, 2 ** 63 - 1, -2 ** 63, 2 ** 64, 1.5, float("inf"),
              "", "s", "é", "\U0001f600", b"", b"\x00b", (1, 2), [1, [2]], {"a": {1}},
              frozenset({1}), bytearray(b"x"), 10 ** 400]
    d = cmp.Dict()
    for i, v in enumerate(values):
        d[i] = v
    for i, v in enumerate(values):
        got = d[i]
        assert got == v and type(got) is type(v)
    d[0] = 5
    d[0] = 5.5      # a scalar of another type: not rewritten in place
    assert d[0] == 5.5 and type(d[0]) is float


def test_increment():
    d = cmp.Dict()
    assert d.increment("n") == 1
    assert d.increment("n", 5) == 6
    assert d.increment("n", delta=-10) == -4
    assert d.increment(key="m", delta=2) == 2
    assert d["n"] == -4
    d["big"] = 2 ** 63 - 1
    assert d.increment("big") == 2 ** 63 and d["big"] == 2 ** 63
    assert d.increment("big", -1) == 2 ** 63 - 1
    assert d.increment("f", 0.5) == 0.5 and d.increment("f", 0.25) == 0.75
    d["s"] = "ab"
    assert d.increment("s", "c") == "abc"
    d["flag"] = True
    assert d.increment("flag") == 2
    with pytest.raises(TypeError):
        d.increment("s", 1)
    assert d["s"] == "abc"
    with pytest.raises(TypeError):
        d.increment()


def test_lock_is_recursive_and_excludes_other_threads():
    d = cmp.Dict({"a": 1})
    got = []
    with d.lock:
        with d.lock:
            d["a"] += 1
        t = threading.Thread(target=lambda: got.append(d.lock.acquire(timeout=0.01)))
        t.start()
        t.join(TIMEOUT)
        reader = threading.Thread(target=lambda: got.append(d["a"]))
        reader.start()
        reader.join(0.05)
        assert reader.is_alive()        # blocked until the lock is let go
        d["a"] += 1
        assert "held by this thread" in repr(d.lock)
    reader.join(TIMEOUT)
    assert got == [False, 3]
    with pytest.raises(RuntimeError):
        d.lock.release()
    assert d.lock.acquire(block=False) is True
    d.lock.release()


# ---- hypothesis: a state machine against a plain dict ---------------------------


# Keys on which Python's equality is cmp's (same type and value).
KEYS = st.one_of(st.integers(-5, 20), st.text(max_size=3), st.binary(max_size=3),
                 st.tuples(st.integers(-2, 2), st.text(max_size=2)), st.none(),
                 st.integers(2 ** 63, 2 ** 63 + 3))
VALUES = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
                   st.binary(max_size=300), st.lists(st.integers(), max_size=4),
                   st.none(), st.booleans(), st.tuples(st.integers(), st.text(max_size=2)))


class DictMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.d = cmp.Dict()
        self.model = {}

    @rule(k=KEYS, v=VALUES)
    def setitem(self, k, v):
        self.d[k] = v
        self.model[k] = v

    @rule(k=KEYS)
    def delitem(self, k):
        if k in self.model:
            del self.d[k]
            del self.model[k]
        else:
            with pytest.raises(KeyError):
                del self.d[k]

    @rule(k=KEYS)
    def getitem(self, k):
        if k in self.model:
            assert self.d[k] == self.model[k]
        else:
            with pytest.raises(KeyError):
                self.d[k]
        assert (k in self.d) == (k in self.model)
        assert self.d.get(k, "missing") == self.model.get(k, "missing")

    @rule(k=KEYS, v=VALUES)
    def setdefault(self, k, v):
        assert self.d.setdefault(k, v) == self.model.setdefault(k, v)

    @rule(k=KEYS)
    def pop(self, k):
        assert self.d.pop(k, "missing") == self.model.pop(k, "missing")

    @rule()
    def popitem(self):
        if not self.model:
            with pytest.raises(KeyError):
                self.d.popitem()
            return
        k, v = self.d.popitem()
        assert self.model.pop(k) == v

    @rule(pairs=st.lists(st.tuples(KEYS, VALUES), max_size=5))
    def update(self, pairs):
        self.d.update(pairs)
        self.model.update(pairs)

    @rule(k=KEYS, delta=st.integers(-2 ** 62, 2 ** 62))
    def increment(self, k, delta):
        old = self.model.get(k, 0)
        if type(old) is not int:
            return
        assert self.d.increment(k, delta) == old + delta
        self.model[k] = old + delta

    @rule(n=st.integers(0, 300))
    def grow(self, n):
        pairs = [(("grow", i), i) for i in range(n)]
        self.d.update(pairs)
        self.model.update(pairs)

    @rule()
    def clear(self):
        self.d.clear()
        self.model.clear()

    @invariant()
    def same_items(self):
        assert len(self.d) == len(self.model)
        assert self.d == self.model
        self.d._check()


DictMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40,
                                         deadline=None)
test_dict_state_machine = DictMachine.TestCase


# ---- processes --------------------------------------------------------------

def _child_writes(d, q):
    d["from child"] = os.getpid()
    d.increment("hits")
    q.put(sorted(d.keys(), key=repr))


@pytest.mark.parametrize("method", START_METHODS)
def test_shared_with_processes_started_before_and_after(method, process_helpers):
    ctx = cmp.get_context(method)
    q = ctx.Queue()
    early = ctx.Dict({"hits": 0})
    p = ctx.Process(target=_child_writes, args=(early, q))
    p.start()
    assert q.get(timeout=TIMEOUT) == ["from child", "hits"]
    p.join(TIMEOUT)
    assert early["from child"] == p.pid and early["hits"] == 1
    # Created after the child started, sent through a queue.
    inbox, outbox = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_receive_and_write, args=(inbox, outbox))
    p.start()
    late = ctx.Dict({"hits": 0})
    inbox.put(late)
    assert outbox.get(timeout=TIMEOUT) == "done"
    p.join(TIMEOUT)
    assert late["hits"] == 1 and late["written by"] == p.pid
    with ctx.Pool(2) as pool:
        assert pool.map(_increment, [late] * 10) == [None] * 10
    assert late["hits"] == 11


def _receive_and_write(inbox, outbox):
    d = inbox.get(timeout=TIMEOUT)
    d.increment("hits")
    d["written by"] = os.getpid()
    outbox.put("done")


def _increment(d):
    d.increment("hits")


def _use_stored_lock(d, q):
    with d["lock"]:
        d["count"] = d["count"] + 1
    q.put(type(d["lock"]).__name__)


@pytest.mark.parametrize("method", START_METHODS)
def test_cmp_objects_as_values_are_read_any_number_of_times(method, process_helpers):
    ctx = cmp.get_context(method)
    d = ctx.Dict({"lock": ctx.Lock(), "count": 0, "inner": ctx.Dict(x=1)})
    q = ctx.Queue()
    for _ in range(2):
        p = ctx.Process(target=_use_stored_lock, args=(d, q))
        p.start()
        assert q.get(timeout=TIMEOUT) == "Lock"
        p.join(TIMEOUT)
    gc.collect()
    with d["lock"]:
        assert d["count"] == 2
    d["inner"].increment("x")
    assert d["inner"]["x"] == 2
    lock = d.pop("lock")
    gc.collect()
    assert lock.acquire(timeout=TIMEOUT)
    lock.release()


def test_manager_dict_stays_the_stdlibs_proxy():
    import multiprocessing.managers
    with cmp.Manager() as manager:
        d = manager.dict(a=1)
        assert isinstance(d, multiprocessing.managers.DictProxy)
        assert d.copy() == {"a": 1}
        del d


OPS_PER_WORKER = 20000


def _random_worker(d, me, seed, q):
    """Random operations on this worker's own keys (whose history is then
    sequential), and increments of counters both workers share; sends back
    the log of what it did."""
    rnd = random.Random(seed)
    model, log, deltas = {}, [], {}
    for n in range(OPS_PER_WORKER):
        op = rnd.random()
        k = (me, rnd.randrange(50))
        if op < 0.35:
            v = rnd.choice([n, str(n), b"x" * rnd.randrange(200), [me, n]])
            d[k] = v
            model[k] = v
        elif op < 0.5:
            assert d.pop(k, None) == model.pop(k, None)
        elif op < 0.7:
            assert d.get(k) == model.get(k)
        elif op < 0.8:
            assert d.setdefault(k, n) == model.setdefault(k, n)
        elif op < 0.95:
            c = "shared%d" % rnd.randrange(5)
            delta = rnd.randrange(1, 10)
            d.increment(c, delta)
            deltas[c] = deltas.get(c, 0) + delta
        else:
            with d.lock:
                a, b = d.get("pair a", 0), d.get("pair b", 0)
                d["pair a"] = a + 1
                d["pair b"] = b - 1
        log.append(op)
    q.put((me, model, deltas, len(log)))


@pytest.mark.parametrize("method", START_METHODS)
def test_two_processes_random_workload_checked_against_log(method, process_helpers):
    ctx = cmp.get_context(method)
    d = ctx.Dict()
    q = ctx.Queue()
    procs = [ctx.Process(target=_random_worker, args=(d, me, 1000 + me, q)) for me in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=TIMEOUT * 4) for _ in procs]
    for p in procs:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    expected, counters = {}, {}
    for me, model, deltas, n in results:
        assert n == OPS_PER_WORKER
        expected.update(model)
        for c, delta in deltas.items():
            counters[c] = counters.get(c, 0) + delta
    expected.update(counters)
    if "pair a" in d:
        assert d["pair a"] == -d["pair b"] > 0
        expected["pair a"], expected["pair b"] = d["pair a"], d["pair b"]
    assert d == expected
    d._check()


# ---- killed writers -----------------------------------------------------------

def _writer(d, started, progress):
    """Writes forever: every value carries its own check, so a torn one is
    seen; progress counts the increments of 'count' that returned."""
    n = 0
    while True:
        n += 1
        k = n % 40
        d[k] = (k, n, bytes([n % 256]) * (n % 700))
        if n % 3 == 0:
            d.increment("count")
            progress.value += 1
        if n % 7 == 0:
            with d.lock:
                for i in range(10):
                    d[("locked", i)] = (("locked", i), n, bytes([n % 256]) * i)
        if n % 11 == 0:
            d.update({("bulk", i): (("bulk", i), n, b"") for i in range(30)})
        if n % 13 == 0:
            d.pop(k, None)
        if n == 100:
            started.set()


def _check_consistent(d, increments):
    d._check()
    for k, v in d.items():
        if k == "count":
            assert increments <= v <= increments + 1, (v, increments)
        else:
            key, n, payload = v
            assert key == k and payload == bytes([n % 256]) * len(payload)


@pytest.mark.parametrize("method", START_METHODS)
def test_writer_killed_mid_update_100_times(method, process_helpers):
    # 100 deaths under fork; a spawned or forkserver child takes longer to
    # start, so 30 there.
    ctx = cmp.get_context(method)
    d = ctx.Dict()
    progress = ctx.Value("q", 0, lock=False)
    rnd = random.Random(7)
    deaths_in_lock = 0
    for _ in range(100 if method == "fork" else 30):
        started = ctx.Event()
        p = ctx.Process(target=_writer, args=(d, started, progress))
        p.start()
        assert started.wait(TIMEOUT)
        time.sleep(rnd.uniform(0, 0.004))   # a random instant to kill at
        os.kill(p.pid, signal.SIGKILL)
        p.join(TIMEOUT)
        assert p.exitcode == -signal.SIGKILL
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # The increment in flight may have landed without being counted.
            _check_consistent(d, progress.value)
            progress.value = d["count"]
            d["usable"] = 1
            assert d.pop("usable") == 1
        deaths_in_lock += any(issubclass(w.category, OwnerDiedWarning) for w in caught)
    # Some deaths happened inside a segment, some of them under d.lock.
    print("recovered segments %d, deaths under d.lock %d" % (d._recovered(), deaths_in_lock))
    assert d._recovered() > 0
    assert deaths_in_lock > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _check_consistent(d, progress.value)


def _die_in_lock(d, inside):
    with d.lock:
        d["half"] = "first step"
        inside.set()
        threading.Event().wait()        # killed here


@pytest.mark.parametrize("method", START_METHODS)
def test_death_under_d_lock_warns_the_next_user(method, process_helpers):
    ctx = cmp.get_context(method)
    d = ctx.Dict({"other": 1})
    inside = ctx.Event()
    p = ctx.Process(target=_die_in_lock, args=(d, inside))
    p.start()
    assert inside.wait(TIMEOUT)
    os.kill(p.pid, signal.SIGKILL)
    p.join(TIMEOUT)
    with pytest.warns(OwnerDiedWarning, match="multi-step update"):
        assert d["half"] == "first step"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with d.lock:
            d["half"] = "second step"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert d.copy() == {"other": 1, "half": "second step"}
        d._check()


# ---- memory and references ------------------------------------------------------

def test_memory_goes_back_to_the_arena():
    gc.collect()
    start = arena_stats()
    d = cmp.Dict()
    with_dict = arena_stats()
    for i in range(20000):
        d[i] = "v%d" % i
        d[("t", i)] = b"x" * (i % 3000)
    d[2 ** 70] = [1, 2, 3]
    for i in range(0, 20000, 2):
        del d[i]
        d.pop(("t", i))
    d.clear()
    assert arena_stats()["blocks_in_use"] == with_dict["blocks_in_use"]
    assert arena_stats()["bytes_in_use"] == with_dict["bytes_in_use"]
    for i in range(1000):
        d[i] = i
    for i in range(1000):
        del d[i]
    assert arena_stats()["bytes_in_use"] == with_dict["bytes_in_use"]
    d.update({i: str(i) for i in range(500)})
    del d
    gc.collect()
    assert arena_stats()["blocks_in_use"] == start["blocks_in_use"]
    assert arena_stats()["bytes_in_use"] == start["bytes_in_use"]


def _touch(d):
    d["child"] = 1


@pytest.mark.parametrize("method", START_METHODS)
def test_children_let_go_of_their_references(method, process_helpers):
    ctx = cmp.get_context(method)
    gc.collect()
    start = arena_stats()
    d = ctx.Dict({"a": "b" * 100})
    refs = cmp._cmp._shared_refcount(d)
    p = ctx.Process(target=_touch, args=(d,))
    p.start()
    p.join(TIMEOUT)
    assert d["child"] == 1
    assert cmp._cmp._shared_refcount(d) == refs
    pickle.loads(pickle.dumps(d))["pickled"] = 2
    gc.collect()
    assert cmp._cmp._shared_refcount(d) == refs and d["pickled"] == 2
    del d
    gc.collect()
    assert arena_stats()["blocks_in_use"] == start["blocks_in_use"]


def test_no_python_reference_leaks():
    d = cmp.Dict()
    key, value, dflt = ("k", 1), ["value"], object()
    before = [sys.getrefcount(x) for x in (key, value, dflt)]
    for _ in range(100):
        d[key] = value
        d[key]
        d.get(key)
        d.get("missing", dflt)
        d.pop("missing", dflt)
        assert key in d
        d.setdefault(key, value)
        d.items()
        d.increment("n")
        del d[key]
        with pytest.raises(KeyError):
            d[key]
    assert [sys.getrefcount(x) for x in (key, value, dflt)] == before


def test_memory_error_when_the_arena_is_full(tmp_path):
    script = textwrap.dedent("""
        import cmp
        d = cmp.Dict()
        d["keep"] = "me"
        n = 0
        try:
            while True:
                d[n] = b"x" * 100000
                n += 1
        except MemoryError as e:
            assert "arena is full" in str(e), e
        assert n > 10 and n not in d and len(d) == n + 1 and d["keep"] == "me"
        d._check()
        for i in range(n // 2):
            del d[i]
        d[n] = b"fits again"
        assert d[n] == b"fits again"
        d.clear()
        print("ok", n)
    """)
    env = dict(os.environ, CMP_ARENA_SIZE=str(8 << 20))
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=TIMEOUT * 4)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("ok ")


def test_growth_rebuilds_one_segment_at_a_time():
    """A table rebuild (growth or shrink) is one segment's: the keys spread
    evenly over the 64 segments, each with a table of its own sized to its
    own count, so the longest pause is about 1/64 of a whole rebuild."""
    d = cmp.Dict()
    for i in range(64000):
        d[("k", i)] = i
    sizes = d._segment_sizes()
    assert len(sizes) == 64
    counts = [count for count, slots in sizes]
    assert sum(counts) == 64000
    assert max(counts) < 2 * 1000 and min(counts) > 1000 // 2
    for count, slots in sizes:
        assert count * 4 <= slots * 3 and slots <= 4 * count
    for i in range(63000):
        del d[("k", i)]
    for count, slots in d._segment_sizes():
        assert slots <= max(8, 8 * count)
