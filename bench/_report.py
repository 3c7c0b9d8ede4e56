"""Derived numbers (fraction of peak, paired ratios, goal checks) and the
outputs: results.json, results.md and speedup.png.

Each section of results.md is rendered by one function of ``results`` (the
dict written to results.json), listed in SECTIONS; readme_section.py renders
a selection of them into README.md.  A stage that did not run (``--cases``
subset, ``--skip-compile``) leaves its key out and its section says so.
"""

import json
import os

import numpy as np
from _cases import (
    ADAM_VS_SGD_GOAL,
    CASES,
    COLD_FIRST_FIT_GOAL,
    GRID_GOAL,
    IMPORT_OVERHEAD_GOAL,
    LATENCY_GOAL_CASES,
    PARTIAL_FIT_GOAL,
    PARTIAL_FIT_ROWS,
    PREDICT_ONE_ROW_GOAL,
    SEARCH_FRESH_GOAL,
    SEARCH_MEMORY_GOAL,
    SEARCH_PEAK_GOAL,
    SEARCH_VS_FASTBP_GOALS,
    SEARCH_VS_SKLEARN_GOAL,
    THREADS_NOT_SLOWER_GOAL,
    THREADS_SCALING_CASES,
    THREADS_SCALING_GOAL,
    WARM_FIRST_FIT_GOAL,
    WHOLE_FIT_GOALS,
    WIDE_PEAK_GOAL,
    XOR_GOAL,
)
from _runners import stats

DISTURBED_SPREAD = 1.5  # max/min throughput over the rounds that flags a row
SLOWEST_KERNELS = 15
LIBS = ("fastbp", "sklearn")
FORMAT = 2  # of results.json; 1: before whole fits, XOR and per-kernel compile times
NOT_MEASURED = "Not measured in this run."


# ------------------------------------------------------------------- derive
def derive(results):
    """Add fractions of peak, thread scaling and adam/sgd ratios, the goals."""
    if results.get("format", 1) != FORMAT:
        raise SystemExit(
            f"results.json of format {results.get('format', 1)}, not "
            f"{FORMAT}: written by an older bench/run.py; run it again"
        )
    tp = results.get("throughput")
    if tp:
        index = {}
        for c in tp["configs"]:
            peak = results["gemm"]["peak"][c["dtype"]]
            peak = peak.get(c["threads"], peak.get(str(c["threads"])))["gflops"]
            c["gemm_peak_gflops"] = peak
            for lib in c["libs"].values():
                lib["gflops"] = lib["median"] * c["flops_per_sample"] / 1e9
                lib["peak_fraction"] = lib["gflops"] / peak
            index[(c["case"], c["dtype"], c["solver"], c["threads"])] = c
        lo, hi = min(results["thread_counts"]), max(results["thread_counts"])
        results["thread_scaling"], results["adam_vs_sgd"] = [], []
        for (case, dtype, solver, n_threads), c in index.items():
            pairs = []
            if n_threads == hi != lo:
                base = index[(case, dtype, solver, lo)]
                pairs.append(("thread_scaling", base, f"{case} {solver} {dtype}"))
            if solver == "adam":
                base = index[(case, dtype, "sgd", n_threads)]
                pairs.append(("adam_vs_sgd", base, f"{case} {dtype} {n_threads}T"))
            for key, base, label in pairs:
                row = {"case": case, "label": label}
                for lib, r in c["libs"].items():
                    row[lib] = stats(np.divide(r["runs"], base["libs"][lib]["runs"]))
                results[key].append(row)
    derive_search(results)
    results["goals"] = goals(results)


def _gemm_peak(results, dtype, n_threads):
    peak = results["gemm"]["peak"][dtype]
    return peak.get(n_threads, peak.get(str(n_threads)))["gflops"]


def derive_search(results):
    """Per search case: the fused pass's GFLOP/s and fraction of the float64
    GEMM peak, ratios to it paired per round, fresh-process and memory ratios."""
    for case in (results.get("search") or {}).get("cases", []):
        if "error" in case:
            continue
        runs = {k: np.asarray(v, dtype=float) for k, v in case["runs"].items()}
        fused = runs["fused"]
        d = case["derived"] = {"seconds": {k: stats(v) for k, v in runs.items()}}
        d["gemm_peak_gflops"] = peak = _gemm_peak(results, "float64", case["threads"])
        gflops = case["work"]["flops"] / fused / 1e9
        d["gflops"], d["peak_fraction"] = stats(gflops), stats(gflops / peak)
        d["over_fused"] = {k: stats(v / fused) for k, v in runs.items() if k != "fused"}
        for lib in ("fastbp", "sklearn"):
            one, two = runs[f"{lib}_1"], runs[f"{lib}_2"]
            d[f"{lib}_best_n_jobs"] = np.where(two < one, 2, 1).tolist()
            d[f"vs_{lib}"] = stats(np.minimum(one, two) / fused)
        d["same_best_params"] = all(map(all, case["same_best_params"].values()))
        d["same_mean_test_score"] = all(map(all, case["same_mean_test_score"].values()))
        fresh = case.get("fresh") or {}
        if fresh and not any("error" in r for v in fresh.values() for r in v):
            seconds = {k: [r["seconds"] for r in v] for k, v in fresh.items()}
            d["fresh"] = {k: stats(v) for k, v in seconds.items()}
            ratio = np.divide(seconds["sklearn_2"], seconds["fused"])
            d["fresh"]["sklearn_over_fused"] = stats(ratio)
        memory = case.get("memory") or {}
        total = {k: m.get("total_bytes") for k, m in memory.items()}
        d["memory_over_n_jobs_2"] = {
            lib: total["fused"] / total[f"{lib}_2"]
            for lib in ("fastbp", "sklearn")
            if total.get("fused") and total.get(f"{lib}_2")
        }


def _goal(text, rows, goal, fmt="{:.2f}x", lower=False, noise=0, strict=False):
    """Goal record over rows [(configuration, value)]: met only if every
    configuration meets it (``lower``: at most ``goal``; ``strict``: below
    or above it), with the worst value and where; ``noise`` misses are within
    noise (reported, still missed)."""
    if not rows:
        return {"goal": text, "met": None}
    values = np.array([v for _, v in rows], dtype=float)
    if strict:
        met = values < goal if lower else values > goal
    else:
        met = values <= goal if lower else values >= goal
    worst = int(np.argmax(values) if lower else np.argmin(values))
    return {
        "goal": text,
        "met": bool(met.all()),
        "configs_met": f"{met.sum()}/{len(rows)}"
        + (f" (+{noise} within noise)" if noise else ""),
        "worst": fmt.format(values[worst]),
        "worst_config": rows[worst][0],
        "median_over_configs": fmt.format(float(np.median(values))),
    }


def goals(results):
    out = []
    add = out.append
    configs = (results.get("throughput") or {}).get("configs", [])
    for case in CASES:
        labelled = [
            (f"{c['solver']} {c['dtype']} {c['threads']}T", c)
            for c in configs
            if c["case"] == case.name
        ]
        rows = [(k, c["speedup_vs_sklearn"]["median"]) for k, c in labelled]
        text = f"{case.name} ({case.shape_text}, batch {case.batch_size}) throughput"
        add(_goal(f"{text}: fastbp >= {case.goal:g}x scikit-learn", rows, case.goal))
        if case.name == "wide":
            rows = [(k, c["libs"]["fastbp"]["peak_fraction"]) for k, c in labelled]
            text = f"wide: fastbp >= {WIDE_PEAK_GOAL:.0%} of GEMM peak (dtype, threads)"
            add(_goal(text, rows, WIDE_PEAK_GOAL, fmt="{:.0%}"))
    rows = [(r["label"], r["fastbp"]["median"]) for r in results.get("adam_vs_sgd", [])]
    add(_goal(f"fastbp adam >= {ADAM_VS_SGD_GOAL:g}x sgd", rows, ADAM_VS_SGD_GOAL))
    scaling = results.get("thread_scaling", [])
    rows = [(r["label"], r["fastbp"]["median"]) for r in scaling]
    noise = sum(r["fastbp"]["median"] < 1 <= r["fastbp"]["max"] for r in scaling)
    text = "fastbp 2 threads never slower than 1 (every case)"
    add(_goal(text, rows, THREADS_NOT_SLOWER_GOAL, noise=noise))
    rows = [r for r in rows if r[0].split()[0] in THREADS_SCALING_CASES]
    text = f"fastbp 2 threads >= {THREADS_SCALING_GOAL:g}x 1 thread, medium and wide"
    add(_goal(text, rows, THREADS_SCALING_GOAL))

    whole = (results.get("whole_fit") or {}).get("rows", [])
    for name, goal in WHOLE_FIT_GOALS.items():
        rows = [
            (f"{r['n_samples']:,} rows", r["speedup"]["median"])
            for r in whole
            if r["case"] == name and r["epochs"] == 3
        ]
        text = f"{name}: whole 3-epoch fit, 1 thread: fastbp >= {goal:g}x scikit-learn"
        add(_goal(text, rows, goal))
    xor = results.get("xor")
    rows = [(f"{len(xor['seeds'])} seeds", xor["speedup"]["median"])] if xor else []
    text = f"XOR 2-3-1, whole fit: fastbp >= {XOR_GOAL:g}x scikit-learn"
    add(_goal(text, rows, XOR_GOAL, fmt="{:.0f}x"))
    rows = []
    if xor:
        f, s = (sum(xor["solved"][lib]) for lib in ("fastbp", "sklearn"))
        rows = [(f"solved: fastbp {f}, sklearn {s} of {len(xor['seeds'])}", abs(f - s))]
    text = "XOR: fastbp solves as many seeds as scikit-learn (difference 0)"
    add(_goal(text, rows, 0, fmt="{:.0f}", lower=True))

    lat = results.get("latency", [])
    calls = [("partial_fit", f"partial_fit on {PARTIAL_FIT_ROWS} rows")]
    goals = (PARTIAL_FIT_GOAL, PREDICT_ONE_ROW_GOAL)
    for (key, call), goal in zip(
        [*calls, ("1", "one-row predict")], goals, strict=True
    ):
        rows = [
            (r["case"], r["sklearn"][key]["median"] / r["fastbp"][key]["median"])
            for r in lat
            if r["case"] in LATENCY_GOAL_CASES
        ]
        on = " and ".join(LATENCY_GOAL_CASES)
        add(_goal(f"{call}: fastbp >= {goal:g}x scikit-learn on {on}", rows, goal))
    rows = [
        (r["case"], r["torch"]["1"]["median"] / r["fastbp"]["1"]["median"])
        for r in lat
        if "torch" in r
    ]
    add(_goal("one-row predict: fastbp ahead of PyTorch on every case", rows, 1.0))

    grid = results.get("grid_search") or {}
    rows = (
        [("n_jobs=2", _grid_ratio(grid, "first")["median"])] if "runs" in grid else []
    )
    text = f"GridSearchCV first call, fresh process: fastbp >= {GRID_GOAL:g}x sklearn"
    add(_goal(text, rows, GRID_GOAL))
    out += search_goals(results)

    comp = results.get("compile") or {}
    for name, goal in {
        "cold": COLD_FIRST_FIT_GOAL,
        "warm": WARM_FIRST_FIT_GOAL,
    }.items():
        r = comp.get(name, {})
        rows = [(f"{name} process", r["first_fit_s"])] if "first_fit_s" in r else []
        text = f"first fit in a {name} process (imports excluded) <= {goal:g} s"
        add(_goal(text, rows, goal, fmt="{:.2f} s", lower=True))
    rows = (
        [("paired processes", _overhead(comp)["median"])] if "imports" in comp else []
    )
    text = f"import fastbp <= {IMPORT_OVERHEAD_GOAL:g} s more than sklearn's MLP"
    add(_goal(text, rows, IMPORT_OVERHEAD_GOAL, fmt="{:+.2f} s", lower=True))
    return out


