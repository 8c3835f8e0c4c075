"""Two users, jobs with trials, and small real models on iris saved as model directories."""

from pathlib import Path
from uuid import uuid4

import numpy as np
import pytest
import torch
from django.utils import timezone
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from workers.models.artifacts import save_model, save_transformer, scaling_spec
from workers.training.mlp import MLP, MLPConfig

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

# A finished HPO job's config as the API stores it (enough for pages, charts and exports).
HPO_CONFIG = {
    "task": "classification",
    "metric": "accuracy",
    "direction": "maximize",
    "model": "logistic_regression",
    "n_trials": 3,
}


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-password-1")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("sam", password="sam-password-1", is_staff=True)


# (state, value) of each finished trial: two complete, one pruned between them.
THREE_TRIALS = (("complete", 0.8), ("pruned", None), ("complete", 0.9))


def make_job(owner, dataset, *, kind="hpo", name="job", config=None, trials=(), **fields):
    """A Job row as a worker would have left it, with finished `trials` (see add_trials);
    nothing is validated or run."""
    from automl.jobs.models import Job

    config = dict(HPO_CONFIG) if config is None else config
    job = Job.objects.create(
        owner=owner, kind=kind, name=name, dataset=dataset, config=config, **fields
    )
    add_trials(job, trials)
    return job


def add_trials(job, outcomes=THREE_TRIALS):
    """Finished trials, one per (state, value), with a parameter and two learning-curve
    points each."""
    from automl.jobs.models import Trial

    now = timezone.now()
    return [
        Trial.objects.create(
            job=job,
            number=n,
            state=state,
            params={"C": 0.5 + n},
            values=None if value is None else [value],
            intermediate_values={"0": 0.5, "1": value or 0.4},
            started_at=now,
            finished_at=now,
        )
        for n, (state, value) in enumerate(outcomes)
    ]


def queued_hpo_job(owner, dataset, *, name="job", **config):
    """An HPO job as the API queues it: its config validated, a study of its own."""
    from workers.hpo.config import validate_hpo_config

    return make_job(
        owner,
        dataset,
        name=name,
        study_name=f"test-{uuid4().hex}",
        config=validate_hpo_config(config, dataset.task).to_json(),
    )


def run_here(job):
    """What a worker does with a job's messages, in this process on the test database:
    run_job, then its one trial runner."""
    from automl.jobs import tasks

    tasks.run_job(job.id)
    tasks.run_trials(job.id, 0)
    job.refresh_from_db()
    return job


def iris_xy() -> tuple[np.ndarray, np.ndarray]:
    data = load_iris()
    return data.data, data.target


def rows(X: np.ndarray) -> list[dict]:
    return [dict(zip(FEATURES, map(float, x), strict=True)) for x in X]


def forest_dir(
    path: Path, *, seed: int = 0, n_estimators: int = 5, preprocessing: bool = False
) -> Path:
    """A random forest (or, with preprocessing, a scaled logistic regression) on iris."""
    X, y = iris_xy()
    spec = {"task": "classification", "features": FEATURES, "params": {}}
    if preprocessing:
        scaler = StandardScaler().fit(X)
        model = LogisticRegression(max_iter=500).fit(scaler.transform(X), y)
        save_model(model, path, family="logistic_regression", spec=spec)
        save_transformer(scaler, path)
    else:
        model = RandomForestClassifier(n_estimators=n_estimators, random_state=seed).fit(X, y)
        save_model(model, path, family="random_forest", spec=spec)
    return path


def _train_steps(module: torch.nn.Module, X: np.ndarray, y: np.ndarray, steps: int) -> None:
    """Full-batch Adam steps on cross-entropy: enough for a model whose answers need not
    be good."""
    optimiser = torch.optim.Adam(module.parameters(), lr=0.05)
    x = torch.as_tensor(X, dtype=torch.float32)
    for _ in range(steps):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(module(x), torch.as_tensor(y)).backward()
        optimiser.step()


def mlp_dir(path: Path, *, seed: int = 0, steps: int = 30) -> Path:
    """A small torch MLP on iris, trained for `steps` steps (its answers need not be good)."""
    X, y = iris_xy()
    torch.manual_seed(seed)
    config = MLPConfig(n_features=4, n_outputs=3, hidden_layers=1, hidden_units=8, dropout=0.0)
    module = MLP(config)
    spec = {
        "kind": "mlp",
        "config": vars(config),
        "task": "classification",
        "classes": [0, 1, 2],
        "features": FEATURES,
        **scaling_spec(X),
    }
    x = (X - np.asarray(spec["input_mean"])) / np.asarray(spec["input_std"])
    _train_steps(module, x, y, steps)
    save_model(module, path, family="mlp", spec=spec)
    return path


def genotype_dir(path: Path, *, seed: int = 0) -> Path:
    """A genotype of NAS's tabular space on iris, trained a few steps, saved as NAS does."""
    import random
    from dataclasses import asdict

    from workers.models.artifacts import save_version
    from workers.nas.spaces import SPACES
    from workers.training.genotype import GenotypeConfig, GenotypeNetwork

    X, y = iris_xy()
    space = SPACES["mlp"]()
    config = GenotypeConfig(space.decode(space.sample(random.Random(seed))), [4], 3)
    torch.manual_seed(seed)
    module = GenotypeNetwork(config)
    _train_steps(module, X, y, 30)
    module.eval()
    spec = {"kind": "genotype", "config": asdict(config), "task": "classification"}
    spec.update(classes=[0, 1, 2], features=FEATURES)
    save_version(module, path, family="nas", spec=spec, rows=X)
    return path


