"""GET/POST /api/v1/models/{id}/evaluation/: the report of an HPO job's model, checked
against sklearn on the same rows, and who may see it."""

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance

from automl.datasets.models import Dataset
from automl.datasets.services import training_data
from automl.evaluation.models import Evaluation
from automl.jobs.models import Trial
from automl.registry.storage import get_storage
from tests.support.factories import evaluated, forest_dir, register, run_hpo
from workers.data.splits import holdout_split
from workers.models.artifacts import load_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def forest(alice, iris, model_store):
    job = run_hpo(
        alice, iris, model="random_forest", seed=5, validation={"method": "cv", "folds": 3}
    )
    return (job, *evaluated(job))


def test_it_reports_sklearns_numbers_on_the_rows_the_job_held_out(alice_api, forest):
    job, version, evaluation = forest
    body = alice_api.get(f"/api/v1/models/{version.id}/evaluation/").json()
    assert body["status"] == "succeeded" and body["version"] == version.id
    report = body["report"]
    data = training_data(job.dataset, job.config)
    test = holdout_split(data, job.config["test_size"], job.config["seed"])
    model = load_model(get_storage().local_dir(version.storage_key))
    pred, proba = model.predict(test.X_valid), model.predict_proba(test.X_valid)
    accuracy = report["metrics"]["accuracy"]
    assert accuracy["value"] == pytest.approx(skm.accuracy_score(test.y_valid, pred))
    # The same rows the job scored its refit model on at registration.
    assert accuracy["value"] == pytest.approx(version.metrics["accuracy"])
    assert accuracy["low"] <= accuracy["value"] <= accuracy["high"]
    assert report["metrics"]["roc_auc"]["value"] == pytest.approx(
        skm.roc_auc_score(test.y_valid, proba, multi_class="ovr")
    )
    assert report["confusion_matrix"] == skm.confusion_matrix(test.y_valid, pred).tolist()
    assert report["split"]["n_test"] == len(test.y_valid) == report["n_rows"]
    assert len(report["roc"]) == len(report["pr"]) == 3 and report["calibration"]["predicted"]

    # CV: each fold refitted as the trials were; their mean is the best trial's value.
    cv = report["validation"]["cv"]
    best = Trial.objects.get(job=job, number=version.trial_number)
    assert cv["folds"] == 3 and cv["mean"] == pytest.approx(best.values[0])
    assert cv["std"] == pytest.approx(np.std(cv["scores"], ddof=1))

    importances = {f["feature"]: f for f in report["importances"]["features"]}
    direct = permutation_importance(
        model,
        test.X_valid,
        test.y_valid,
        scoring="accuracy",
        n_repeats=10,
        random_state=job.config["seed"],
    )
    for j, name in enumerate(version.features):
        assert importances[name]["mean"] == pytest.approx(direct.importances_mean[j])
        assert importances[name]["std"] == pytest.approx(direct.importances_std[j])
    assert report["hpo_importances"] == job.result["importances"]
    assert "answers" not in body


def test_only_the_owner_sees_or_asks_for_it(alice_api, bob_api, forest):
    _, version, _ = forest
    url = f"/api/v1/models/{version.id}/evaluation/"
    for response in (bob_api.get(url), bob_api.post(url)):
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert bob_api.get(f"/api/v1/models/{version.id}/card/").status_code == 404
    assert alice_api.get("/api/v1/models/99999/evaluation/").status_code == 404


def test_a_post_queues_it_again(alice_api, forest):
    _, version, evaluation = forest
    response = alice_api.post(f"/api/v1/models/{version.id}/evaluation/")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert Evaluation.objects.filter(version=version).count() == 1


def test_a_version_without_held_out_rows_is_a_409(alice, alice_api, model_store, tmp_path):
    version = register(alice, forest_dir(tmp_path / "m"))
    url = f"/api/v1/models/{version.id}/evaluation/"
    assert alice_api.get(url).status_code == 404
    response = alice_api.post(url)
    assert response.status_code == 409 and "not made by a job" in response.json()["detail"]


def test_a_failed_evaluation_says_why(alice, alice_api, forest):
    job, version, evaluation = forest
    Dataset.objects.filter(id=job.dataset_id).update(sha256="0" * 64)
    version.dataset_sha256 = "1" * 64
    version.save(update_fields=["dataset_sha256"])
    alice_api.post(f"/api/v1/models/{version.id}/evaluation/")
    from automl.evaluation.tasks import evaluate_model

    assert evaluate_model(evaluation.id) == "failed"
    body = alice_api.get(f"/api/v1/models/{version.id}/evaluation/").json()
    assert body["status"] == "failed" and "changed since" in body["error"]


def test_a_regressor_gets_residuals(alice, alice_api, model_store):
    diabetes = Dataset.objects.get(builtin_name="diabetes")
    job = run_hpo(alice, diabetes, model="ridge", name="diabetes ridge")
    version, evaluation = evaluated(job)
    report = alice_api.get(f"/api/v1/models/{version.id}/evaluation/").json()["report"]
    data = training_data(diabetes, job.config)
    test = holdout_split(data, job.config["test_size"], job.config["seed"])
    model = load_model(get_storage().local_dir(version.storage_key))
    pred = model.predict(test.X_valid)
    assert report["metrics"]["rmse"]["value"] == pytest.approx(
        skm.root_mean_squared_error(test.y_valid, pred)
    )
    np.testing.assert_allclose(report["residuals"]["residual"], test.y_valid - pred)
    assert "confusion_matrix" not in report and report["validation"]["method"] == "holdout"
