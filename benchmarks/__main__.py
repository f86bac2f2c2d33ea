"""python -m benchmarks [--quick] [--json FILE] [-k NAME_SUBSTRING ...] [--list]

Runs every case of benchmarks/bench_*.py for the stdlib (its fork context)
and for cmp, alternating the two, and prints one table: benchmark, unit,
stdlib, cmp, ratio (the medians; a ratio above 1 means cmp is faster).
Competitors a case names (faster-fifo, ProcessPoolExecutor) are measured in
the same rounds and reported in a second table, or skipped with a note when
not installed.  Plots go to benchmarks/results/ (see plots.py).

Bytecode: the runner first writes the bytecode of cmp's modules
(compileall), as installing cmp does; the stdlib's come with theirs.
Without it (PYTHONDONTWRITEBYTECODE set) every process that imports cmp
compiles it, which spawned and forkserver children pay on every start.

Isolation: every single measurement runs in a fresh interpreter of its own
(``python -m benchmarks --_one ...``), started in a new session.  A backend
leaves state behind in the process that ran it - cmp's arena and its
allocator, the stdlib's semaphores, heap and resource tracker, forked
children, a warm or fragmented allocator, a pinned CPU mask - and a later
measurement of the other backend in the same process would pay for it or
profit from it.  A fresh process per measurement costs ~0.1 s of wall time
outside what is measured (the case times its own work), and gives every
sample the same start; it also lets the runner kill a hung case (the whole
session, the case's own children included) and go on, and whatever a case
left running is killed before the next measurement starts.  The two backends
alternate, and so does which of them goes first in a round (ABBA), so that
a slow drift of the machine's load weighs on both alike.

--json FILE holds {"command", "quick", "machine": {cpu, cores, usable_cores,
python, kernel, load_average, commit}, "started", "seconds", "cases": [{name,
script, unit, higher_is_better, pin, rounds, samples: {target: [values]},
median: {target: value}, ratio, error, skipped: {target: note}, not_run}]},
a target being "stdlib", "cmp" or "competitor:NAME".  A pin="cross" case is
not run (with a note) where the runner may use only one CPU.

Exit status: 0 when every case ran and verified its results, 1 when a
script does not import or a case raised, returned something that is not a positive number, left processes
running, or did not finish within --timeout (the rest still runs and
prints), 2 for a bad command line or a selection that matches nothing.
"""
import argparse
import glob
import importlib
import importlib.util
import json
import math
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

PKG_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(PKG_DIR)
RESULTS_DIR = os.path.join(PKG_DIR, "results")
BACKENDS = ("stdlib", "cmp")
QUICK_REPEAT = 3            # at most this many rounds per case with --quick
RESULT_MARK = "@@cmp-bench-result "
COMPETITOR = "competitor:"


# -- discovery ----------------------------------------------------------------

