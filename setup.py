"""Declares cmp's C extension and its build switches.

Metadata lives in pyproject.toml.  Switches (environment variables):

    CMP_WERROR=1    -Wall -Wextra -Werror (the test build)
    CMP_DEBUG=1     no optimisation, full debug information, assertions on
    CMP_SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer (run the
                    interpreter with libasan preloaded: see the Makefile)
"""
import glob
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext

LINUX_ONLY = ("cmp-multiprocessing is Linux-only: its locks, queues and shared "
              "memory are built on Linux futexes and memfd (this is %r)")


class build_ext(_build_ext):
    """Refuses, with the reason, to compile anywhere but Linux."""

    def run(self):
        if not sys.platform.startswith("linux"):
            raise SystemExit(LINUX_ONLY % sys.platform)
        super().run()


def _on(name):
    return os.environ.get(name, "") not in ("", "0")


compile_args = ["-std=gnu11", "-fvisibility=hidden"]
link_args = []
undef = []
if _on("CMP_WERROR"):
    compile_args += ["-Wall", "-Wextra", "-Werror", "-Wno-missing-field-initializers",
                     "-Wno-cast-function-type"]
if _on("CMP_DEBUG"):
    compile_args += ["-O0", "-g3"]
    undef += ["NDEBUG"]
else:
    compile_args += ["-O2"]
if _on("CMP_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
           "-fno-sanitize-recover=undefined"]
    compile_args += san + ["-g"]
    link_args += san

setup(
    cmdclass={"build_ext": build_ext},
    ext_modules=[
        Extension(
            "cmp._cmp",
            sources=sorted(glob.glob("csrc/*.c")) + sorted(glob.glob("csrc/python/*.c")),
            depends=glob.glob("csrc/*.h") + glob.glob("csrc/python/*.h"),
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            undef_macros=undef,
        )
    ],
)
