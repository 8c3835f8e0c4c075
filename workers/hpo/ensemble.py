"""Ensembles of a finished search's best trials, and the job's leaderboard.

Greedy ensemble selection with replacement (Caruana et al., 2004, "Ensemble selection
from libraries of models"):

1. Candidates: the `ensemble.members` best completed trials, plus each family's best
   trial (the leaderboard ranks them), torch families left out (an ensemble is one skops
   file, workers/models/ensemble.py).
2. Validation outputs: each candidate is fitted on every trial split's training rows and
   predicts its validation rows: the rows its trial was scored on (out of fold under cv).
3. Selection: start from the best candidate; each of `rounds` rounds adds (again, if it
   is already in) the candidate whose addition makes the mean of the picks best on the
   validation rows. The weights are the picks of the best round, so the ensemble's
   validation score is never below its best member's.
4. Stacking (`ensemble.stack`): a logistic regression (classes) or ridge (values) on the
   candidates' validation outputs side by side; its validation score is cross-validated
   on those rows, so it competes fairly with the greedy ensemble.
5. Every candidate is refit on all search rows and scored on the held-out test rows,
   with a bootstrap confidence interval; the better ensemble on validation then faces the
   single best trial on the test rows, and the better of the two is the job's model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import Pipeline

from workers.data.splits import stratified_sample
from workers.data.tabular import TabularData
from workers.evaluation.stats import bootstrap_interval
from workers.hpo import engine
from workers.hpo.config import HPOConfig
from workers.hpo.families import FAMILIES
from workers.hpo.metrics import METRICS, evaluate
from workers.hpo.objective import Fitted, fit, split_params
from workers.models.ensemble import WeightedEnsemble

CI_RESAMPLES = 200  # bootstrap resamples per leaderboard row: enough for a 95% interval


@dataclass
class Candidate:
    """A trial fitted for the ensemble: its validation outputs and its refit model."""

    trial: int
    family: str
    params: dict
    validation_value: float  # the trial's own score (its first metric)
    valid: np.ndarray  # outputs on the validation rows, split after split
    refit: Fitted | None = None
    fit_s: float = 0.0


def build(
    config: HPOConfig,
    data: TabularData,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    refit: dict,
    directory: Path | None = None,
    exclude: tuple[int, ...] = (),
    deadline: float | None = None,
) -> dict:
    """Select, stack, refit and score the ensemble; save it into `directory` over the
    single best model when it beats it on the test rows. `refit`: refit_best's result.
    `deadline` (time.monotonic()): no candidate is started after it.

    Returns the job result's "ensemble" entry ({} with fewer than two candidates):
    {"method", "members", "validation", "test_metrics", "single_test_metrics", "chosen",
    "leaderboard"}.
    """
    metric = config.objectives[0]
    sign = 1.0 if METRICS[metric].direction == "maximize" else -1.0
    search, test = engine.search_and_test(config, data)
    splits = engine.trial_splits(config, stratified_sample(search, config.trial_rows, config.seed))
    y_valid = np.concatenate([s.y_valid for s in splits])
    transformer = engine.make_transformer(data)
    classes = np.unique(search.y) if config.task == "classification" else None

    candidates: list[Candidate] = []

    def out_of_time() -> bool:  # past the budget, once an ensemble can be made
        return deadline is not None and time.monotonic() >= deadline and len(candidates) >= 2

    for trial in _candidate_trials(config, storage, study_name, exclude):
        family = split_params(config, trial.params)[0]
        began = time.monotonic()
        outputs = []
        for split in splits:
            if out_of_time():
                break
            fitted = _fit(config, trial.params, split.X_train, split.y_train, transformer)
            outputs.append(_outputs(config, fitted, split.X_valid))
        if out_of_time():  # this candidate is left out, its folds unfinished
            break
        refit_model = _fit(config, trial.params, search.X, search.y, transformer)
        candidates.append(
            Candidate(
                trial.number,
                family,
                dict(trial.params),
                trial.values[0],
                np.concatenate(outputs),
                refit_model,
                time.monotonic() - began,
            )
        )
    if len(candidates) < 2:
        return {}

    def value(output: np.ndarray, y: np.ndarray) -> float:
        return _value(metric, config.task, y, output, classes)

    weights, greedy_valid = select(
        [c.valid for c in candidates], y_valid, value, sign, config.ensemble.rounds
    )
    members = [c for c, w in zip(candidates, weights, strict=True) if w > 0]
    greedy = _ensemble(config, members, weights[weights > 0], None, search)
    entries = [("caruana", greedy, greedy_valid, members)]
    if config.ensemble.stack:
        stack, stack_valid = _stack(config, candidates, y_valid, value)
        stacked = _ensemble(
            config, candidates, np.full(len(candidates), 1 / len(candidates)), stack, search
        )
        entries.append(("stacked", stacked, stack_valid, candidates))
    method, model, valid_value, used = max(entries, key=lambda e: sign * e[2])

    names = engine.test_metric_names(config, model)
    test_metrics = evaluate(model, names, test.X, test.y)
    single = refit.get("test_metrics") or {}
    better = sign * test_metrics[metric] > sign * single.get(metric, -sign * np.inf)
    chosen = "ensemble" if better else "single"
    summary = {
        "method": method,
        "members": [
            {"trial": c.trial, "family": c.family, "weight": float(w), "params": c.params}
            for c, w in zip(used, model.weights_, strict=True)
        ],
        "validation": {metric: valid_value},
        "test_metrics": test_metrics,
        "single_test_metrics": single,
        "chosen": chosen,
        "leaderboard": leaderboard(config, candidates, entries, test, refit),
    }
    if better and directory is not None:
        summary["files"] = _save(config, model, method, summary, search, Path(directory))
    return summary


def select(
    outputs: list[np.ndarray],
    y: np.ndarray,
    value,
    sign: float,
    rounds: int,
) -> tuple[np.ndarray, float]:
    """Caruana's greedy selection with replacement: (weights summing to 1, the validation
    value of their weighted mean). value(mean output, y) is the metric; sign +1 when it
    is maximised."""
    scores = [sign * value(o, y) for o in outputs]
    picks = np.zeros(len(outputs))
    picks[int(np.argmax(scores))] = 1
    total = outputs[int(np.argmax(scores))].astype(np.float64)
    best_picks, best_score = picks.copy(), max(scores)
    for _ in range(rounds):
        n = picks.sum()
        trials = [sign * value((total + o) / (n + 1), y) for o in outputs]
        pick = int(np.argmax(trials))
        picks[pick] += 1
        total = total + outputs[pick]
        if trials[pick] > best_score:  # ties keep the smaller ensemble
            best_picks, best_score = picks.copy(), trials[pick]
    return best_picks / best_picks.sum(), sign * best_score


def leaderboard(
    config: HPOConfig, candidates: list[Candidate], entries: list, test, refit: dict
) -> list[dict]:
    """Each family's best trial and the ensembles, on validation and on the test rows with
    a bootstrap interval, best first on the test rows; fit and predict seconds."""
    metric = config.objectives[0]
    sign = 1.0 if METRICS[metric].direction == "maximize" else -1.0
    classes = np.unique(test.y) if config.task == "classification" else None
    rows = []
    best_of_family: dict[str, Candidate] = {}
    for c in candidates:  # best first: the first of each family is its best
        best_of_family.setdefault(c.family, c)
    scored = [
        (f"{c.family} (trial {c.trial})", "family", c.refit, c.validation_value, c.fit_s, c.trial)
        for c in best_of_family.values()
    ]
    for method, model, valid_value, used in entries:
        fit_s = sum(c.fit_s for c in used)
        scored.append((f"ensemble ({method})", "ensemble", model, valid_value, fit_s, None))
    for name, kind, model, valid_value, fit_s, trial in scored:
        began = time.monotonic()
        output = _outputs(config, model, test.X)
        predict_s = time.monotonic() - began
        test_value = _value(metric, config.task, test.y, output, classes)
        interval = bootstrap_interval(
            lambda rows, o=output: _value(metric, config.task, test.y[rows], o[rows], classes),
            len(test.y),
            n_resamples=CI_RESAMPLES,
            seed=config.seed,
        )
        rows.append(
            {
                "name": name,
                "kind": kind,
                "trial": trial,
                "single_best": trial is not None and trial == refit.get("trial"),
                "metric": metric,
                "validation": float(valid_value),
                "test": float(test_value),
                "test_ci": [interval["low"], interval["high"]],
                "fit_s": round(fit_s, 4),
                "predict_s": round(predict_s, 4),
            }
        )
    rows.sort(key=lambda r: -sign * r["test"])
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


# --- helpers


def _candidate_trials(config, storage, study_name, exclude) -> list[optuna.trial.FrozenTrial]:
    """The best `members` trials and each family's best, best first, one per setting."""
    ranked = [
        t
        for t in engine.ranked_trials(config, storage, study_name, exclude)
        if FAMILIES[split_params(config, t.params)[0]].framework == "sklearn"
    ]
    chosen, seen, families = [], set(), set()
    for t in ranked:
        key = tuple(sorted((k, repr(v)) for k, v in t.params.items()))
        family = split_params(config, t.params)[0]
        if key in seen:
            continue
        if len(chosen) < config.ensemble.members or family not in families:
            chosen.append(t)
            seen.add(key)
            families.add(family)
    return chosen


