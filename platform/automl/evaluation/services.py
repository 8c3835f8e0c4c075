"""Evaluation reports, comparisons and model cards: the rules, in one place.

Which rows a version is evaluated on: the rows its job held out, recomputed from the
job's data set and config (test_size, seed) with the engines' own split rule
(workers.evaluation.report.split_rows). Recomputing rather than storing indices at
registration keeps the registry and the engines untouched and works for every version
already registered; it is safe because data sets never change after upload (an upload's
sha256 is in the version's lineage and is checked here) and the split is a pure function
of the rows and the seed. Each report records a sha256 of the data set and the row
indices (`rows_key`): two versions are compared only when their keys are equal.
"""

from __future__ import annotations

import hashlib
import logging
import math
from datetime import timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automl.errors import Conflict, Invalid
from automl.evaluation import tasks
from automl.evaluation.models import Evaluation
from automl.jobs import kinds
from automl.registry.models import ModelVersion

log = logging.getLogger(__name__)

PERMUTATION_REPEATS = 10
MAX_EXPLAIN_ROWS = 100


# --- requesting and running


def rows_job(version: ModelVersion):
    """The job whose held-out rows the version is evaluated on; Conflict if none."""
    if reason := not_evaluable(version):
        raise Conflict(reason)
    return version.job


def not_evaluable(version: ModelVersion) -> str | None:
    """Why the version cannot be evaluated (its kind, or no rows were held out from it),
    or None."""
    if reason := version.refusal("evaluate"):
        return reason
    job = version.job
    if job is None or version.dataset_id is None:
        return (
            f"{version} was not made by a job, so no rows were held out from it; "
            "only versions with job lineage (HPO, NAS, compression) can be evaluated"
        )
    if "test_size" not in job.config or "seed" not in job.config:
        return f"job {job.id}'s config records no test split"
    return None


def request_evaluation(version: ModelVersion) -> Evaluation:
    """Queue a (re)computation of the version's report; the worker runs it on commit. A
    request while one is queued or running joins it (no second message on the queue)."""
    rows_job(version)
    with transaction.atomic():
        evaluation, created = Evaluation.objects.select_for_update().get_or_create(version=version)
        if not created and evaluation.status in (
            Evaluation.Status.QUEUED,
            Evaluation.Status.RUNNING,
        ):
            return evaluation
        evaluation.status, evaluation.error = Evaluation.Status.QUEUED, ""
        evaluation.started_at = evaluation.finished_at = None
        evaluation.save()
        tasks.evaluate_model.apply_async_on_commit((evaluation.id,), queue="cpu")
    return evaluation


def reconcile_evaluations(queued_after_s: float, running_limit_s: float) -> dict[str, int]:
    """As the job reconciler does for jobs: an evaluation queued for longer than
    `queued_after_s` is sent again (the claim makes a duplicate harmless; a re-requested
    one counts from its first request, so it may be sent once more than needed), and one
    running for longer than `running_limit_s` lost its worker: it fails, saying so."""
    now = timezone.now()
    queued = list(
        Evaluation.objects.filter(
            status=Evaluation.Status.QUEUED,
            created_at__lt=now - timedelta(seconds=queued_after_s),
        ).values_list("id", flat=True)
    )
    for evaluation_id in queued:
        tasks.evaluate_model.apply_async((evaluation_id,), queue="cpu")
    failed = Evaluation.objects.filter(
        status=Evaluation.Status.RUNNING,
        started_at__lt=now - timedelta(seconds=running_limit_s),
    ).update(
        status=Evaluation.Status.FAILED,
        error=f"no worker finished it within EVALUATION_MAX_RUNNING_S ({running_limit_s:g} s): "
        "its worker stopped; evaluate again",
        finished_at=now,
    )
    return {"evaluations_requeued": len(queued), "evaluations_failed": failed}