def search_goals(results):
    """The fused CV search's goals (derive_search's figures)."""
    cases = [
        c for c in (results.get("search") or {}).get("cases", []) if "derived" in c
    ]
    out = []
    rows = [(c["name"], c["derived"]["peak_fraction"]["median"]) for c in cases]
    text = (
        f"MLPClassifierCV >= {SEARCH_PEAK_GOAL:.0%} of the float64 GEMM peak at its "
        "thread count, every search case"
    )
    out.append(_goal(text, rows, SEARCH_PEAK_GOAL, fmt="{:.0%}"))
    for goal in sorted(set(SEARCH_VS_FASTBP_GOALS.values()), reverse=True):
        names = [n for n, g in SEARCH_VS_FASTBP_GOALS.items() if g == goal]
        rows = [
            (c["name"], c["derived"]["vs_fastbp"]["median"])
            for c in cases
            if c["name"] in names
        ]
        text = (
            f"MLPClassifierCV >= {goal:g}x GridSearchCV(fastbp.MLPClassifier) at "
            f"its best n_jobs: {' and '.join(names)}"
        )
        out.append(_goal(text, rows, goal))
    rows = [(c["name"], c["derived"]["vs_sklearn"]["median"]) for c in cases]
    text = (
        f"MLPClassifierCV >= {SEARCH_VS_SKLEARN_GOAL:g}x GridSearchCV(scikit-learn) "
        "at its best n_jobs (warm workers), every search case"
    )
    out.append(_goal(text, rows, SEARCH_VS_SKLEARN_GOAL))
    rows = [
        (c["name"], c["derived"]["fresh"]["sklearn_over_fused"]["median"])
        for c in cases
        if "fresh" in c["derived"]
    ]
    text = (
        f"MLPClassifierCV >= {SEARCH_FRESH_GOAL:g}x scikit-learn's GridSearchCV"
        "(n_jobs=2), first call of a fresh process"
    )
    out.append(_goal(text, rows, SEARCH_FRESH_GOAL))
    rows = [
        (f"{c['name']} vs {lib}", ratio)
        for c in cases
        for lib, ratio in c["derived"]["memory_over_n_jobs_2"].items()
    ]
    text = (
        "MLPClassifierCV peak memory lower than GridSearchCV(n_jobs=2)'s "
        f"(ratio < {SEARCH_MEMORY_GOAL:g}), fastbp's and scikit-learn's"
    )
    out.append(
        _goal(text, rows, SEARCH_MEMORY_GOAL, lower=True, strict=True, fmt="{:.2f}x")
    )
    return out


def _grid_ratio(grid, call):
    runs = grid["runs"]
    return stats([s[call] / f[call] for f, s in zip(*runs.values(), strict=True)])


def _overhead(comp):
    return stats(np.subtract(comp["imports"]["fastbp"], comp["imports"]["sklearn"]))


# ------------------------------------------------------------------ markdown
def _table(head, align, rows):
    """Markdown table: head 'a | b', align one 'l' or 'r' per column, rows
    either lists of cells or strings of cells joined by ' | '."""
    rule = "|".join("---:" if a == "r" else "---" for a in align)
    rows = [r if isinstance(r, str) else " | ".join(map(str, r)) for r in rows]
    return "\n".join([f"| {head} |", f"|{rule}|", *(f"| {r} |" for r in rows)])


def _rate(x):
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.1f}k"


def _x(v):
    return f"{v:.2f}x"


def _s(v):
    if v < 1e-3:
        return f"{v * 1e6:,.0f} us"
    return f"{v * 1e3:,.2f} ms" if v < 1 else f"{v:.2f} s"


