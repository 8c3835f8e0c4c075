"""Data path benchmark: upload check -> profile -> first HPO trial on generated CSVs.

For each size (10 MB, 100 MB, 1 GB by default) a churn-like CSV is generated (an ID, six
numbers with gaps, two categories, a date, a string target; ~77 bytes a row) and each
stage runs in a child process of its own, so that its peak resident memory (ru_maxrss)
is its own:

- bare read: pyarrow.csv.read_csv of the whole file (multi-threaded, types inferred):
  the limit the platform's reading is measured against;
- upload: what the web process does with a streamed file: sha256, then every row checked
  in batches with the target's summary in the same pass (check_rows);
- profile: what the worker task does: profile_batches, one pass;
- first trial: what an HPO worker does before its first trial ends: the whole table
  loaded as the engines' TabularData, the test rows held out, a stratified sample of
  `trial_rows` (default 100,000) and one random-forest trial on it.

Prints MB/s, seconds, the ratio to the bare read and peak memory per stage. Run:
    nice .venv/bin/python bench/data.py [--sizes 10,100,1000] [--skip-trial-above 100]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROW_BYTES = 77  # about, as generated below


def generate(path: Path, megabytes: int) -> None:
    """A churn-like CSV of about `megabytes` MB, written in chunks (flat memory)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pv

    rng = np.random.default_rng(0)
    rows_left, first, chunk = megabytes * 1_000_000 // ROW_BYTES, True, 200_000
    with pa.OSFile(str(path), "wb") as sink:
        start = 0
        while rows_left > 0:
            n = min(chunk, rows_left)
            tenure = rng.integers(1, 72, n)
            plan = rng.choice(np.array(["basic", "plus", "pro", "team"]), n)
            monthly = np.round(rng.normal(50, 15, n), 2)
            numbers = {f"usage_{k}": np.round(rng.gamma(2, 10, n), 3) for k in range(4)}
            churned = np.where((plan == "basic") ^ (tenure > 30), "yes", "no")
            noise = rng.random(n) < 0.1
            churned = np.where(noise, np.where(churned == "yes", "no", "yes"), churned)
            days = rng.integers(0, 1500, n).astype("timedelta64[D]") + np.datetime64("2021-01-01")
            table = pa.table(
                {
                    "customer_id": pa.array(np.arange(start, start + n)),
                    "tenure": tenure,
                    "plan": plan,
                    "region": rng.choice(np.array(["north", "south", "east", "west"]), n),
                    "signed_up": pa.array(days.astype(str)),
                    "monthly": pa.array(monthly, mask=rng.random(n) < 0.05),
                    **numbers,
                    "churned": churned,
                }
            )
            pv.write_csv(table, sink, pv.WriteOptions(include_header=first))
            first, start, rows_left = False, start + n, rows_left - n


def stage(name: str, path: Path) -> dict:
    """Run one stage here (in the child); returns what it measured besides memory."""
    from workers.data.profile import profile_batches
    from workers.data.tables import check_rows, iter_batches, table_layout
    from workers.data.uploads import target_spec

    started = time.perf_counter()
    if name == "bare read":
        import pyarrow.csv as pv

        rows = pv.read_csv(path).num_rows
        return {"seconds": time.perf_counter() - started, "rows": rows}
    if name == "upload":
        digest = hashlib.sha256()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    layout = table_layout(path, "csv", 2000)
    if name == "profile":
        profile_batches(iter_batches(path, layout), layout.columns, "churned", None)
        return {"seconds": time.perf_counter() - started, "rows": None}
    target_spec(check_rows(path, layout, layout.columns.index("churned")), "churned")
    if name == "first trial":
        from workers.data.preprocess import DEFAULTS
        from workers.data.uploads import load_table
        from workers.hpo.config import validate_hpo_config
        from workers.hpo.engine import run_hpo
        from workers.reporter import Reporter

        data, _ = load_table(path, layout, "churned", None, ["customer_id"])
        data.use_preprocessing(dict(DEFAULTS))
        config = validate_hpo_config(
            {"model": "random_forest", "n_trials": 1, "sampler": "random"}, "classification"
        )
        run_hpo(config, data, Reporter())
    return {"seconds": time.perf_counter() - started, "rows": layout.n_rows}


def measure(name: str, path: Path) -> dict:
    """One stage in a child process: its result and its peak resident memory."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--stage", name, "--file", str(path)],
        stdout=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    _, status, usage = os.wait4(child.pid, 0)
    out = child.stdout.read()
    if status != 0:
        raise SystemExit(f"stage {name!r} failed on {path}")
    return {**json.loads(out), "peak_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000", help="file sizes in MB")
    parser.add_argument(
        "--skip-trial-above",
        type=int,
        default=1000,
        help="MB above which the first-trial stage is skipped (it holds the whole table)",
    )
    parser.add_argument("--stage")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage(args.stage, Path(args.file))))
        return

    print(
        f"{'file':>8} {'stage':<12} {'rows':>10} {'seconds':>8} {'MB/s':>7} {'x bare':>7} "
        f"{'peak MB':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for megabytes in map(int, args.sizes.split(",")):
            path = Path(tmp) / f"churn-{megabytes}.csv"
            generate(path, megabytes)
            size = path.stat().st_size / 1e6
            names = ["bare read", "upload", "profile"]
            if megabytes <= args.skip_trial_above:
                names.append("first trial")
            bare = None
            for name in names:
                result = measure(name, path)
                bare = bare or result["seconds"]
                print(
                    f"{size:>6.0f}MB {name:<12} {result['rows'] or '':>10} "
                    f"{result['seconds']:>8.2f} "
                    f"{size / result['seconds']:>7.1f} {result['seconds'] / bare:>7.2f} "
                    f"{result['peak_mb']:>8.0f}",
                    flush=True,
                )
            path.unlink()


if __name__ == "__main__":
    main()
