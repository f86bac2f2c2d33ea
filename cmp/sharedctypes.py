"""Placeholder until cmp's own shared Value/Array land: the stdlib's
sharedctypes, whose locks come from cmp's context."""
from multiprocessing.sharedctypes import *  # noqa: F401,F403
from multiprocessing.sharedctypes import (  # noqa: F401
    RawValue, RawArray, Value, Array, copy, synchronized, typecode_to_type)
