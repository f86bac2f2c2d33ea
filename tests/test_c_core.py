"""The C cores on their own: csrc/tests/test_cores.c, built with the
sanitizers and warnings as errors, exercises lock, semaphore, event,
condition, barrier and dict across fork()ed processes without Python."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORES = ["arena", "owner", "spin", "lock", "semaphore", "event", "condition", "barrier",
         "dict"]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_c_cores_under_sanitizers(tmp_path):
    exe = str(tmp_path / "test_cores")
    sources = [os.path.join(ROOT, "csrc", "tests", "test_cores.c")]
    sources += [os.path.join(ROOT, "csrc", name + ".c") for name in CORES]
    assert all(os.path.exists(s) for s in sources)
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
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
