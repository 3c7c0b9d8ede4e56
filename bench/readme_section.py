"""Write a benchmark run's figures into README.md's Performance section.

    python bench/readme_section.py [--json bench/results/results.json] [README.md]

Replaces the text between the ``<!-- bench:begin -->`` and
``<!-- bench:end -->`` markers of the target file (README.md by default) with
figures rendered from results.json by the same code that writes results.md
(bench/_report.py): the run header, a speed-up summary, the goals, whole fit
calls, XOR, compile time, single-call latency, GridSearchCV and, when the
run has it, a short table of the fused CV search (MLPClassifierCV).  Nothing is
measured here, so every figure traces back to one ``bench/run.py`` run.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
COLUMNS = (  # (solver, dtype, threads) shown in the speed-up summary
    ("sgd", "float64", 1),
    ("sgd", "float64", 2),
    ("adam", "float64", 1),
    ("sgd", "float32", 1),
    ("adam", "float32", 2),
)
TITLES = (
    "Goals",
    "Whole fit calls",
    "XOR",
    "Compile time",
    "Predict and partial_fit latency",
    "GridSearchCV in fresh processes",
)


def speedup_summary(results):
    from _report import _table

    ratios = {}
    for c in (results.get("throughput") or {}).get("configs", []):
        row = ratios.setdefault((c["case"], c["layers"], c["batch_size"]), {})
        row[(c["solver"], c["dtype"], c["threads"])] = c["speedup_vs_sklearn"]["median"]
    rows = [
        [*case, *(f"{r[k]:.2f}x" if k in r else "n/a" for k in COLUMNS)]
        for case, r in ratios.items()
    ]
    head = " | ".join(
        ["case", "layers", "batch", *(f"{s} {d} {t}T" for s, d, t in COLUMNS)]
    )
    return (
        "Training throughput, fastbp / scikit-learn (paired medians of the "
        "interleaved rounds):\n\n"
        + _table(head, "llr" + "r" * len(COLUMNS), rows)
        + "\n\n![speed-up per case](bench/results/speedup.png)"
    )


def search_summary(results):
    """A short table of the fused CV search; "" if the run has none."""
    from _report import _s, _search_shape, _spread, _table, _x

    cases = [
        c for c in (results.get("search") or {}).get("cases", []) if "derived" in c
    ]
    if not cases:
        return ""
    rows = []
    for c in cases:
        d = c["derived"]
        memory = d["memory_over_n_jobs_2"].get("sklearn")
        fresh = d.get("fresh", {}).get("sklearn_over_fused")
        rows.append(
            [
                c["name"],
                _search_shape(c),
                _spread(d["seconds"]["fused"], _s),
                _spread(d["vs_fastbp"], _x),
                _spread(d["vs_sklearn"], _x),
                _spread(fresh, _x) if fresh else "",
                _x(memory) if memory else "n/a",
            ]
        )
    head = (
        "case | search | MLPClassifierCV | vs GridSearchCV(fastbp) | vs "
        "GridSearchCV(sklearn) | vs sklearn, first call of a fresh process | peak "
        "memory / GridSearchCV(sklearn, n_jobs=2)"
    )
    return (
        "### Fused CV search (MLPClassifierCV)\n\n"
        "`MLPClassifierCV` seconds and its paired speed-ups over `GridSearchCV` at "
        "the faster of n_jobs=1 and 2 (warm workers); details in "
        "bench/results/results.md.\n\n" + _table(head, "llrrrrr", rows)
    )


def render(results):
    from _report import derive, header, markdown

    derive(results)
    parts = [
        header(results),
        speedup_summary(results),
        markdown(results, TITLES, level=3).strip(),
        search_summary(results),
    ]
    return "\n\n".join(p for p in parts if p).strip()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", default=os.path.join(HERE, "results", "results.json"))
    p.add_argument(
        "target", nargs="?", default=os.path.join(HERE, os.pardir, "README.md")
    )
    args = p.parse_args(argv)
    with open(args.json, encoding="utf-8") as f:
        block = render(json.load(f))
    with open(args.target, encoding="utf-8") as f:
        text = f.read()
    start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
    with open(args.target, "w", encoding="utf-8") as f:
        f.write(text[:start] + "\n" + block + "\n" + text[stop:])
    print(f"{os.path.relpath(args.target)}: benchmark block written from {args.json}")


if __name__ == "__main__":
    main()
