# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.dummy.connection import *
from multiprocessing.dummy.connection import __all__ as __all__
from multiprocessing.dummy.connection import Connection as Connection, families as families
