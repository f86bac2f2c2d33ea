"""The runner's PNG plots (matplotlib), from the results it writes as JSON:

    ratio.png                       cmp/stdlib ratio per benchmark (bars)
    queue_throughput_vs_size.png    every series named '... [bytes=N]'
    pool_overhead_vs_tasks.png      every series named '... [tasks=N]'

(the naming convention is common.param_name's).  A plot whose data is not
in the results is skipped with a note.  Redraw them from a saved run with
``python -m benchmarks.plots RESULTS.json [OUTDIR]``.
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter  # noqa: E402

from benchmarks.common import SIZE, TASKS, parse_param  # noqa: E402

def _bytes(n):
    for shift, suffix in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift:
            return "%g %s" % (n / (1 << shift), suffix)
    return "%d B" % n


def _count(n):
    return "%gk" % (n / 1000) if n >= 1000 else "%d" % n


LINE_PLOTS = (
    (SIZE, "queue_throughput_vs_size.png", "queue throughput against message size",
     "message size", _bytes),
    (TASKS, "pool_overhead_vs_tasks.png", "pool overhead against task count",
     "tasks", _count),
)


def write_all(doc, outdir):
    """write_all(doc, outdir) -> (paths written, notes on the plots skipped)."""
    os.makedirs(outdir, exist_ok=True)
    cases = [c for c in doc["cases"] if c.get("ratio") is not None]
    subtitle = _subtitle(doc)
    written, notes = [], []
    if cases:
        written.append(ratio_plot(cases, os.path.join(outdir, "ratio.png"), subtitle))
    else:
        notes.append("ratio.png: no case finished")
    for key, filename, title, xlabel, xfmt in LINE_PLOTS:
        series = _series(cases, key)
        if series:
            written.append(line_plot(series, os.path.join(outdir, filename), title, xlabel,
                                     xfmt, subtitle))
        else:
            notes.append("%s: no case named '... [%s=N]' in this run" % (filename, key))
    return written, notes


def _subtitle(doc):
    m = doc.get("machine", {})
    return "%s, %s cores, %s%s" % (m.get("cpu", "?"), m.get("cores", "?"), m.get("python", "?"),
                                   ", quick run" if doc.get("quick") else "")


def ratio_plot(cases, path, subtitle):
    names = [c["name"] for c in cases][::-1]
    ratios = [c["ratio"] for c in cases][::-1]
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.32 * len(cases)))
    colors = ["#2a9d4a" if r >= 1 else "#c0392b" for r in ratios]
    ax.barh(range(len(names)), ratios, color=colors)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    for y, r in enumerate(ratios):
        ax.text(r, y, " %.2fx" % r, va="center", fontsize=7)
    lo, hi = min(ratios + [1.0]) / 1.5, max(ratios + [1.0]) * 2.5
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator([2.0 ** e for e in range(-10, 11)
                                             if lo <= 2.0 ** e <= hi]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: "%gx" % v))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("cmp / stdlib (above 1: cmp is faster; median of the rounds)")
    ax.set_title("cmp against the stdlib\n" + subtitle, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _series(cases, key):
    """{base name: (unit, [(x, {target: median})...] sorted by x)} for `key`."""
    series = {}
    for c in cases:
        parsed = parse_param(c["name"])
        if parsed is None or parsed[1] != key:
            continue
        base, _, x = parsed
        series.setdefault(base, (c["unit"], []))[1].append((x, c["median"]))
    for unit, points in series.values():
        points.sort(key=lambda p: p[0])
    return series


def line_plot(series, path, title, xlabel, xfmt, subtitle):
    fig, axes = plt.subplots(len(series), 1, figsize=(8, 3.6 * len(series)), squeeze=False)
    for ax, (base, (unit, points)) in zip(axes[:, 0], sorted(series.items())):
        xs = [x for x, _ in points]
        targets = []
        for _, medians in points:
            targets += [t for t in medians if t not in targets]
        for t in targets:
            pts = [(x, m[t]) for x, m in points if t in m]
            label = t.split(":", 1)[1] if ":" in t else t
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(xs))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: xfmt(int(round(v)))))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(unit)
        ax.set_title(base, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title + "\n" + subtitle, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv):
    import json
    if not 1 <= len(argv) <= 2:
        print("usage: python -m benchmarks.plots RESULTS.json [OUTDIR]", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        doc = json.load(f)
    outdir = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "results")
    written, notes = write_all(doc, outdir)
    for p in written:
        print("wrote", p)
    for n in notes:
        print("skipped", n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
