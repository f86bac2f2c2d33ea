# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.connection import *
from multiprocessing.connection import __all__ as __all__
from multiprocessing.connection import (
    Connection as Connection,
    answer_challenge as answer_challenge,
    deliver_challenge as deliver_challenge,
)
