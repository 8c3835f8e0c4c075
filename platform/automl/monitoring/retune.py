"""Re-tunes: what a monitoring policy starts when its deployment's traffic drifted.

A re-tune is a pipeline job (automl.jobs.runners.pipeline) owned by the deployment's owner:

    search (HPO, warm-started from the champion's study) -> register (alias challenger)
      -> challenge (paired test against the champion)

Its data set is the champion's training rows plus the labelled recent traffic (logged
predictions whose rows got feedback), written as one CSV upload so the search is an
ordinary HPO job. The labelled rows are split once by a hash of (prediction, row)
(`held_out`): one half joins the training rows, the other is what the challenge compares
the two models on, so neither model is judged on rows it trained on.
"""

from __future__ import annotations

import csv
import hashlib
import zlib
from datetime import timedelta

import numpy as np
from django.utils import timezone

from automl.errors import Conflict
from automl.monitoring.models import DriftReport, Feedback, MonitoringPolicy
from automl.registry.models import ModelVersion
from automl.serving.models import Deployment

CHALLENGER = "challenger"


def held_out(prediction: int, row: int) -> bool:
    """Whether a labelled row is kept for the challenge (else a re-tune trains on it)."""
    return zlib.crc32(f"{prediction}:{row}".encode()) % 2 == 1


def labelled(
    deployment: Deployment, version: ModelVersion, hours: float, *, challenge: bool
) -> tuple[list[list], list]:
    """The logged input rows (in `version`'s feature order) and true labels of the
    deployment's last `hours` of traffic: the challenge's half, or the training half."""
    since = timezone.now() - timedelta(hours=hours)
    same_inputs = ModelVersion.objects.filter(
        owner=deployment.owner, name=deployment.model_name, features=version.features
    )
    items = (
        Feedback.objects.filter(
            prediction__deployment=deployment,
            prediction__created_at__gte=since,
            prediction__version__in=same_inputs,
        )
        .order_by("id")
        .values_list("prediction_id", "row", "prediction__inputs", "label")
    )
    rows, labels = [], []
    for prediction, row, inputs, label in items.iterator(2000):
        if held_out(prediction, row) == challenge and row < len(inputs):
            rows.append(inputs[row])
            labels.append(label)
    return rows, labels


def _source_job(champion: ModelVersion):
    from automl.jobs import kinds

    job = champion.job
    # A re-tune continues the champion's search: its job kind must let trials seed a new one.
    if job is None or not kinds.get(job.kind).continuable or job.dataset is None:
        raise Conflict(
            f"{champion} was not made by an HPO job on a data set: there is no study to continue"
        )
    return job


def _write_dataset(policy: MonitoringPolicy, champion: ModelVersion, job) -> object:
    """The champion's training rows plus the training half of the labelled recent rows,
    stored as the owner's CSV upload."""
    from automl.datasets.services import create_upload, training_data, upload_directory

    data = training_data(job.dataset, job.config)
    if champion.features and list(champion.features) != list(data.feature_names):
        raise Conflict(
            f"{champion} reads other columns than its data set gives "
            f"({len(champion.features)} against {len(data.feature_names)})"
        )
    rows, labels = labelled(policy.deployment, champion, policy.window_hours, challenge=False)
    if not rows:
        raise Conflict("no labelled recent rows to train on")
    y = data.y
    if data.classes is not None:
        y = np.asarray(data.classes, dtype=object)[np.asarray(y, dtype=int)]
    directory = upload_directory()
    directory.mkdir(parents=True)
    path = directory / "upload.csv"
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow([*data.feature_names, data.target_name])
        for cells, label in zip(data.X.tolist(), y.tolist(), strict=True):
            out.writerow([*cells, label])
        for cells, label in zip(rows, labels, strict=True):
            out.writerow([*cells, label])
    content = path.read_bytes()
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return create_upload(
        policy.deployment.owner,
        path=path,
        original_name=f"{policy.deployment.name}-retune-{stamp}.csv",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        description=f"{champion}'s training rows plus {len(rows)} labelled rows of "
        f"{policy.deployment}'s recent traffic (a re-tune's data)",
        target=data.target_name,
        task=champion.task,
    )


def _warm_start(job) -> dict:
    from automl.jobs.models import Trial
    from automl.jobs.serializers import WARM_START_MAX

    trials = job.trials.filter(state=Trial.State.COMPLETE, excluded=False).order_by("number")
    return {
        "from_job": job.id,
        "trials": [{"params": t.params, "values": t.values} for t in trials[:WARM_START_MAX]],
    }