def compressed_dir(parent: Path, path: Path, technique: str = "dynamic_int8") -> Path:
    """The output of one compression step on an iris model directory, as the job saves it."""
    from workers.compression.config import validate_compression_config
    from workers.compression.engine import run_compression
    from workers.data.tabular import TabularData
    from workers.reporter import Reporter

    X, y = iris_xy()
    data = TabularData(X, y, FEATURES, "classification", "species", classes=[0, 1, 2])
    config = validate_compression_config(
        {"model_version": 1, "report": {"repeats": 1}, "steps": [technique]}
    )
    result = run_compression(config, parent, data, Reporter(), directory=path)
    return Path(result["steps"][0]["directory"])


def reload_accuracy(directory: Path, config, data) -> float:
    """The test accuracy of a saved compression step, reloaded from its files alone;
    `config` is a CompressionConfig, or a job's stored one (JSON)."""
    from workers.compression.common import accuracy, split
    from workers.compression.config import CompressionConfig
    from workers.compression.store import load_compressed
    from workers.models.artifacts import load_preprocessing

    if isinstance(config, dict):
        config = CompressionConfig.from_json(config)
    model = load_compressed(directory)
    splits = split(config, data, model.spec, load_preprocessing(directory))
    return accuracy(model, splits.x["test"], splits.y["test"])


def register(owner, directory: Path, name: str = "iris-model", **fields):
    from automl.registry.models import ModelVersion
    from automl.registry.services import create_version

    return create_version(owner, directory, name=name, source=ModelVersion.Source.IMPORT, **fields)


@pytest.fixture
def model_store(settings, tmp_path):
    """A fresh model store, and no model or answer cached from another test."""
    from automl.serving import cache
    from automl.serving.loader import model_cache

    settings.MODEL_STORE_ROOT = tmp_path / "store"
    model_cache().clear()
    cache.clear()
    yield settings.MODEL_STORE_ROOT
    model_cache().clear()
    cache.clear()


def run_hpo(owner, dataset, *, name="iris model", **config):
    """An HPO job (two trials unless `config` says otherwise) run here to its end."""
    job = run_here(queued_hpo_job(owner, dataset, name=name, **{"n_trials": 2, **config}))
    assert job.status == "succeeded", job.error_message
    return job


def evaluated(job):
    """The job's version after the worker ran the evaluation its registration queued."""
    from automl.evaluation.models import Evaluation
    from automl.evaluation.tasks import evaluate_model
    from automl.registry.models import ModelVersion

    version = ModelVersion.objects.get(id=job.result["refit"]["model_version"])
    evaluation = Evaluation.objects.get(version=version)
    assert evaluation.status == "queued"
    assert evaluate_model(evaluation.id) == "succeeded"
    assert evaluate_model(evaluation.id) == "not queued"  # a second delivery: no work
    evaluation.refresh_from_db()
    return version, evaluation


def auto_job_in_bulk(owner, dataset, n_trials: int, seed: int = 0):
    """A finished model: auto HPO job with n_trials trials made in bulk (bench/ui.py, the
    50,000-trial browser test): eight families, each trial with its family's parameters,
    a value, a ten-step curve and a duration."""
    import random
    from datetime import timedelta

    from django.utils import timezone

    from automl.jobs.models import Job, Trial
    from workers.hpo.config import validate_hpo_config
    from workers.hpo.space import flat_specs

    config = validate_hpo_config({"model": "auto", "n_trials": 1}, "classification").to_json()
    specs = flat_specs(config["search_space"])
    families = config["search_space"]["model"]["choices"]
    job = Job.objects.create(
        owner=owner,
        kind="hpo",
        name=f"bench {n_trials} trials",
        dataset=dataset,
        config=config,
        status=Job.Status.SUCCEEDED,
        progress=1.0,
        result={"best_value": 0.99, "best_number": 0, "metric": "accuracy"},
    )
    rng = random.Random(seed)
    start = timezone.now() - timedelta(days=1)

    def params(family: str) -> dict:
        out: dict = {"model": family}
        for name, (group, spec) in specs.items():
            if group != family:
                continue
            if spec["type"] == "float":
                out[name] = rng.uniform(spec["low"], spec["high"])
            elif spec["type"] == "int":
                out[name] = rng.randint(spec["low"], spec["high"])
            elif spec["type"] == "fixed":
                out[name] = spec["value"]
            else:
                out[name] = rng.choice(spec["choices"])
        return out

    batch = []
    for number in range(n_trials):
        state = rng.choices(["complete", "pruned", "failed"], [0.8, 0.15, 0.05])[0]
        value = rng.betavariate(8, 2) if state == "complete" else None
        curve = {str(s): rng.random() for s in range(10 if state != "failed" else 0)}
        began = start + timedelta(seconds=number)
        batch.append(
            Trial(
                job=job,
                number=number,
                state=state,
                params=params(rng.choice(families)),
                values=None if value is None else [value],
                intermediate_values=curve,
                started_at=began,
                finished_at=began + timedelta(seconds=rng.uniform(0.5, 300)),
                worker="bench:1",
            )
        )
        if len(batch) == 5000:
            Trial.objects.bulk_create(batch)
            batch = []
    Trial.objects.bulk_create(batch)
    return job