def _spread(d, fmt):
    if d["min"] == d["max"]:  # one run
        return fmt(d["median"])
    return f"{fmt(d['median'])} [{fmt(d['min'])}-{fmt(d['max'])}]"


def _yes(flag):
    return {True: "yes", False: "**no**", None: "n/a"}[flag]


def header(results):
    env, src = results["environment"], results["environment"]["fastbp_source"]
    load = ["/".join(f"{x:.2f}" for x in env[k]) for k in ("loadavg", "loadavg_end")]
    flags = ", ".join(env["cpu_simd_flags"][:6])
    dirty = " + uncommitted changes" if src["uncommitted"] else ""
    return (
        f"Generated {results['finished_at']} by `{results['command'].strip()}` "
        f"({results['mode']} mode) in {results['total_seconds'] / 60:.1f} min.  \n"
        f"fastbp {env['fastbp']} ({src['commit']}{dirty}, sources "
        f"{src['sources_sha256']}), numba {env['numba']} "
        f"({env['numba_threading_layer']} layer), numpy {env['numpy']}, scikit-learn "
        f"{env['sklearn']}, torch {env['torch']}, Python {env['python']}.  \n"
        f"CPU: {env['cpu_model']} x {env['cpu_count']} ({flags}, ...).  Load average "
        f"(1/5/15 min) at start {load[0]}, at end {load[1]}."
    )


def goals_section(results):
    goals = results["goals"]
    keys = ("configs_met", "worst", "worst_config", "median_over_configs")
    rows = [[g["goal"], _yes(g["met"]), *(g.get(k, "") for k in keys)] for g in goals]
    head = "goal | met | configs met | worst | worst configuration | median of configs"
    return _table(head, "llllll", rows)


def throughput_section(results):
    tp = results.get("throughput")
    if not tp:
        return NOT_MEASURED
    torch = "torch" in tp["libraries"]
    done = sorted({c["rounds"] for c in tp["configs"]})
    rounds = f"{done[0]}-{done[-1]} (time budget; up to {tp['rounds']})"
    rounds = str(tp["rounds"]) if done == [tp["rounds"]] else rounds
    sizes = {c["case"]: f"{c['case']} {c['n_samples']:,}" for c in tp["configs"]}
    rows = []
    for c in tp["configs"]:
        fb, sk = c["libs"]["fastbp"], c["libs"]["sklearn"]
        th = c["libs"].get("torch")
        flagged = [
            f"{lib} {r['max'] / r['min']:.1f}x"
            for lib, r in (("fastbp", fb), ("sklearn", sk))
            if r["max"] > DISTURBED_SPREAD * r["min"]
        ]
        rows.append(
            f"{c['case']} | {c['layers']} | {c['batch_size']} | {c['solver']} | "
            f"{c['dtype']} | {c['threads']} | {_spread(fb, _rate)} | "
            f"{_spread(sk, _rate)} | {_spread(th, _rate) if torch else 'n/a'} | "
            f"{_spread(c['speedup_vs_sklearn'], _x)} | "
            f"{_spread(c['speedup_vs_torch'], _x) if torch else 'n/a'} | "
            f"{fb['gflops']:.1f} ({fb['peak_fraction']:.0%}) | >= {c['goal']:g}x | "
            f"{_yes(c['speedup_vs_sklearn']['median'] >= c['goal'])} | "
            + ("yes: " + ", ".join(flagged) if flagged else "")
        )
    head = (
        "case | layers | batch | solver | dtype | threads | fastbp | scikit-learn | "
        "torch | fastbp / sklearn | fastbp / torch | fastbp GFLOP/s (% of peak) | "
        "goal | met | disturbed?"
    )
    return (
        f"Samples/s; medians [min-max] over {rounds} interleaved rounds, speed-ups "
        f"paired (same round). Training rows: {', '.join(sizes.values())}; epochs "
        "fixed per configuration (calibrated; in results.json), no early stop, "
        "shuffle on.\n\n"
        + _table(head, "llllllrrrrrrlll", rows)
        + "\n\ndisturbed?: the slowest and fastest rounds of fastbp or scikit-learn "
        f"differ by more than {DISTURBED_SPREAD:g}x (other processes slowed some "
        "rounds); read such a row's median with care."
    )


def _ratio_section(results, key, what):
    rows = results.get(key)
    if not rows:
        return NOT_MEASURED
    libs = ("fastbp", "sklearn", "torch")
    rows = [
        [r["label"], *(_spread(r[k], _x) if k in r else "n/a" for k in libs)]
        for r in rows
    ]
    table = _table("configuration | fastbp | scikit-learn | torch", "lrrr", rows)
    return f"{what}, paired per round.\n\n{table}"


def scaling_section(results):
    return _ratio_section(results, "thread_scaling", "2-thread / 1-thread throughput")


def adam_section(results):
    return _ratio_section(results, "adam_vs_sgd", "adam / sgd throughput")


