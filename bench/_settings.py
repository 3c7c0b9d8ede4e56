"""The benchmark suite's settings (full and quick) and its progress lines,
shared by ``run.py`` and the stages that also run alone (``_search.py``)."""

import time

START = time.perf_counter()


def progress(message):
    elapsed = time.perf_counter() - START
    print(f"[{int(elapsed // 60):02d}:{elapsed % 60:04.1f}] {message}", flush=True)


SETTINGS = {  # name: (full, quick)
    "dtypes": (("float64", "float32"), ("float64",)),
    "rounds": (5, 2),  # throughput A/B rounds
    "min_rounds": (3, 2),  # ... when the time budget runs short
    "throughput_budget_seconds": (660, None),
    "target_seconds": (0.5, 0.12),  # per timed throughput fit
    "sample_scale": (1.0, 0.25),  # of each case's training rows
    "gemm_n": (2048, 1024),
    "gemm_repeats": (3, 2),
    "latency_seconds": (0.25, 0.04),  # per timed call type
    "whole_fit_repeats": (5, 2),
    "xor_seeds": (10, 4),
    "grid_processes": (3, 1),  # per library
    "search_repeats": (3, 1),  # fused CV search: timed rounds, fresh pairs
    "search_rows": (20_000, 5_000),  # of the tabular search case
    "search_epochs_b200": (3, 2),  # max_iter of the tabular case, batch 200
    "search_epochs_b32": (1, 1),  # ... batch 32
    "import_pairs": (5, 2),
}
