"""ASHA and Hyperband vs no pruning on the digits MLP: epochs trained and best accuracy.

    .venv/bin/python bench/hpo_pruning.py [--trials 30] [--epochs 20] [--seed 0]

Each pruner runs the same search (same sampler and seed) in this process; the table reports
how many epochs were trained in total, the best validation accuracy, and both as ratios
against no pruning. The target (TARGETS.md) is <= 1/3 of the epochs at equal accuracy.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.data.builtin import load_builtin  # noqa: E402
from workers.hpo.config import validate_hpo_config  # noqa: E402
from workers.hpo.engine import run_hpo  # noqa: E402
from workers.reporter import MemoryReporter  # noqa: E402

PRUNERS = ["none", "median", "successive_halving", "hyperband"]


def run(pruner: str, trials: int, epochs: int, seed: int) -> dict:
    data = load_builtin("digits")
    config = validate_hpo_config(
        {
            "model": "mlp",
            "n_trials": trials,
            "metric": "accuracy",
            "sampler": {"name": "tpe", "seed": seed},
            "pruner": {"name": pruner},
            "search_space": {
                "hidden_units": {"type": "int", "low": 16, "high": 128, "log": True},
                "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
                "epochs": {"type": "fixed", "value": epochs},
            },
        },
        data.task,
    )
    reporter = MemoryReporter()
    started = time.perf_counter()
    result = run_hpo(config, data, reporter)
    seconds = time.perf_counter() - started
    epochs_trained = sum(len(t["intermediate_values"]) for t in reporter.finished)
    return {
        "pruner": pruner,
        "best": result.best_value,
        "epochs": epochs_trained,
        "pruned": result.n_pruned,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rows = [run(p, args.trials, args.epochs, args.seed) for p in PRUNERS]
    base = rows[0]
    print(f"digits MLP, {args.trials} trials x {args.epochs} epochs, TPE seed {args.seed}\n")
    print(
        f"{'pruner':<20}{'epochs':>8}{'ratio':>8}{'pruned':>8}{'best acc':>10}"
        f"{'vs none':>9}{'seconds':>9}"
    )
    for r in rows:
        print(
            f"{r['pruner']:<20}{r['epochs']:>8}{r['epochs'] / base['epochs']:>8.2f}"
            f"{r['pruned']:>8}{r['best']:>10.4f}{r['best'] - base['best']:>+9.4f}"
            f"{r['seconds']:>9.1f}"
        )


if __name__ == "__main__":
    main()
