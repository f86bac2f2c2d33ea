"""The benchmark runner (python -m benchmarks): its table, its JSON, its
plots, and that a case computing wrong results, hanging or leaving
processes behind fails the run while the other cases still report."""
import json
import os
import statistics
import subprocess
import sys
import textwrap

import pytest

from conftest import TIMEOUT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = ["benchmark", "unit", "stdlib", "cmp", "ratio"]


def run(*args):
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=10 * TIMEOUT)


def fake_benchmarks(tmp_path, body):
    (tmp_path / "bench_fake.py").write_text(
        "import cmp\nfrom benchmarks.common import case, param_name\n"
        + textwrap.dedent(body))
    return ["--dir", str(tmp_path), "-k", "fake", "--quick",
            "--plots-dir", str(tmp_path / "plots")]


def table_rows(stdout):
    lines = stdout.splitlines()
    assert lines[0].split() == HEADER, stdout
    rows = {}
    for line in lines[2:]:
        if not line.strip():
            break
        name, rest = line.split("  ", 1)
        rows[name.strip()] = rest.split()
    return rows


def test_quick_run_on_real_cases(tmp_path):
    out = tmp_path / "r.json"
    r = run("--quick", "-k", "lock acquire+release", "--json", str(out),
            "--plots-dir", str(tmp_path / "plots"))
    assert r.returncode == 0, r.stderr
    rows = table_rows(r.stdout)
    assert set(rows) == {"Lock acquire+release, uncontended",
                         "RLock acquire+release, uncontended"}
    assert "[2/2" in r.stderr                      # the progress lines
    doc = json.loads(out.read_text())
    assert doc["command"].startswith("python -m benchmarks --quick -k ")
    assert doc["quick"] is True
    assert {"cpu", "cores", "python", "kernel"} <= set(doc["machine"])
    for rec in doc["cases"]:
        assert rec["error"] is None
        assert rec["rounds"] == 3
        assert set(rec["samples"]) == {"stdlib", "cmp"}
        for samples in rec["samples"].values():
            assert len(samples) == 3 and all(s > 0 for s in samples)
        medians = {k: statistics.median(v) for k, v in rec["samples"].items()}
        assert rec["median"] == medians
        assert rec["ratio"] == pytest.approx(medians["cmp"] / medians["stdlib"])
        assert rows[rec["name"]][-1] == "%.2fx" % rec["ratio"]


def test_wrong_result_fails_the_run_and_the_rest_still_reports(tmp_path):
    args = fake_benchmarks(tmp_path, """
        @case("fake wrong sum", unit="ops/s")
        def wrong(mp, quick):
            total = sum(range(10)) + (1 if mp is cmp else 0)
            if total != 45:
                raise AssertionError("sum is %d, not 45" % total)
            return 1.0

        @case("fake garbage", unit="ops/s")
        def garbage(mp, quick):
            return None

        @case("fake seconds", unit="s", higher_is_better=False)
        def seconds(mp, quick):
            return 1.0 if mp is cmp else 4.0

        @case("fake rate", unit="ops/s", repeat=2)
        def rate(mp, quick):
            return 3.0 if mp is cmp else 1.5
    """)
    (tmp_path / "bench_fakebroken.py").write_text("import no_such_module_for_cmp_benchmarks\n")
    r = run(*args, "--json", str(tmp_path / "r.json"))
    assert r.returncode == 1, r.stdout + r.stderr
    rows = table_rows(r.stdout)
    assert rows["bench_fakebroken.py"] == ["-", "-", "-", "FAILED"]
    assert "No module named 'no_such_module_for_cmp_benchmarks'" in r.stderr
    assert rows["fake wrong sum"] == ["ops/s", "-", "-", "FAILED"]
    assert rows["fake garbage"] == ["ops/s", "-", "-", "FAILED"]
    assert rows["fake seconds"] == ["s", "4", "1", "4.00x"]
    assert rows["fake rate"] == ["ops/s", "1.5", "3", "2.00x"]
    assert "sum is 46, not 45" in r.stderr
    assert "returned None, not a positive number" in r.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    rate = [c for c in doc["cases"] if c["name"] == "fake rate"][0]
    assert rate["samples"] == {"stdlib": [1.5, 1.5], "cmp": [3.0, 3.0]}