def whole_fit_section(results):
    w = results.get("whole_fit")
    if not w:
        return NOT_MEASURED
    rows = []
    for r in w["rows"]:
        goal, ratio = r["goal"], r["speedup"]
        rows.append(
            f"{r['case']} | {r['layers']} | {r['batch_size']} | {r['n_samples']:,} | "
            f"{r['epochs']} | {_s(r['fastbp']['median'])} | "
            f"{_s(r['sklearn']['median'])} | {_spread(ratio, _x)} | "
            + (f">= {goal:g}x | {_yes(ratio['median'] >= goal)}" if goal else " | ")
        )
    head = "case | layers | batch | rows | epochs | fastbp | scikit-learn | "
    return (
        f"Whole `fit` calls (validation and initialisation included), {w['solver']}, "
        f"{w['dtype']}, {w['threads']} thread, max_iter = epochs, no early stop, "
        f"shuffle on; medians over {len(w['rows'][0]['speedup']['runs'])} "
        "alternating runs, speed-up paired.\n\n"
        + _table(head + "sklearn / fastbp | goal | met", "lllrrrrrll", rows)
    )


def xor_section(results):
    x = results.get("xor")
    if not x:
        return NOT_MEASURED
    n = len(x["seeds"])
    rows = [
        [lib, _spread(x[lib], _s), f"{sum(x['solved'][lib])}/{n}"]
        for lib in ("fastbp", "sklearn")
    ]
    return (
        "The 2-3-1 logistic network of examples/xor.py: 4 rows, full-batch SGD, "
        f"learning rate 0.5, no momentum or penalty, {x['epochs']} epochs, 1 thread; "
        f"one whole fit per seed ({x['seeds'][0]}-{x['seeds'][-1]}) and library.\n\n"
        + _table("library | seconds per fit | seeds solved (accuracy 1)", "lrr", rows)
        + f"\n\nSpeed-up (paired per seed): {_spread(x['speedup'], _x)}."
    )


def _kernel_totals(kernels):
    signatures = sum(k["signatures"] for k in kernels.values())
    seconds = sum(k["exclusive_s"] for k in kernels.values())
    return f"{len(kernels)} functions, {signatures} signatures, {seconds:.1f} s"


def compile_section(results):
    comp = results.get("compile")
    if not comp:
        return NOT_MEASURED
    rows = []
    for name in ("cold", "warm"):
        r = comp[name]
        if "error" in r:
            rows.append(f"{name} | failed: {r['error']} | | | | |")
            continue
        other = f"{r['other_dtype_s']:.2f} s" if "other_dtype_s" in r else ""
        rows.append(
            f"{name} | {r['import_s']:.2f} s | {r['first_fit_s']:.2f} s | "
            f"{r['second_fit_s']:.3f} s | {other} | "
            f"{sum(map(len, r['kernels'].values()))} | {r['process_wall_s']:.1f} s"
        )
    head = "process | import fastbp | first fit | second fit | other dtype (float32)"
    out = [
        (
            "Fresh processes; cold: empty NUMBA_CACHE_DIR, warm: the same directory "
            "after the cold run. First fit: `MLPClassifier(random_state=0)` (adam, "
            "(100,)), 5 epochs on digits X / 16, float64; then the same fit again; "
            'cold only, the other dtype: `fastbp.warmup(("float32",))`.'
        ),
        _table(head + " | functions compiled | whole process", "lrrrrrr", rows),
    ]
    if "imports" in comp:
        imp, diff = comp["imports"], _overhead(comp)
        out.append(
            f"Import-only fresh processes ({len(imp['fastbp'])} pairs): `import "
            f"fastbp` {_spread(stats(imp['fastbp']), _s)}, `import "
            f"sklearn.neural_network` {_spread(stats(imp['sklearn']), _s)}; paired "
            f"difference {_spread(diff, lambda v: f'{v:+.2f} s')}."
        )
    kernels = comp["cold"].get("kernels", {})
    first = kernels.get("first_fit", {})
    if first:
        out.append(
            f"The {SLOWEST_KERNELS} slowest functions compiled during the cold first "
            f"fit (of {_kernel_totals(first)} of exclusive compile time in all; "
            "exclusive = inclusive minus the compilations nested in it):"
        )
        slowest = sorted(first.items(), key=lambda kv: -kv[1]["exclusive_s"])
        rows = [
            f"`{name}` | {k['exclusive_s']:.2f} | {k['inclusive_s']:.2f} | "
            f"{k['signatures']}"
            for name, k in slowest[:SLOWEST_KERNELS]
        ]
        head = "function | exclusive s | inclusive s | signatures"
        out.append(_table(head, "lrrr", rows))
    if kernels.get("other_dtype"):
        out.append(f"The other dtype: {_kernel_totals(kernels['other_dtype'])}.")
    return "\n\n".join(out)


def latency_section(results):
    lat = results.get("latency")
    if not lat:
        return NOT_MEASURED
    rows = []
    for r in lat:
        for key, call in (
            ("1", "predict, 1 row"),
            ("10000", "predict, 10,000 rows"),
            ("partial_fit", f"partial_fit, {PARTIAL_FIT_ROWS} rows"),
        ):
            f, s = r["fastbp"][key]["median"], r["sklearn"][key]["median"]
            t = r.get("torch", {}).get(key, {}).get("median")
            torch = f"{_s(t)} | {_x(t / f)}" if t else "n/a | n/a"
            rows.append(
                f"{r['case']} | {r['layers']} | {call} | {_s(f)} | {_s(s)} | "
                f"{_x(s / f)} | {torch}"
            )
    head = "case | layers | call | fastbp | scikit-learn | sklearn / fastbp | torch"
    return (
        f"float64, {lat[0]['threads']} threads, median per call; adam models fitted "
        "for one epoch. Each library's input validation included (it dominates "
        "single calls); torch: the forward pass under `no_grad` plus the argmax or "
        "threshold.\n\n" + _table(head + " | torch / fastbp", "lllrrrrr", rows)
    )