def _fit(config: HPOConfig, params: dict, X, y, transformer) -> Fitted:
    return fit(config, params, X, y, make_transformer=transformer, proba=True)


def _outputs(config: HPOConfig, model, X) -> np.ndarray:
    """Class probabilities or values of a Fitted or an estimator of raw rows."""
    estimator = _estimator(model) if isinstance(model, Fitted) else model
    if config.task == "classification":
        return np.asarray(estimator.predict_proba(X), dtype=np.float64)
    return np.asarray(estimator.predict(X), dtype=np.float64)


def _estimator(fitted: Fitted):
    """A Fitted as one estimator of raw rows: a Pipeline when it has preprocessing."""
    if fitted.transformer is None:
        return fitted.model
    return Pipeline([("preprocessing", fitted.transformer), ("model", fitted.model)])


def _value(metric: str, task: str, y: np.ndarray, output: np.ndarray, classes) -> float:
    """The metric of outputs (probabilities or values) against targets y."""
    spec = METRICS[metric]
    if task == "classification" and spec.needs == "proba":
        return float(spec.fn(y, output, classes))
    if task == "classification":
        return float(spec.fn(y, classes[np.argmax(output, axis=1)]))
    return float(spec.fn(y, output))


def _stack(config: HPOConfig, candidates: list[Candidate], y_valid, value):
    """The stacked layer fitted on the candidates' validation outputs, and its validation
    value (cross-validated on those rows)."""
    side_by_side = np.column_stack([c.valid.reshape(len(c.valid), -1) for c in candidates])
    if config.task == "classification":
        layer = LogisticRegression(max_iter=1000)
        method = "predict_proba"
    else:
        layer = Ridge(alpha=1.0)
        method = "predict"
    cv = cross_val_predict(layer, side_by_side, y_valid, cv=5, method=method)
    return layer.fit(side_by_side, y_valid), value(cv, y_valid)


def _ensemble(config: HPOConfig, members: list[Candidate], weights, stack, search):
    model = WeightedEnsemble(
        [_estimator(c.refit) for c in members], list(map(float, weights)), config.task, stack
    )
    return model.fitted(np.shape(search.X)[1])


def _save(config, model, method, summary, search, directory: Path) -> list[str]:
    """The ensemble over the single best model's files in `directory`."""
    for path in directory.iterdir():
        if path.is_file():
            path.unlink()
    spec = {
        "kind": "ensemble",
        "params": {"method": method, "members": summary["members"]},
        "trial": None,
    }
    return engine.save_job_model(model, directory, config, search, family="ensemble", **spec)