def _load(path):
    """Import one bench_*.py file; return the cases it declared."""
    from benchmarks import common
    before = len(common.CASES)
    if os.path.dirname(os.path.abspath(path)) == PKG_DIR:
        importlib.import_module("benchmarks." + os.path.basename(path)[:-3])
    else:
        modname = "_cmp_bench_" + os.path.abspath(path).replace("/", "_").replace(".", "_")
        if modname not in sys.modules:
            spec = importlib.util.spec_from_file_location(modname, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[modname] = module
            spec.loader.exec_module(module)
    return common.CASES[before:] or [
        c for c in common.CASES if _case_path(c) == os.path.abspath(path)]


def _case_path(c):
    return os.path.abspath(sys.modules[c.module].__file__)


TOPICS = ("locks", "events", "values", "queues", "pool")   # the table's order


def _rank(name):
    return TOPICS.index(name) if name in TOPICS else len(TOPICS)


def topic(path):
    """bench_locks.py -> 'locks'."""
    return os.path.basename(path)[len("bench_"):-len(".py")]


def discover(dirs):
    """([(path, case)] for every case of every bench_*.py in `dirs`,
        [(path, traceback)] for every one that does not import)."""
    found, broken, names = [], [], {}
    for d in dirs:
        paths = glob.glob(os.path.join(d, "bench_*.py"))
        for path in sorted(paths, key=lambda p: (_rank(topic(p)), p)):
            try:
                cases = _load(path)
            except Exception:
                broken.append((os.path.abspath(path), traceback.format_exc()))
                continue
            for c in cases:
                if c.name in names:
                    raise SystemExit("two cases named %r (%s and %s)"
                                     % (c.name, names[c.name], path))
                names[c.name] = path
                found.append((os.path.abspath(path), c))
    return found, broken


def select(found, broken, patterns):
    """The cases, and the scripts that do not import, that `patterns` name."""
    if not patterns:
        return found, broken
    pats = [p.lower() for p in patterns]
    return ([(path, c) for path, c in found
             if any(p in c.name.lower() or p == topic(path).lower() for p in pats)],
            [(path, tb) for path, tb in broken if any(p in topic(path).lower() for p in pats)])


def broken_record(path, tb):
    return {"name": os.path.basename(path), "script": os.path.basename(path), "unit": "-",
            "higher_is_better": True, "pin": None, "rounds": 0, "samples": {}, "median": {},
            "ratio": None, "error": "the script does not import:\n" + _tail(tb),
            "skipped": {}, "not_run": None}


# -- one measurement, in its own interpreter ------------------------------------

def run_one(spec):
    """Child side: measure one case once for one target; print the result."""
    sys.path.insert(0, ROOT)
    from benchmarks import common
    cases = {c.name: c for c in _load(spec["path"])}
    c = cases[spec["name"]]
    target = spec["target"]
    if target == "stdlib":
        import multiprocessing
        mp = multiprocessing.get_context("fork")
        call = lambda: c.fn(mp, spec["quick"])  # noqa: E731
    elif target == "cmp":
        mp = importlib.import_module("cmp")
        call = lambda: c.fn(mp, spec["quick"])  # noqa: E731
    else:
        import multiprocessing as mp
        fn = c.competitors[target[len(COMPETITOR):]]
        call = lambda: fn(spec["quick"])  # noqa: E731
    saved = os.sched_getaffinity(0)
    if c.pin == "same":
        common.pin_self(common.same_cpu())
    try:
        value = call()
    except ImportError as e:
        if not target.startswith(COMPETITOR):
            raise
        print(RESULT_MARK + json.dumps({"skipped": "not installed (%s)" % e}), flush=True)
        return 0
    finally:
        os.sched_setaffinity(0, saved)
    left = mp.active_children()
    if left:
        for p in left:
            p.kill()
            p.join()
        raise AssertionError("the case left processes running: %r" % left)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise AssertionError("the case returned %r, not a positive number" % (value,))
    print(RESULT_MARK + json.dumps({"value": float(value)}), flush=True)
    return 0


def _child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def measure(path, c, target, quick, timeout, tick=lambda: None):
    """Runner side: one measurement in a fresh interpreter.

    Returns ("value", float) | ("skipped", note) | ("error", message)."""
    spec = {"path": path, "name": c.name, "target": target, "quick": quick}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen([sys.executable, "-m", "benchmarks", "--_one", json.dumps(spec)],
                             cwd=ROOT, env=_child_env(), stdin=subprocess.DEVNULL,
                             stdout=out, stderr=err, start_new_session=True)
        timed_out = False
        try:
            timed_out = not _wait_unreaped(p.pid, timeout, tick)
        finally:
            # The session leader is a zombie or still running, so its id still
            # names its process group: end whatever the case left in it.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            p.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if timed_out:
        return "error", "did not finish within %gs (killed)\n%s" % (timeout, _tail(stderr))
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK):])
            if "skipped" in result:
                return "skipped", result["skipped"]
            if p.returncode == 0:
                return "value", result["value"]
    text = (stderr or stdout).rstrip()
    last = text.splitlines()[-1] if text else "no output"
    return "error", "%s (exit status %s)\n%s" % (last, p.returncode, _tail(text))


def _wait_unreaped(pid, timeout, tick):
    """Wait until `pid` exits, without reaping it; False after `timeout` s.
    Calls tick() about once a second meanwhile."""
    now = time.monotonic()
    deadline, next_tick = now + timeout, now + 1.0
    delay = 0.001
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        now = time.monotonic()
        if now >= deadline:
            return False
        if now >= next_tick:
            tick()
            next_tick = now + 1.0
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _tail(text, lines=25):
    return "\n".join(text.rstrip().splitlines()[-lines:])


# -- the run ----------------------------------------------------------------------

class Progress:
    """One self-overwriting status line on a terminal; plain lines otherwise."""

    def __init__(self, total):
        self.total = total
        self.tty = sys.stderr.isatty()
        self.start = time.monotonic()

    def status(self, index, name, text):
        line = "[%d/%d %3.0fs] %s: %s" % (index, self.total, time.monotonic() - self.start,
                                           name, text)
        if self.tty:
            width = max(20, _terminal_width() - 1)
            sys.stderr.write("\r\033[K" + line[:width])
            sys.stderr.flush()

    def done(self, index, name, text):
        line = "[%d/%d %3.0fs] %s: %s" % (index, self.total, time.monotonic() - self.start,
                                           name, text)
        sys.stderr.write(("\r\033[K" if self.tty else "") + line + "\n")
        sys.stderr.flush()