def grid_section(results):
    g = results.get("grid_search")
    if not g or "error" in g:
        return f"Failed: {g['error']}" if g else NOT_MEASURED
    calls = [c["name"] for c in g["calls"]]
    rows = []
    for lib, runs in g["runs"].items():
        cells = [_spread(stats([r[c] for r in runs]), _s) for c in calls]
        best = runs[-1]["best_learning_rate_init"], runs[-1]["best_cv_accuracy"]
        rows.append([lib, *cells, f"{best[0]:g}", f"{best[1]:.4f}"])
    ratios = [_spread(_grid_ratio(g, c), _x) for c in calls]
    rows.append(["sklearn / fastbp (paired)", *ratios, "", ""])
    head = "library | first call, n_jobs=2 | second call, n_jobs=2 | n_jobs=1"
    return (
        f"`GridSearchCV({g['estimator']}, {{'learning_rate_init': "
        f"{g['learning_rates']}}}, cv={g['cv']})` on {g['dataset']}, refit included, "
        "in one fresh process per library (fastbp's kernel cache warm): the first "
        "`fit` with n_jobs=2 (new worker processes), a second one (the same workers), "
        f"one with n_jobs=1; {len(g['runs']['fastbp'])} process(es) per library, "
        "alternating. `fastbp.warmup()` in a fresh process just before: "
        f"{_s(g['warmup_before_s']) if g.get('warmup_before_s') else 'failed'}.\n\n"
        + _table(head + " | best learning_rate_init | best CV accuracy", "lrrrrr", rows)
    )


SEARCH_CONFIGS = {  # results.json key: column heading
    "fused": "MLPClassifierCV",
    "fastbp_1": "GridSearchCV(fastbp), n_jobs=1",
    "fastbp_2": "GridSearchCV(fastbp), n_jobs=2",
    "sklearn_1": "GridSearchCV(sklearn), n_jobs=1",
    "sklearn_2": "GridSearchCV(sklearn), n_jobs=2",
}


def _search_shape(c):
    """'64-64-10, batch 200, 5 candidates x 3 folds, max_iter 100'."""
    p = c["params"]
    n_out = c["n_classes"] if c["n_classes"] > 2 else 1
    layers = "-".join(map(str, [c["n_features"], *p["hidden_layer_sizes"], n_out]))
    batch = p.get("batch_size", "auto")
    batch = f"auto ({min(200, c['n_samples'])})" if batch == "auto" else batch
    return (
        f"{c['n_samples']:,} rows, {layers}, batch {batch}, {c['n_candidates']} "
        f"candidates x {c['cv']} folds, max_iter {p['max_iter']}"
    )


def _mem(m):
    """A memory cell: total MiB, and for n_jobs=2 'parent + workers'."""
    if not m or "error" in m:
        return f"failed: {m['error']}" if m else "n/a"
    if m.get("total_bytes") is None:
        return "n/a"

    def mib(v):
        return f"{v / 2**20:.0f}"

    total = f"{mib(m['total_bytes'])} MiB"
    workers = [d for d in m["descendants"] if d["kind"] == "worker"]
    if not workers:
        return total
    return (
        f"{total} ({mib(m['peak_growth_bytes'])} + {len(workers)} workers "
        f"{' + '.join(mib(d.get('VmHWM', 0)) for d in workers)})"
    )


def _same_answer(c):
    d = c["derived"]
    if d["same_best_params"]:
        scores = "equal" if d["same_mean_test_score"] else "**differ**"
        return f"yes (mean_test_score {scores})"
    return "**no**"


