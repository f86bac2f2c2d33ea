"""Each line that ends in an "E:" comment misuses an extension: mypy --strict
must report an error on exactly those lines, containing the comment's text
(tests/test_typing.py)."""
import cmp as multiprocessing
from cmp._core import arena_stats


def square(x: int) -> int:
    return x * x


ratio = multiprocessing.Value('d', 0.5)
ratio.fetch_add(1)  # E: Invalid self argument "Synchronized[float]" to attribute function "fetch_add"
counter = multiprocessing.Value('i', 0)
counter.fetch_add('1')  # E: Argument 1 to "fetch_add" of "Synchronized" has incompatible type "str"; expected "int"
counter.compare_exchange(1)  # E: Missing positional argument "desired" in call to "compare_exchange" of "Synchronized"
name: str = counter.exchange(3)  # E: Incompatible types in assignment (expression has type "int", variable has type "str")
arr = multiprocessing.Array('d', 4)
arr.exchange(0, 1.5)  # E: Invalid self argument "SynchronizedArray[float]" to attribute function "exchange"

queue: 'multiprocessing.Queue[int]' = multiprocessing.Queue()
queue.put_many([1], timeout='soon')  # E: Argument "timeout" to "put_many" of "Queue" has incompatible type "str"; expected "float | None"
strings: list[str] = queue.get_many()  # E: Incompatible types in assignment (expression has type "list[int]", variable has type "list[str]")
queue.get_many(max_items='all')  # E: Argument "max_items" to "get_many" of "Queue" has incompatible type "str"; expected "int | None"

pool = multiprocessing.Pool(2)
pool.map(square, [1], task_timeout='1s')  # E: Argument "task_timeout" to "map" of "Pool" has incompatible type "str"; expected "float | None"
pool.imap(square, [1], max_in_flight=2.5)  # E: Argument "max_in_flight" to "imap" of "Pool" has incompatible type "float"; expected "int | None"
pool.apply_async(square, (1,), progress=True)  # E: Unexpected keyword argument "progress" for "apply_async" of "Pool"
pool.map(square, [1], max_in_flight=1)  # E: Unexpected keyword argument "max_in_flight" for "map" of "Pool"
stats = arena_stats()
stats['free']  # E: TypedDict "ArenaStats" has no key "free"
multiprocessing.Value('i', 0).fetch_and(1)  # E: "Synchronized[int]" has no attribute "fetch_and"