def run_evaluation(evaluation_id: int) -> str:
    """Claim a queued evaluation and compute it; safe to deliver twice (one claim wins)."""
    claimed = Evaluation.objects.filter(id=evaluation_id, status=Evaluation.Status.QUEUED).update(
        status=Evaluation.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return "not queued"
    evaluation = Evaluation.objects.select_related("version__job__dataset").get(id=evaluation_id)
    try:
        report, answers, key = compute(evaluation.version)
    except Exception as exc:  # the report fails, with its reason; the worker goes on
        log.exception("evaluation %s failed", evaluation_id)
        Evaluation.objects.filter(id=evaluation_id).update(
            status=Evaluation.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
        )
        return "failed"
    Evaluation.objects.filter(id=evaluation_id).update(
        status=Evaluation.Status.SUCCEEDED,
        report=report,
        answers=answers,
        rows_key=key,
        finished_at=timezone.now(),
        error="",
    )
    return "succeeded"


def _predictor(version: ModelVersion):
    from automl.registry.storage import get_storage
    from workers.evaluation.report import Predictor
    from workers.models.artifacts import load_model, load_transformer

    directory = get_storage().local_dir(version.storage_key)
    transformer = load_transformer(directory) if version.has_preprocessing else None
    return Predictor(load_model(directory), transformer, version.spec)


def _objective(job, names: list[str]) -> str:
    """The job's first metric when the report has it, else the task's first."""
    return next((n for n in kinds.get(job.kind).metrics(job) if n in names), names[0])


def compute(version: ModelVersion) -> tuple[dict, dict, str]:
    """(report, answers, rows_key) of the version on its job's held-out rows."""
    from automl.datasets.services import training_data
    from workers.evaluation import report as engine

    job = rows_job(version)
    dataset = job.dataset
    if version.dataset_sha256 and dataset.sha256 and version.dataset_sha256 != dataset.sha256:
        raise Conflict(f"data set {dataset.id} changed since {version} was trained")
    config = job.config
    data = training_data(dataset, config)
    if data.task != version.task:
        raise Conflict(
            f"{version} is a {version.task} model but job {job.id}'s data is for {data.task}"
        )
    typed = job.typed_config
    seed = typed.seed
    search, test = engine.split_rows(data.y, data.task, typed.test_size, seed)
    predictor = _predictor(version)
    X, y = data.X[test], data.y[test]
    names = data.classes if data.classes is not None else None
    report, answers = engine.evaluate(
        predictor,
        X,
        y,
        task=data.task,
        class_names=names,
        n_resamples=settings.EVALUATION_RESAMPLES,
        seed=seed,
    )
    metric = _objective(job, list(report["metrics"]))
    features = version.features or list(data.feature_names)
    if np.ndim(X) == 2 and len(features) == X.shape[1]:
        report["importances"] = engine.permutation_importances(
            predictor, X, y, metric, features, n_repeats=PERMUTATION_REPEATS, seed=seed
        )
    report["validation"] = _validation(version, job, engine.take_rows(data, search), metric)
    if (importances := kinds.get(job.kind).search_importances(job)) is not None:
        report["hpo_importances"] = importances
    key_text = f"{dataset.id}:{dataset.sha256}:{','.join(map(str, test.tolist()))}"
    rows_key = hashlib.sha256(key_text.encode()).hexdigest()
    report["split"] = {
        "job": job.id,
        "job_kind": job.kind,
        "dataset": dataset.id,
        "dataset_name": dataset.name,
        "dataset_sha256": dataset.sha256,
        "test_size": typed.test_size,
        "seed": seed,
        "n_test": int(len(test)),
        "n_search": int(len(search)),
        "rows_key": rows_key,
    }
    return report, answers, rows_key


def _validation(version: ModelVersion, job, search, metric: str) -> dict:
    """How the job validated its trials, and what the best trial scored there; for CV,
    each fold's score of the chosen params, refitted as the trial fitted them."""
    from automl.jobs.models import Trial
    from workers.evaluation.report import cross_validation
    from workers.models.kinds import kind_of

    cross_validates = kinds.get(job.kind).cross_validates
    method = job.typed_config.validation.method if cross_validates else "holdout"
    out: dict[str, Any] = {"method": method}
    trial = Trial.objects.filter(job=job, number=version.trial_number).first()
    if trial is not None and trial.values:
        out["best_trial"] = {
            "number": trial.number,
            "value": trial.values[0],
            "metric": _objective(job, [metric]),
        }
    one_trial = kind_of(version.spec).one_trial  # an ensemble has no one trial's params
    if one_trial and method == "cv" and version.source == "job" and version.params:
        out["cv"] = cross_validation(job.typed_config, version.params, search, metric)
    return out


# --- comparison


def _answers(version: ModelVersion) -> Evaluation:
    evaluation = Evaluation.objects.filter(version=version).first()
    if evaluation is None or evaluation.status != Evaluation.Status.SUCCEEDED:
        state = "has no evaluation" if evaluation is None else f"is {evaluation.status}"
        raise Conflict(f"{version}'s evaluation {state}; evaluate it first (POST its evaluation/)")
    return evaluation


def compare(a: ModelVersion, b: ModelVersion, seed: int = 0) -> dict:
    """Is B better than A on the same held-out rows? McNemar for classifiers, a paired
    bootstrap of the RMSE for regressors, with the analyst's sentence."""
    from workers.evaluation import stats

    if a.id == b.id:
        raise Invalid("compare two different versions", {"other": ["same version"]})
    ea, eb = _answers(a), _answers(b)
    if a.task != b.task:
        raise Conflict(f"{a} is {a.task}, {b} is {b.task}: they cannot be compared")
    if ea.rows_key != eb.rows_key:
        sa, sb = ea.report.get("split", {}), eb.report.get("split", {})
        raise Conflict(
            f"{a} and {b} were evaluated on different rows (data set {sa.get('dataset')} "
            f"seed {sa.get('seed')} test_size {sa.get('test_size')} vs data set "
            f"{sb.get('dataset')} seed {sb.get('seed')} test_size {sb.get('test_size')}); "
            "a paired test needs the same rows"
        )
    name_a, name_b = f"{a.name} v{a.version}", f"{b.name} v{b.version}"
    y = np.asarray(ea.answers["y_true"])
    if a.task == "classification":
        ca, cb = np.asarray(ea.answers["correct"]), np.asarray(eb.answers["correct"])
        test = stats.mcnemar(ca, cb)
        acc_a, acc_b = float(ca.mean()), float(cb.mean())
        better = (
            None
            if test["only_a_right"] == test["only_b_right"]
            else (name_b if acc_b > acc_a else name_a)
        )
        scores = {"metric": "accuracy", "a": acc_a, "b": acc_b}
        sentence = stats.verdict(name_a, name_b, better, "more accurate", test["p_value"])
    else:
        pa = np.asarray(ea.answers["y_pred"], np.float64)
        pb = np.asarray(eb.answers["y_pred"], np.float64)
        test = stats.paired_bootstrap(
            _rmse,
            y.astype(np.float64),
            pa,
            pb,
            n_resamples=settings.EVALUATION_RESAMPLES,
            seed=seed,
        )
        rmse_a, rmse_b = _rmse(y, pa), _rmse(y, pb)
        better = None if test["difference"] == 0 else (name_b if rmse_b < rmse_a else name_a)
        scores = {"metric": "rmse", "a": rmse_a, "b": rmse_b}
        sentence = stats.verdict(
            name_a, name_b, better, "more accurate (lower RMSE)", test["p_value"]
        )
    return {
        "a": a.id,
        "b": b.id,
        "n_rows": int(len(y)),
        "rows_key": ea.rows_key,
        "scores": scores,
        "better": None if better is None else (b.id if better == name_b else a.id),
        "significant": bool(better is not None and test["p_value"] < stats.SIGNIFICANT),
        **{k: v for k, v in test.items()},
        "summary": sentence,
    }


def _rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return math.sqrt(float(np.mean((np.asarray(y, np.float64) - pred) ** 2)))


# --- explanations


def explain_answer(loaded, X: np.ndarray, version: ModelVersion) -> dict:
    """Per-row attributions for a served model (serving's LoadedModel) on parsed rows X."""
    import json

    from automl.registry.storage import get_storage
    from workers.evaluation.explain import explain as attributions
    from workers.evaluation.report import Predictor

    if len(X) > MAX_EXPLAIN_ROWS:
        raise Invalid(
            f"explain: at most {MAX_EXPLAIN_ROWS} rows per request",
            {"inputs": [f"at most {MAX_EXPLAIN_ROWS} rows with explain"]},
        )
    reference = None
    directory = get_storage().local_dir(version.storage_key)
    if (directory / "reference.json").exists():
        reference = json.loads((directory / "reference.json").read_text())
    features = version.features
    if not features or len(features) != X.shape[1]:  # an image's one column: each pixel
        features = [f"x{j}" for j in range(X.shape[1])]
    predictor = Predictor(loaded.model, loaded.transformer, version.spec)
    return attributions(predictor, X, features, version.task, reference)


def queue_first_evaluation(version_id: int) -> None:
    """Evaluate a just-registered version unless it has a report already (a job closed
    twice registers once and is evaluated once)."""
    version = ModelVersion.objects.select_related("job").get(id=version_id)
    if not Evaluation.objects.filter(version=version).exists():
        request_evaluation(version)