def test_hung_or_untidy_case_fails_and_is_cleaned_up(tmp_path):
    args = fake_benchmarks(tmp_path, """
        def wait_forever(event):
            event.wait()

        @case("fake hangs", unit="ops/s")
        def hangs(mp, quick):
            event = mp.Event()
            p = mp.Process(target=wait_forever, args=(event,))
            p.start()
            p.join()
            return 1.0

        @case("fake leaves a process", unit="ops/s")
        def leaves(mp, quick):
            mp.Process(target=wait_forever, args=(mp.Event(),)).start()
            return 1.0
    """)
    r = run(*args, "--timeout", "3", "--no-plots")
    assert r.returncode == 1, r.stdout + r.stderr
    rows = table_rows(r.stdout)
    assert rows["fake hangs"][-1] == rows["fake leaves a process"][-1] == "FAILED"
    assert "did not finish within 3s" in r.stderr
    assert "left processes running" in r.stderr
    # ps without the sanitizer runtime (make test-asan preloads it, and ps
    # hangs with it).
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True,
                        env=env).stdout
    assert str(tmp_path) not in ps


def test_competitors_and_plots(tmp_path):
    args = fake_benchmarks(tmp_path, """
        def other(quick):
            return 2.0

        def missing(quick):
            import no_such_module_for_cmp_benchmarks  # noqa: F401

        for size in (64, 4096, 65536):
            @case(param_name("fake queue put+get", bytes=size), unit="msgs/s",
                  competitors={"other": other, "missing": missing}, repeat=1)
            def queue(mp, quick, size=size):
                return (4.0 if mp is cmp else 1.0) * 1e6 / size

        for n in (10, 1000):
            @case(param_name("fake pool map", tasks=n), unit="s", higher_is_better=False,
                  repeat=1)
            def pool(mp, quick, n=n):
                return n * (1e-4 if mp is cmp else 1e-3)
    """)
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert "cmp against other libraries" in r.stdout
    assert "skipped competitor missing: not installed" in r.stdout
    other = [line.split() for line in r.stdout.splitlines()
             if line.startswith("fake queue put+get [bytes=64]") and "other" in line]
    assert other and other[0][-4:] == ["other", "2", "62.5k", "31250.00x"]
    pngs = ["ratio.png", "queue_throughput_vs_size.png", "pool_overhead_vs_tasks.png"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "plots skipped: No module named 'matplotlib'" in r.stderr
        assert not (tmp_path / "plots").exists()
    else:
        assert sorted(os.listdir(tmp_path / "plots")) == sorted(pngs)
        for png in pngs:
            assert (tmp_path / "plots" / png).read_bytes()[:4] == b"\x89PNG"


def test_list_and_selection(tmp_path):
    r = run("--list")
    assert r.returncode == 0, r.stderr
    names = r.stdout
    for name in ["Lock acquire+release, uncontended", "Event ping-pong (two cores)",
                 "Condition ping-pong (one core)", "Lock contended, 2 processes counting"]:
        assert name in names
    r = run("-k", "no benchmark has this name")
    assert r.returncode == 2
    assert "no benchmark matches" in r.stderr


def test_pinning(tmp_path):
    args = fake_benchmarks(tmp_path, """
        import os

        def cpus_of_child(mp):
            with mp.Pool(1) as pool:
                return len(pool.apply(os.sched_getaffinity, (0,)))

        @case("fake pinned to one core", unit="CPUs", pin="same", repeat=1)
        def same(mp, quick):
            assert len(os.sched_getaffinity(0)) == cpus_of_child(mp) == 1
            return 1.0

        @case("fake across two cores", unit="CPUs", pin="cross", repeat=1)
        def cross(mp, quick):
            return float(len(os.sched_getaffinity(0)))
    """)
    r = run(*args, "--no-plots")
    assert r.returncode == 0, r.stderr
    rows = table_rows(r.stdout)
    assert rows["fake pinned to one core"] == ["CPUs", "1", "1", "1.00x"]
    cpus = len(os.sched_getaffinity(0))
    assert rows["fake across two cores"] == (["CPUs", str(cpus), str(cpus), "1.00x"] if cpus > 1
                                             else ["CPUs", "-", "-", "skipped"])

    one_cpu = min(os.sched_getaffinity(0))
    r = subprocess.run([sys.executable, "-m", "benchmarks", *args, "--no-plots"], cwd=ROOT,
                       capture_output=True, text=True, timeout=10 * TIMEOUT,
                       preexec_fn=lambda: os.sched_setaffinity(0, {one_cpu}))
    assert r.returncode == 0, r.stderr
    rows = table_rows(r.stdout)
    assert rows["fake across two cores"] == ["CPUs", "-", "-", "skipped"]
    assert "skipped fake across two cores: pinned across two cores" in r.stdout