def search_section(results):
    s = results.get("search")
    if not s:
        return NOT_MEASURED
    cases = s["cases"]
    ok = [c for c in cases if "derived" in c]
    n_repeats = len(ok[0]["runs"]["fused"]) if ok else 0
    warm_rows = max((c["warm_rows"] for c in ok), default=0)
    methods = {
        m.get("peak_method")
        for c in ok
        for m in c.get("memory", {}).values()
        if "peak_method" in m
    }
    rows, mem_rows, best = [], [], []
    for c in cases:
        if "derived" not in c:
            rows.append(f"{c['name']} | failed: {c.get('error', '?')} |" + " |" * 9)
            continue
        d = c["derived"]
        cells = [_spread(d["seconds"][k], _s) for k in SEARCH_CONFIGS]
        rows.append(
            [
                c["name"],
                _search_shape(c),
                *cells,
                (
                    f"{_spread(d['gflops'], lambda v: f'{v:.1f}')} "
                    f"({d['peak_fraction']['median']:.0%})"
                ),
                _spread(d["vs_fastbp"], _x),
                _spread(d["vs_sklearn"], _x),
                _same_answer(c),
            ]
        )
        mem = c.get("memory", {})
        ratios = d["memory_over_n_jobs_2"]
        mem_rows.append(
            [
                c["name"],
                *(_mem(mem.get(k)) for k in SEARCH_CONFIGS),
                *(_x(ratios[lib]) if lib in ratios else "n/a" for lib in LIBS),
            ]
        )
        a = c["answers"]
        best.append(
            f"{c['name']}: MLPClassifierCV {a['fused']['best_params']} (CV accuracy "
            f"{a['fused']['best_score']:.4f}), scikit-learn "
            f"{a['sklearn_1']['best_params']} ({a['sklearn_1']['best_score']:.4f})"
        )
    head = " | ".join(
        [
            "case | search",
            *SEARCH_CONFIGS.values(),
            "MLPClassifierCV GFLOP/s (% of peak)",
            "vs GridSearchCV(fastbp), best n_jobs",
            "vs GridSearchCV(sklearn), best n_jobs",
            "same best_params_ as GridSearchCV(fastbp)",
        ]
    )
    out = [
        (
            "`fastbp.MLPClassifierCV(**params, <grid as lists>, cv=k)` (every "
            "(candidate, split) model trained together in one fused pass, models in "
            "parallel, each on one thread) against `GridSearchCV(MLPClassifier("
            "**params), grid, cv=k, n_jobs=1 or 2)` of fastbp and of scikit-learn. "
            "refit=True everywhere; whole `fit` calls, validation, scoring and refit "
            "included. digits: X / 16, (64,), default adam and tol; tabular: "
            "teacher-network data (`_cases.make_data`, standard normal features), "
            "(64, 64), tol=0 and no early stop, so every model runs max_iter epochs. "
            "In the benchmark process, after `fastbp.warmup()` and one untimed call of "
            f"every configuration (max_iter=1 on the first {warm_rows:,} rows, so "
            "loky's two "
            "workers exist and have loaded fastbp's kernels); each library's default "
            "threads (joblib gives each worker cpu_count / n_jobs threads). Medians "
            f"[min-max] over {n_repeats} round(s), the order reversed every other "
            "round; ratios paired per round, against the faster n_jobs of that round. "
            "GFLOP/s: 6 x sum(fan_in x fan_out) x training rows x epochs summed over "
            "every model (n_iter_ per candidate and split, plus the refit's epochs x "
            "all rows) / MLPClassifierCV's seconds; % of the float64 GEMM peak at its "
            "thread count."
        ),
        _table(head, "ll" + "r" * 8 + "l", rows),
        "Best candidate (the last round): " + "; ".join(best) + ".",
        (
            "Peak memory, one fresh process per configuration and case (fastbp's "
            "kernels loaded by `fastbp.warmup()` before the call, data made before "
            "it): the process's peak RSS growth during the `fit` call (VmHWM, reset "
            "with /proc/self/clear_refs just before, minus VmRSS before), plus, for "
            "n_jobs=2, the peak RSS (VmHWM) of each of the loky workers, whole "
            "processes (interpreter, imports and kernels included), read right after "
            "the call. loky's and multiprocessing's resource-tracker processes are "
            "not counted (results.json lists them). MiB; n_jobs=2: total (parent "
            "growth + each worker)."
            + (
                ""
                if methods <= {"VmHWM, reset before the call"}
                else f" Peak methods used: {', '.join(sorted(methods))}."
            )
        ),
        _table(
            "case | "
            + " | ".join(SEARCH_CONFIGS.values())
            + " | MLPClassifierCV / GridSearchCV(fastbp, n_jobs=2) | "
            "MLPClassifierCV / GridSearchCV(sklearn, n_jobs=2)",
            "l" + "r" * 7,
            mem_rows,
        ),
    ]
    fresh_rows = []
    for c in ok:
        f = c["derived"].get("fresh")
        if f:
            fresh_rows.append(
                [
                    c["name"],
                    _spread(f["fused"], _s),
                    _spread(f["sklearn_2"], _s),
                    _spread(f["sklearn_over_fused"], _x),
                    _mem(c["fresh"]["fused"][-1]),
                    _mem(c["fresh"]["sklearn_2"][-1]),
                ]
            )
        elif c.get("fresh"):
            fresh_rows.append([c["name"], "failed", "", "", "", ""])
    if fresh_rows:
        warm = s.get("warmup_before_s")
        out.append(
            "First call of a fresh process (imports and data excluded; fastbp's "
            "kernel cache filled by `fastbp.warmup()` in a fresh process just "
            f"before: {_s(warm) if warm else 'failed'}, and loaded by the call "
            "itself; scikit-learn's call starts its two loky workers), "
            f"{n_repeats} pair(s) of processes, alternating; peak memory as above "
            "(the last pair; fastbp's kernel loading included):"
        )
        head = (
            "case | MLPClassifierCV | GridSearchCV(sklearn), n_jobs=2 | sklearn / "
            "fastbp (paired) | MLPClassifierCV memory | GridSearchCV(sklearn) memory"
        )
        out.append(_table(head, "lrrrrr", fresh_rows))
    if "seconds" in s:
        out.append(f"Stage time: {s['seconds'] / 60:.1f} min.")
    return "\n\n".join(out)