def _terminal_width():
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns or 100
    except OSError:
        return 100


def run_case(index, progress, path, c, quick, timeout):
    rounds = min(c.repeat, QUICK_REPEAT) if quick else c.repeat
    rounds = max(rounds, 1)
    targets = list(BACKENDS) + [COMPETITOR + n for n in c.competitors]
    samples = {t: [] for t in targets}
    record = {"name": c.name, "script": os.path.basename(path), "unit": c.unit,
              "higher_is_better": c.higher_is_better, "pin": c.pin, "rounds": rounds,
              "samples": samples, "median": {}, "ratio": None, "error": None, "skipped": {},
              "not_run": None}
    if c.pin == "cross" and len(os.sched_getaffinity(0)) < 2:
        record["not_run"] = "pinned across two cores, and this process may use one CPU"
        progress.done(index, c.name, "skipped: " + record["not_run"])
        return record
    for r in range(rounds):
        order = targets if r % 2 == 0 else targets[::-1]
        for target in order:
            if target in record["skipped"]:
                continue
            label = target[len(COMPETITOR):] if target.startswith(COMPETITOR) else target
            text = "%s, round %d/%d" % (label, r + 1, rounds)
            progress.status(index, c.name, text)
            kind, what = measure(path, c, target, quick, timeout,
                                 lambda: progress.status(index, c.name, text))
            if kind == "value":
                samples[target].append(what)
            elif kind == "skipped":
                record["skipped"][target] = what
            else:
                record["error"] = "%s: %s" % (label, what)
                break
        if record["error"]:
            break
    for target in record["skipped"]:
        del samples[target]
    if record["error"] is None:
        record["median"] = {t: statistics.median(v) for t, v in samples.items()}
        record["ratio"] = ratio(c.higher_is_better, record["median"]["stdlib"],
                                record["median"]["cmp"])
        progress.done(index, c.name, "stdlib %s, cmp %s %s, ratio %.2fx" % (
            fmt(record["median"]["stdlib"]), fmt(record["median"]["cmp"]), c.unit,
            record["ratio"]))
    else:
        progress.done(index, c.name, "FAILED (%s)" % record["error"].splitlines()[0])
    return record


def ratio(higher_is_better, base, other):
    """How many times faster `other` is than `base`."""
    return other / base if higher_is_better else base / other


def fmt(value):
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return "%.3g%s" % (value / limit, suffix)
    return "%.3g" % value


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    def line(r):
        cells = [str(r[0]).ljust(widths[0]), str(r[1]).ljust(widths[1])]
        cells += [str(x).rjust(w) for x, w in zip(r[2:], widths[2:])]
        return "  ".join(cells).rstrip()
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def report(results, info=None, command=None):
    rows = []
    for rec in results:
        if rec["error"]:
            rows.append((rec["name"], rec["unit"], "-", "-", "FAILED"))
        elif rec.get("not_run"):
            rows.append((rec["name"], rec["unit"], "-", "-", "skipped"))
        else:
            m = rec["median"]
            rows.append((rec["name"], rec["unit"], fmt(m["stdlib"]), fmt(m["cmp"]),
                         "%.2fx" % rec["ratio"]))
    out = [table(("benchmark", "unit", "stdlib", "cmp", "ratio"), rows)]
    others = []
    for rec in results:
        if rec["ratio"] is None:
            continue
        for target, value in rec["median"].items():
            if target.startswith(COMPETITOR):
                r = ratio(rec["higher_is_better"], value, rec["median"]["cmp"])
                others.append((rec["name"], rec["unit"], target[len(COMPETITOR):], fmt(value),
                               fmt(rec["median"]["cmp"]), "%.2fx" % r))
    if others:
        out += ["", "cmp against other libraries (ratio above 1: cmp is faster):",
                table(("benchmark", "unit", "other", "other's", "cmp", "ratio"), others)]
    notes = sorted({"competitor %s: %s" % (t[len(COMPETITOR):], note)
                    for rec in results for t, note in rec["skipped"].items()})
    notes += sorted({"%s: %s" % (rec["name"], rec["not_run"])
                     for rec in results if rec.get("not_run")})
    if notes:
        out += [""] + ["skipped %s" % n for n in notes]
    out += ["", "ratio: how many times faster cmp is than the stdlib (medians; "
            "above 1: cmp is faster)."]
    if info:
        out.append("machine: %s, %d cores, %s, %s, load average %s at the start" % (
            info["cpu"], info["cores"], info["python"], info["kernel"],
            " ".join("%.2f" % x for x in info["load_average"])))
    if command:
        out.append("command: %s" % command)
    return "\n".join(out)


