"""Copy the figures of a benchmark run into README.md's Performance section.

    python bench/readme_section.py [bench/results/results.md]

Rewrites the text between the ``<!-- bench:begin -->`` and
``<!-- bench:end -->`` markers of README.md from results.md: the run header,
a speed-up table (one column per listed configuration), the goals table,
compile times, predict / partial_fit latency and the GridSearchCV comparison.  Nothing is measured here, so
every figure in the README traces back to one ``bench/run.py`` run.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, os.pardir, "README.md")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
# (solver, dtype, threads) shown as speed-up columns.
COLUMNS = (
    ("sgd", "float64", "1"),
    ("sgd", "float64", "2"),
    ("adam", "float64", "1"),
    ("sgd", "float32", "1"),
    ("adam", "float32", "2"),
)


def sections(markdown):
    """{title: body} for every '## title' section of results.md."""
    found, title = {}, None
    for line in markdown.splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            found[title] = []
        elif title is not None:
            found[title].append(line)
    return {t: "\n".join(body).strip() for t, body in found.items()}


def section(found, prefix):
    return next(body for title, body in found.items() if title.startswith(prefix))


def paragraphs(text):
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def table_rows(text):
    """Data rows of the first markdown table in text, as lists of cells."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    ]


def speedup_table(throughput):
    rows = table_rows(throughput)
    header, data = rows[0], rows[1:]
    ratio_col = header.index("fastbp / sklearn")
    cases, ratios = [], {}
    for cells in data:
        case = tuple(cells[:3])  # case, layers, batch
        if case not in ratios:
            cases.append(case)
            ratios[case] = {}
        ratios[case][tuple(cells[3:6])] = cells[ratio_col].split(" ")[0]
    lines = [
        "| case | layers | batch | "
        + " | ".join(f"{s} {d} {t}T" for s, d, t in COLUMNS)
        + " |",
        "|---|---|---:|" + "---:|" * len(COLUMNS),
    ]
    for case in cases:
        values = (ratios[case].get(column, "n/a") for column in COLUMNS)
        lines.append("| " + " | ".join(case) + " | " + " | ".join(values) + " |")
    return "\n".join(lines)


def render(results_md):
    header = "\n".join(results_md.splitlines()[2:5])
    found = sections(results_md)
    compile_time = paragraphs(section(found, "Compile time"))
    grid = paragraphs(section(found, "GridSearchCV"))
    latency_title = next(t for t in found if t.startswith("Predict and partial_fit"))
    latency = paragraphs(found[latency_title])
    parts = [
        header,
        (
            "Speed-up of fastbp over scikit-learn (training throughput, paired "
            "medians of the interleaved rounds):"
        ),
        speedup_table(section(found, "Training throughput")),
        "![speed-up per case](bench/results/speedup.png)",
        "The team's goals, judged over every solver x dtype x thread configuration:",
        section(found, "Goals"),
        "Compile time (" + compile_time[0] + "):",
        next(p for p in compile_time if p.startswith("| process")),
        "Latency of single calls ("
        + latency_title.split("(", 1)[1]
        + ": "
        + latency[0],
        next(p for p in latency if p.startswith("| case")),
        "GridSearchCV end to end: " + grid[0],
        next(p for p in grid if p.startswith("| library")),
        next(p for p in grid if p.startswith("Speed-up")),
    ]
    return "\n\n".join(parts)


def main(argv):
    results_path = (
        argv[1] if len(argv) > 1 else os.path.join(HERE, "results", "results.md")
    )
    with open(results_path, encoding="utf-8") as f:
        block = render(f.read())
    with open(README, encoding="utf-8") as f:
        readme = f.read()
    start, stop = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    with open(README, "w", encoding="utf-8") as f:
        f.write(readme[:start] + "\n" + block + "\n" + readme[stop:])
    print(f"README.md: Performance figures copied from {results_path}")


if __name__ == "__main__":
    main(sys.argv)
