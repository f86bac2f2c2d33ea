"""The C cores on their own: csrc/tests/test_cores.c (lock, semaphore,
event, condition, barrier, dict), csrc/tests/test_ring.c (the message ring) and
csrc/tests/test_arena.c (the allocator) and csrc/tests/test_proc.c (the
process table), built with the sanitizers and warnings as errors, run across fork()ed
processes without Python."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORES = ["arena", "owner", "spin", "lock", "semaphore", "event", "condition", "barrier",
         "dict"]
# test_proc includes proc.c itself (it reaches into the table's entries),
# test_ring ring.c (it kills a process at ring.c's RING_POINTs).
PROGRAMS = {"test_cores": CORES, "test_ring": CORES, "test_arena": ["arena"],
            "test_proc": ["arena", "owner"]}


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_c_cores_under_sanitizers(tmp_path, program):
    exe = str(tmp_path / program)
    sources = [os.path.join(ROOT, "csrc", "tests", program + ".c")]
    sources += [os.path.join(ROOT, "csrc", name + ".c") for name in PROGRAMS[program]]
    assert all(os.path.exists(s) for s in sources)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    # allow_user_segv_handler: test_ring's producer is killed from its own
    # SIGSEGV handler at a chosen instruction.
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:allow_user_segv_handler=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    subprocess.run(
        ["gcc", "-std=gnu11", "-g", "-O1", "-fsanitize=address,undefined",
         "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined",
         "-Wall", "-Wextra", "-Werror", "-o", exe] + sources + ["-lpthread"],
        check=True, env=env, timeout=300)
    run = subprocess.run([exe], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "all passed", run.stdout
    assert "runtime error" not in run.stderr, run.stderr