def gemm_section(results):
    gm = results["gemm"]
    rows = [
        [d, t, f"{r['gflops']:.1f}"]
        for d, p in gm["peak"].items()
        for t, r in p.items()
    ]
    return (
        f"numpy matmul, {gm['n']}x{gm['n']}, best of {gm['repeats']} at the start and "
        "at the end of the run. Fraction of peak = samples/s x 6 x "
        "sum(fan_in x fan_out) / the peak of the same dtype and thread count.\n\n"
        + _table("dtype | threads | GFLOP/s", "lrr", rows)
    )


def launch_section(results):
    import bench_launch

    return bench_launch.markdown(results["launch"])


def environment_section(results):
    env = results["environment"]
    skip = (
        "threadpool_info",
        "cpu_simd_flags",
        "loadavg",
        "loadavg_end",
        "blas_kernels_below_cpu",
    )
    rows = [[k, v] for k, v in env.items() if k not in skip]
    rows.append(["thread counts benchmarked", results["thread_counts"]])
    for p in env["threadpool_info"]:
        pool = f"{p.get('internal_api')} {p.get('version')}"
        if p.get("architecture"):
            pool += f" ({p['architecture']} kernels)"
        threads = f"{p.get('num_threads')} threads"
        rows.append([f"threadpool: {p.get('user_api')}", f"{pool}, {threads}"])
    rows.extend(
        ["BLAS below the CPU", f"{library}: no AVX-512 kernels on an AVX-512 CPU"]
        for library in env.get("blas_kernels_below_cpu", [])
    )
    return _table("item | value", "ll", rows)


SECTIONS = {  # title: renderer
    "Goals": goals_section,
    "Training throughput": throughput_section,
    "Thread scaling": scaling_section,
    "Adam / SGD throughput": adam_section,
    "Whole fit calls": whole_fit_section,
    "XOR": xor_section,
    "Compile time": compile_section,
    "Predict and partial_fit latency": latency_section,
    "GridSearchCV in fresh processes": grid_section,
    "Fused CV search (MLPClassifierCV)": search_section,
    "GEMM peak": gemm_section,
    "Parallel launch overhead (bench/bench_launch.py)": launch_section,
    "Environment": environment_section,
}


def markdown(results, titles=None, level=2):
    """results.md, or only the sections ``titles`` with headings at ``level``."""
    parts = ["# fastbp benchmark results", header(results)] if titles is None else []
    for title in titles or SECTIONS:
        parts += ["#" * level + " " + title, SECTIONS[title](results)]
    return "\n\n".join(parts) + "\n"


def print_goals(results, progress):
    """One line per measured goal."""
    for g in (g for g in results["goals"] if g["met"] is not None):
        worst = f"; worst {g['worst']} ({g['worst_config']})" if "worst" in g else ""
        progress(f"goal met: {_yes(g['met']):6} {g['goal']}{worst}")


# ---------------------------------------------------------------------- png
def plot(results, path):
    """Throughput speed-up over scikit-learn per case, one panel per thread
    count: bars (solver, dtype) medians, whiskers quartiles, dashes goals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = results["throughput"]["configs"]
    cases = list(dict.fromkeys(c["case"] for c in configs))
    series = list(dict.fromkeys((c["solver"], c["dtype"]) for c in configs))
    index = {(c["case"], c["solver"], c["dtype"], c["threads"]): c for c in configs}
    counts, x, width = (
        results["thread_counts"],
        np.arange(len(cases)),
        0.8 / len(series),
    )
    fig, axes = plt.subplots(
        1, len(counts), figsize=(7 * len(counts), 5.5), sharey=True, squeeze=False
    )
    axes = axes[0]
    for ax, n in zip(axes, counts, strict=True):
        for i, key in enumerate(series):
            sp = [index[(case, *key, n)]["speedup_vs_sklearn"] for case in cases]
            med = np.array([d["median"] for d in sp])
            err = [med - [d["q1"] for d in sp], [d["q3"] for d in sp] - med]
            pos = x - 0.4 + width * (i + 0.5)
            ax.bar(pos, med, width, yerr=err, capsize=2, label=" ".join(key))
        goal = [next(c["goal"] for c in configs if c["case"] == case) for case in cases]
        ax.hlines(goal, x - 0.45, x + 0.45, colors="k", linestyles="--", label="goal")
        ax.axhline(1.0, color="grey", linewidth=0.8)
        ax.set(yscale="log", title=f"{n} thread(s)", xticks=x)
        layers = [index[(case, *series[0], n)]["layers"] for case in cases]
        ax.set_xticklabels(
            [f"{c}\n{s}" for c, s in zip(cases, layers, strict=True)], fontsize=8
        )
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_ylabel("throughput, fastbp / scikit-learn (log scale)")
    axes[0].legend(fontsize=8)
    fig.suptitle(
        "fastbp speed-up over scikit-learn (paired medians; whiskers: "
        "interquartile range; dashed: goal)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -------------------------------------------------------------------- write
def write_outputs(results, out_dir, progress):
    paths = [os.path.join(out_dir, name) for name in ("results.json", "results.md")]
    with open(paths[0], "w") as fh:
        json.dump(results, fh, indent=1, default=lambda v: v.item())  # numpy scalars
    with open(paths[1], "w") as fh:
        fh.write(markdown(results))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        progress("matplotlib is not installed: speedup.png skipped")
        return paths
    if results.get("throughput"):
        paths.append(os.path.join(out_dir, "speedup.png"))
        plot(results, paths[-1])
    return paths
