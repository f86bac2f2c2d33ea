# cmp re-exports the stdlib's module under its own name: the stdlib's types.
from multiprocessing.spawn import *
from multiprocessing.spawn import __all__ as __all__
from multiprocessing.spawn import (
    WINEXE as WINEXE,
    WINSERVICE as WINSERVICE,
    is_forking as is_forking,
    old_main_modules as old_main_modules,
    prepare as prepare,
    spawn_main as spawn_main,
)