def machine_info():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": model, "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "python": "%s %s" % (platform.python_implementation(), platform.python_version()),
            "kernel": "%s %s" % (platform.system(), platform.release()),
            "load_average": [round(x, 2) for x in os.getloadavg()]}
    try:
        info["commit"] = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7"], cwd=ROOT, capture_output=True,
            text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["commit"] = None
    return info


def _byte_compile():
    """Write the bytecode of cmp's modules, as installing cmp does.

    The stdlib's modules come with theirs; cmp's checkout has none where
    PYTHONDONTWRITEBYTECODE is set (or the tree is read-only for the
    interpreter), and every process would then compile cmp's sources when it
    imports them: about 20 ms of CPU per process on this machine, which
    every spawned or forkserver child would pay and a user's never does."""
    import compileall
    compileall.compile_dir(os.path.join(ROOT, "cmp"), quiet=1)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="cmp against the stdlib's multiprocessing, side by side.")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes and at most %d rounds per case (results still verified)"
                    % QUICK_REPEAT)
    ap.add_argument("--json", metavar="FILE", help="write every sample and the machine to FILE")
    ap.add_argument("-k", dest="select", metavar="NAME_SUBSTRING", action="append", default=[],
                    help="run the cases whose name contains this (case-insensitive), or whose "
                    "script is bench_NAME.py; may be repeated")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds one measurement may take (default 300, 120 with --quick)")
    ap.add_argument("--plots-dir", default=RESULTS_DIR, help="where the PNG plots go "
                    "(default benchmarks/results)")
    ap.add_argument("--no-plots", action="store_true", help="write no plots")
    ap.add_argument("--dir", action="append", default=[],
                    help="also run the bench_*.py files of DIR (may be repeated)")
    ap.add_argument("--_one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._one:
        return run_one(json.loads(args._one))

    found, broken = select(*discover([PKG_DIR] + args.dir), args.select)
    if args.list:
        for path, c in found:
            print("%-10s %-50s %-14s %s" % (topic(path), c.name, c.unit,
                                            "pin=%s" % c.pin if c.pin else ""))
        for path, tb in broken:
            print("%-10s %s does not import: %s" % (topic(path), os.path.basename(path),
                                                    tb.rstrip().splitlines()[-1]))
        return 1 if broken else 0
    if not found and not broken:
        print("no benchmark matches %s (see --list)" % " ".join(args.select), file=sys.stderr)
        return 2
    timeout = args.timeout or (120.0 if args.quick else 300.0)
    _byte_compile()
    info = machine_info()
    command = "python -m benchmarks" + ("" if not argv else " " + shlex.join(argv))
    print("cmp benchmarks%s: %d case%s, stdlib and cmp alternating, one fresh process per "
          "measurement\nmachine: %s, %d cores, %s, %s" % (
              " (quick)" if args.quick else "", len(found), "s"[len(found) == 1:],
              info["cpu"], info["cores"], info["python"], info["kernel"]), file=sys.stderr)
    progress = Progress(len(found))
    started = time.time()
    results = [broken_record(path, tb) for path, tb in broken]
    try:
        for i, (path, c) in enumerate(found, 1):
            results.append(run_case(i, progress, path, c, args.quick, timeout))
    except KeyboardInterrupt:
        print("\ninterrupted: reporting the cases that finished", file=sys.stderr)
    print(report(results, info, command))
    doc = {"command": command, "quick": args.quick, "machine": info,
           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
           "seconds": round(time.time() - started, 1), "cases": results}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print("wrote %s" % args.json, file=sys.stderr)
    if not args.no_plots:
        write_plots(doc, args.plots_dir)
    failed = [r["name"] for r in results if r["error"]]
    for rec in results:
        if rec["error"]:
            print("\nFAILED %s\n%s" % (rec["name"], rec["error"]), file=sys.stderr)
    if failed or len(results) < len(found) + len(broken):
        return 1
    return 0


def write_plots(doc, outdir):
    try:
        from benchmarks import plots
        written, notes = plots.write_all(doc, outdir)
    except ImportError as e:
        print("plots skipped: %s (pip install -r benchmarks/requirements.txt)" % e,
              file=sys.stderr)
        return
    except Exception:
        print("plots failed:\n" + traceback.format_exc(), file=sys.stderr)
        return
    for path in written:
        rel = os.path.relpath(path)
        print("wrote %s" % (path if rel.startswith("..") else rel), file=sys.stderr)
    for note in notes:
        print("plot skipped: %s" % note, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
