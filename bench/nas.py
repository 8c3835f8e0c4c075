"""NAS strategies on digits with an equal budget of training epochs.

    .venv/bin/python bench/nas.py [--budget 12] [--retrain 20] [--seed 0] [--space cell]

Every strategy searches the same space (the DARTS cell space by default) and spends the
same number of passes over the training rows: DARTS `budget` epochs of its supernet;
evolution, RL and random search `budget` candidates of one proxy epoch each. The found
architecture is then retrained from scratch for `--retrain` epochs and scored on the
held-out test rows. The table reports search time (and its ratio to random search),
parameters, the search's own validation accuracy of its pick (a proxy-trained candidate,
or the DARTS supernet) and the test accuracy after retraining; a last line times one DARTS
epoch, second order against first order (target in TARGETS.md: <= 2.5x).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.data.builtin import load_builtin  # noqa: E402
from workers.nas.config import validate_nas_config  # noqa: E402
from workers.nas.engine import run_nas  # noqa: E402
from workers.reporter import MemoryReporter  # noqa: E402


def strategies(budget: int) -> dict[str, dict]:
    return {
        "random": {"name": "random", "candidates": budget},
        "evolution": {
            "name": "evolution",
            "population": max(2, budget // 3),
            "sample_size": 2,
            "cycles": budget - max(2, budget // 3),
        },
        "rl": {"name": "rl", "candidates": budget},
        "darts (1st)": {"name": "darts", "epochs": budget, "order": 1},
        "darts (2nd)": {"name": "darts", "epochs": budget, "order": 2},
    }


def space(name: str) -> dict:
    if name == "cell":
        return {"name": "cell", "cells": 3, "nodes": 3, "channels": 8}
    return {"name": "macro", "widths": [8, 16, 32], "max_layers": 3}


def run(label: str, strategy: dict, args: argparse.Namespace) -> dict:
    space_name = args.space if strategy["name"] != "darts" else "cell"
    config = validate_nas_config(
        {
            "strategy": strategy,
            "space": space(space_name),
            "seed": args.seed,
            "proxy": {"epochs": 1},
            "retrain": {"epochs": args.retrain},
            "training": {"lr": 0.01, "batch_size": 64},
        },
        "image",
    )
    result = run_nas(config, load_builtin("digits"), MemoryReporter(), device=args.device)
    return {
        "label": label,
        "seconds": result["search_seconds"],
        "params": result["retrain"]["params"],
        "val": result["best"]["score"],
        "test": result["retrain"]["test_metrics"]["accuracy"],
        "per_epoch": result["search_seconds"] / args.budget,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=12, help="training epochs per search")
    parser.add_argument("--retrain", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--space",
        choices=["cell", "macro"],
        default="cell",
        help="space of the sampling strategies (DARTS always searches cells)",
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    run("warm-up", {"name": "random", "candidates": 1}, args)  # first-call costs, untimed
    rows = [run(label, s, args) for label, s in strategies(args.budget).items()]
    base = rows[0]
    print(
        f"digits, budget {args.budget} training epochs per search, retrain {args.retrain} "
        f"epochs, seed {args.seed}, sampling strategies in the {args.space} space, "
        f"{args.device}\n"
    )
    print(
        f"{'strategy':<13}{'search s':>9}{'ratio':>7}{'params':>9}{'search acc':>11}"
        f"{'test acc':>10}{'vs random':>11}"
    )
    for r in rows:
        print(
            f"{r['label']:<13}{r['seconds']:>9.1f}{r['seconds'] / base['seconds']:>7.2f}"
            f"{r['params']:>9}{r['val']:>11.4f}{r['test']:>10.4f}"
            f"{r['test'] - base['test']:>+11.4f}"
        )
    first, second = rows[-2], rows[-1]
    print(
        f"\nDARTS epoch: first order {first['per_epoch']:.2f} s, second order "
        f"{second['per_epoch']:.2f} s, ratio {second['per_epoch'] / first['per_epoch']:.2f} "
        "(target <= 2.5)"
    )


if __name__ == "__main__":
    main()