def pipeline_config(policy: MonitoringPolicy, champion: ModelVersion, job) -> dict:
    """The re-tune's pipeline: the champion's search continued, then challenger and
    challenge on the policy's deployment."""
    search = {
        k: v for k, v in job.config.items() if k not in ("warm_start", "parallelism", "target")
    }
    if isinstance(search.get("preprocessing"), dict):
        # The CSV holds only the columns the champion reads: nothing is left to drop.
        search["preprocessing"] = {**search["preprocessing"], "drop": [], "drop_suggested": False}
    search.update(n_trials=policy.n_trials, warm_start=_warm_start(job))
    search.pop("time_budget_s", None)
    name = policy.deployment.name
    return {
        "deployment": policy.deployment.id,
        "stages": [
            {"type": "search", "kind": "hpo", "config": search},
            {"type": "register", "name": champion.name, "alias": CHALLENGER},
            {
                "type": "challenge",
                "deployment": name,
                "hours": policy.window_hours,
                "min_rows": max(1, policy.min_labels // 2),
                "significance": policy.significance,
                "require_significant": policy.require_significant,
            },
        ],
    }


def start_retune(policy: MonitoringPolicy, report: DriftReport):
    """Submit the re-tune pipeline for the policy's deployment (its owner's job)."""
    from automl.errors import Invalid
    from automl.jobs import kinds
    from automl.jobs.services import submit_job
    from automl.monitoring.drift import _primary_version

    deployment = policy.deployment
    champion = _primary_version(deployment)
    job = _source_job(champion)
    dataset = _write_dataset(policy, champion, job)
    config, errors = kinds.get("pipeline").checked(
        pipeline_config(policy, champion, job),
        dataset=dataset,
        task=champion.task,
        owner=deployment.owner,
        parallelism=None,
    )
    if errors:
        raise Invalid.from_fields({k: [str(v)] for k, v in errors.items()})
    config["parallelism"] = 1
    return submit_job(
        deployment.owner,
        kind="pipeline",
        name=f"re-tune of {deployment.name} (drift report {report.id})",
        dataset=dataset,
        config=config,
        resources={},
    )


def challenge(
    deployment: Deployment,
    challenger: ModelVersion,
    *,
    hours: float,
    min_rows: int,
    significance: float,
    require_significant: bool,
) -> dict:
    """The challenger against the deployment's champion on the held-out labelled recent
    rows: McNemar's test (classification) or a paired bootstrap of the absolute error
    (regression), from workers.evaluation.stats. `wins` says whether it should ramp."""
    from automl.monitoring.drift import _primary_version
    from automl.serving.loader import load
    from workers.evaluation.stats import mcnemar, paired_bootstrap

    champion = _primary_version(deployment)
    if champion.id == challenger.id:
        raise Conflict(f"{challenger} already is the deployment's champion")
    rows, labels = labelled(deployment, champion, hours, challenge=True)
    if len(rows) < min_rows:
        raise Conflict(
            f"only {len(rows)} held-out labelled rows in the last {hours:g} h; "
            f"the challenge needs {min_rows}"
        )
    X = np.array(rows, dtype=object if champion.has_preprocessing else np.float64)
    old = load(champion).predict(X)["predictions"]
    new = load(challenger).predict(X)["predictions"]
    out: dict = {"champion": champion.id, "challenger": challenger.id, "n": len(rows)}
    if champion.task == "classification":
        truth = [str(t) for t in labels]
        old_right = np.array([str(p) == t for p, t in zip(old, truth, strict=True)])
        new_right = np.array([str(p) == t for p, t in zip(new, truth, strict=True)])
        test = mcnemar(old_right, new_right)
        out.update(
            metric="accuracy",
            champion_score=float(old_right.mean()),
            challenger_score=float(new_right.mean()),
        )
        better = out["challenger_score"] > out["champion_score"]
    else:
        y = np.array(labels, dtype=np.float64)

        def loss(t, p):
            return float(np.mean(np.abs(t - p)))

        old_a, new_a = np.array(old, dtype=np.float64), np.array(new, dtype=np.float64)
        test = paired_bootstrap(loss, y, old_a, new_a)
        out.update(metric="mae", champion_score=loss(y, old_a), challenger_score=loss(y, new_a))
        better = out["challenger_score"] < out["champion_score"]
    p = test["p_value"]
    out.update(test=test["test"], p_value=p, significance=significance)
    out["wins"] = better and (p < significance or not require_significant)
    out["says"] = (
        f"{out['metric']} {out['challenger_score']:.4g} (challenger {challenger}) against "
        f"{out['champion_score']:.4g} (champion {champion}) on {len(rows)} held-out labelled "
        f"rows; {test['test']}, p = {p:.3g}"
    )
    return out
