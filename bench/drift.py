"""A drift report over 100,000 logged rows x 100 features against its reference.

    .venv/bin/python bench/drift.py [--rows 100000] [--features 100] [--shifted 5]

Training rows (20,000; 90 numeric features and 10 categorical ones) give the reference
(workers.data.reference.reference_stats, as a job stores it). The window is drawn from
the same distributions, with `--shifted` numeric features moved by half a standard
deviation. Three stages are timed:

  engine:   workers.monitoring.drift_report on the window as a NumPy array;
  from log: the service's path without the database: the window as the JSON the
            prediction log holds (requests of 100 rows), decoded and stacked, then the
            report;
and the memory peak of each (tracemalloc: Python and NumPy allocations).

Nothing is sampled: every row is binned, so PSI, chi-square and Jensen-Shannon are exact
for the reference's bins; KS and Wasserstein are exact at the reference's decile edges
(the reference keeps no rows; see workers/monitoring/tests.py). The target (TARGETS.md)
is under 30 s.
"""

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.data.reference import reference_stats  # noqa: E402
from workers.monitoring import drift_report  # noqa: E402

TARGET_S = 30.0


def make_data(rows: int, features: int, shifted: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_cat = max(1, features // 10)
    n_num = features - n_cat
    names = [f"num{i}" for i in range(n_num)] + [f"cat{i}" for i in range(n_cat)]
    categories = np.array([f"c{i}" for i in range(8)], dtype=object)
    p = np.linspace(1, 2, 8) / np.linspace(1, 2, 8).sum()

    def draw(n: int) -> np.ndarray:
        X = np.empty((n, features), dtype=object)
        X[:, :n_num] = rng.normal(size=(n, n_num))
        X[:, n_num:] = rng.choice(categories, size=(n, n_cat), p=p)
        return X

    train = draw(20_000)
    window = draw(rows)
    window[:, :shifted] = window[:, :shifted].astype(np.float64) + 0.5
    return names, train, window


def timed(fn):
    """Seconds of one run, then the memory peak of a second run under tracemalloc (which
    slows allocation-heavy code such as JSON decoding several times over)."""
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--shifted", type=int, default=5)
    args = parser.parse_args()
    names, train, window = make_data(args.rows, args.features, args.shifted)
    reference = reference_stats(train, names)
    logged = [json.dumps(window[i : i + 100].tolist()) for i in range(0, len(window), 100)]

    def from_log():
        rows = []
        for text in logged:
            rows.extend(json.loads(text))
        return drift_report(reference, np.array(rows, dtype=object), names)

    results = [
        ("engine", *timed(lambda: drift_report(reference, window, names))),
        ("from log", *timed(from_log)),
    ]
    print(
        f"{args.rows} rows x {args.features} features ({args.features // 10} categorical), "
        f"{args.shifted} numeric features shifted by 0.5 sd; reference from 20,000 rows\n"
    )
    print(f"{'stage':10} {'seconds':>8} {'peak MiB':>9} {'vs 30 s':>8} {'flagged':>8}")
    for stage, report, seconds, peak in results:
        flagged = len(report["drifted_features"])
        print(f"{stage:10} {seconds:8.2f} {peak:9.0f} {seconds / TARGET_S:8.3f} {flagged:8d}")
    report = results[0][1]
    expected = [f"num{i}" for i in range(args.shifted)]
    print(f"\nflagged = the shifted features exactly: {report['drifted_features'] == expected}")


if __name__ == "__main__":
    main()
