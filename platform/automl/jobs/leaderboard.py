"""A job's leaderboard: each model family's best and the ensembles, ranked.

A job that ensembled (config.ensemble.enabled) stored its board when it closed: every
family's best trial and each ensemble refit on the search rows, scored on the held-out test
rows with a bootstrap interval, and their fit and predict seconds (workers/hpo/ensemble.py).
Any other job's board is read from its trials: each family's best on validation, with the
trial's own seconds, and the held-out score of the one model the job refit.
"""

from __future__ import annotations

from automl.jobs import kinds
from automl.jobs.models import Job, Trial


def leaderboard(job: Job) -> dict:
    """{"job", "metric", "direction", "budget", "source", "rows"}: rows best first."""
    result = job.result or {}
    kind = kinds.get(job.kind)
    metric, direction = kind.metrics(job)[0], kind.direction(job)
    stored = result.get("leaderboard")
    return {
        "job": job.id,
        "metric": metric,
        "direction": direction,
        "budget": result.get("budget"),
        "ensemble": {k: v for k, v in (result.get("ensemble") or {}).items() if k != "files"},
        "source": "test" if stored else "validation",
        "rows": stored if stored else _from_trials(job, metric, direction, result),
    }


def _from_trials(job: Job, metric: str, direction: str, result: dict) -> list[dict]:
    sign = 1.0 if direction == "maximize" else -1.0
    trials = Trial.objects.filter(job=job, state=Trial.State.COMPLETE, excluded=False).only(
        "number", "params", "values", "started_at", "finished_at"
    )
    best: dict[str, Trial] = {}
    for trial in trials:
        if not trial.values:
            continue
        family = trial.params.get("model") or job.config.get("model") or job.kind
        held = best.get(family)
        if held is None or sign * trial.values[0] > sign * held.values[0]:
            best[family] = trial
    refit = result.get("refit") or {}
    rows = []
    for family, trial in best.items():
        single = trial.number == refit.get("trial")
        seconds = (
            (trial.finished_at - trial.started_at).total_seconds()
            if trial.started_at and trial.finished_at
            else None
        )
        rows.append(
            {
                "name": f"{family} (trial {trial.number})",
                "kind": "family",
                "trial": trial.number,
                "single_best": single,
                "metric": metric,
                "validation": trial.values[0],
                "test": (refit.get("test_metrics") or {}).get(metric) if single else None,
                "test_ci": None,
                "fit_s": seconds,
                "predict_s": None,
            }
        )
    rows.sort(key=lambda r: -sign * r["validation"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows
