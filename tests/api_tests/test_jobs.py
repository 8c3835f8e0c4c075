import pytest

from automl.jobs.models import Job, Trial
from tests.support.api import submit


def hpo(**config) -> dict:
    return {"model": "random_forest", "n_trials": 3, **config}


@pytest.mark.django_db
def test_it_queues_a_valid_job_with_defaults_filled_in(alice_api, alice, iris):
    response = submit(alice_api, "hpo", iris, hpo())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["queue"] == "cpu"
    assert body["owner"] == "alice"
    assert body["config"]["metric"] == "accuracy"
    assert body["config"]["direction"] == "maximize"
    assert body["config"]["sampler"]["name"] == "tpe"
    assert body["resources"] == {"device": "auto", "gpus": 0}
    job = Job.objects.get(id=body["id"])
    assert job.owner == alice and job.name.startswith("hpo on ")


@pytest.mark.django_db
def test_it_sends_the_job_to_the_broker_after_commit(
    alice_api, iris, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = submit(alice_api, "hpo", iris, hpo())
    assert response.status_code == 201
    assert len(callbacks) == 1  # enqueued only once the row is committed


@pytest.mark.django_db
def test_a_cuda_job_goes_to_the_gpu_queue(alice_api, iris):
    response = submit(alice_api, "hpo", iris, hpo(), resources={"device": "cuda", "gpus": 1})
    assert response.status_code == 201
    assert response.json()["queue"] == "gpu"


@pytest.mark.django_db
def test_model_parallel_stages_take_a_gpu_each_or_run_on_the_cpu(alice_api, iris):
    mlp = {"model": "mlp", "n_trials": 1, "trainer": {"stages": 2}}
    response = submit(alice_api, "hpo", iris, mlp, resources={"device": "auto", "gpus": 1})
    assert response.status_code == 400
    assert response.json()["fields"]["config.trainer.stages"] == [
        "2 stages need 2 GPUs, one each; resources.gpus is 1 (or set resources.device to "
        "'cpu' to run every stage on the CPU)"
    ]
    placed = submit(alice_api, "hpo", iris, mlp, resources={"device": "cuda", "gpus": 2})
    assert placed.status_code == 201 and placed.json()["queue"] == "gpu"
    assert placed.json()["config"]["trainer"]["stages"] == 2
    on_cpu = submit(alice_api, "hpo", iris, mlp, resources={"device": "cpu"})
    assert on_cpu.status_code == 201 and on_cpu.json()["queue"] == "cpu"
    too_many = submit(alice_api, "hpo", iris, {**mlp, "trainer": {"stages": 3}})
    assert "at least 3 blocks" in too_many.json()["fields"]["config.trainer.stages"][0]
    nas = submit(alice_api, "nas", iris, {"trainer": {"stages": 2}}, resources={"gpus": 2})
    assert nas.status_code == 201, nas.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "config,field",
    [
        (
            {"search_space": {"n_estimators": {"type": "int", "low": 50, "high": 10}}},
            "config.search_space.n_estimators",
        ),
        (
            {
                "search_space": {"C": {"type": "float", "low": 0, "high": 1, "log": True}},
                "model": "logistic_regression",
            },
            "config.search_space.C",
        ),
        (
            {"search_space": {"max_depth": {"type": "categorical", "choices": []}}},
            "config.search_space.max_depth",
        ),
        ({"search_space": {"max_depth": {"type": "gaussian"}}}, "config.search_space.max_depth"),
        ({"sampler": {"name": "annealing"}}, "config.sampler.name"),
        ({"n_trials": 0}, "config.n_trials"),
        ({"n_trials": True}, "config.n_trials"),
        ({"metric": "r2"}, "config.metric"),
        ({"model": "catboost"}, "config.model"),
        ({"surprise": 1}, "config.surprise"),
    ],
)
def test_a_bad_config_is_a_400_naming_the_field(alice_api, iris, config, field):
    response = submit(alice_api, "hpo", iris, hpo(**config))
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["error"] == "invalid"
    assert any(path.startswith(field) for path in body["fields"]), body
    assert Job.objects.count() == 0  # nothing half-written


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind,config,field,bound",
    [
        (
            "hpo",
            {"model": "mlp", "search_space": {"epochs": {"type": "fixed", "value": 10**9}}},
            "config.search_space.epochs.value",
            "1000",
        ),
        (
            "hpo",
            {
                "model": "random_forest",
                "search_space": {"n_estimators": {"type": "int", "low": 10, "high": 10**30}},
            },
            "config.search_space.n_estimators.high",
            "2000",
        ),
        (
            "hpo",
            {"model": "mlp", "search_space": {"hidden_units": {"type": "fixed", "value": 16384}}},
            "config.search_space.hidden_units.value",
            "2048",
        ),
        ("hpo", {"trainer": {"processes": 64}}, "config.trainer.processes", "8"),
        ("hpo", {"timeout_s": 10**9}, "config.timeout_s", "604800"),
        ("hpo", {"n_trials": 10001}, "config.n_trials", "10000"),
        ("hpo", {"parallelism": 33}, "config.parallelism", "32"),
        (
            "nas",
            {"space": {"name": "mlp", "widths": [4096], "max_layers": 8}},
            "config.space",
            "50,000,000",
        ),
        (
            "nas",
            {"strategy": {"name": "evolution", "population": 10**6}},
            "config.strategy.population",
            "1000",
        ),
    ],
)
def test_a_size_over_its_bound_is_a_400_naming_the_field_and_the_bound(
    alice_api, iris, kind, config, field, bound
):
    response = submit(alice_api, kind, iris, config)
    assert response.status_code == 400, response.json()
    assert bound in " ".join(response.json()["fields"][field]), response.json()
    assert Job.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body,field",
    [
        ({"kind": "hpo", "config": {}}, "dataset"),
        ({"kind": "quantum", "dataset": "IRIS", "config": {}}, "kind"),
        ({"kind": "hpo", "dataset": 999999, "config": {}}, "dataset"),
        ({"kind": "hpo", "dataset": "iris", "config": {}}, "dataset"),
        ({"kind": "hpo", "dataset": "IRIS", "config": "not an object"}, "config"),
        (
            {"kind": "hpo", "dataset": "IRIS", "config": {}, "resources": {"device": "tpu"}},
            "resources.device",
        ),
        (
            {"kind": "hpo", "dataset": "IRIS", "config": {}, "resources": {"gpus": -1}},
            "resources.gpus",
        ),
    ],
)
def test_a_bad_submission_is_a_400_naming_the_field(alice_api, iris, body, field):
    body = {key: iris.id if value == "IRIS" else value for key, value in body.items()}
    response = alice_api.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"], response.json()


@pytest.mark.django_db
def test_malformed_json_is_a_400(alice_api):
    response = alice_api.post("/api/v1/jobs/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"


@pytest.mark.django_db
def test_it_lists_only_the_callers_jobs_filtered_and_paginated(alice_api, bob_api, iris):
    for _ in range(3):
        assert submit(alice_api, "hpo", iris, hpo()).status_code == 201
    assert submit(bob_api, "hpo", iris, hpo()).status_code == 201
    Job.objects.filter(id=Job.objects.filter(owner__username="alice").first().id).update(
        status="failed"
    )
    listing = alice_api.get("/api/v1/jobs/?page_size=2").json()
    assert listing["count"] == 3 and len(listing["results"]) == 2 and listing["next"]
    assert alice_api.get("/api/v1/jobs/?status=failed").json()["count"] == 1
    assert alice_api.get("/api/v1/jobs/?kind=hpo").json()["count"] == 3
    assert bob_api.get("/api/v1/jobs/").json()["count"] == 1


@pytest.mark.django_db
def test_an_unknown_filter_value_is_a_400(alice_api):
    response = alice_api.get("/api/v1/jobs/?status=exploded")
    assert response.status_code == 400
    assert "status" in response.json()["fields"]


@pytest.mark.django_db
def test_another_users_job_is_a_404_for_every_action(alice_api, bob_api, iris):
    job_id = submit(alice_api, "hpo", iris, hpo()).json()["id"]
    assert bob_api.get(f"/api/v1/jobs/{job_id}/").status_code == 404
    assert bob_api.get(f"/api/v1/jobs/{job_id}/trials/").status_code == 404
    assert bob_api.post(f"/api/v1/jobs/{job_id}/cancel/").status_code == 404
    assert Job.objects.get(id=job_id).status == "queued"
    assert alice_api.get(f"/api/v1/jobs/{job_id}/").status_code == 200


@pytest.mark.django_db
def test_cancelling_a_queued_job_cancels_it_at_once(alice_api, iris):
    job_id = submit(alice_api, "hpo", iris, hpo()).json()["id"]
    response = alice_api.post(f"/api/v1/jobs/{job_id}/cancel/")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    again = alice_api.post(f"/api/v1/jobs/{job_id}/cancel/")
    assert again.status_code == 409
    assert "already finished" in again.json()["detail"]


@pytest.mark.django_db
def test_cancelling_a_running_job_asks_the_worker_to_stop(alice_api, iris):
    job_id = submit(alice_api, "hpo", iris, hpo()).json()["id"]
    Job.objects.filter(id=job_id).update(status="running")
    response = alice_api.post(f"/api/v1/jobs/{job_id}/cancel/")
    assert response.status_code == 202
    assert response.json()["status"] == "running"
    assert response.json()["cancel_requested"] is True


@pytest.mark.django_db
def test_trials_are_listed_in_order(alice_api, iris):
    job = Job.objects.get(id=submit(alice_api, "hpo", iris, hpo()).json()["id"])
    for number in (2, 0, 1):
        Trial.objects.create(job=job, number=number, state="complete", values=[0.5 + number / 10])
    response = alice_api.get(f"/api/v1/jobs/{job.id}/trials/")
    assert [t["number"] for t in response.json()["results"]] == [0, 1, 2]
    assert alice_api.get(f"/api/v1/jobs/{job.id}/trials/?state=pruned").json()["count"] == 0


@pytest.mark.django_db
def test_parallelism_is_validated_and_kept(alice_api, iris):
    response = submit(alice_api, "hpo", iris, hpo(parallelism=4))
    assert response.status_code == 201
    assert response.json()["config"]["parallelism"] == 4
    for bad in (0, 33, 2.5, True, "2"):
        response = submit(alice_api, "hpo", iris, hpo(parallelism=bad))
        assert response.status_code == 400
        assert "config.parallelism" in response.json()["fields"]


@pytest.mark.django_db
def test_warm_start_takes_the_complete_trials_of_one_of_my_jobs(alice_api, bob_api, iris):
    source = Job.objects.get(id=submit(alice_api, "hpo", iris, hpo()).json()["id"])
    Trial.objects.create(
        job=source, number=0, state="complete", values=[0.9], params={"n_estimators": 20}
    )
    Trial.objects.create(job=source, number=1, state="failed", params={"n_estimators": 30})
    response = submit(alice_api, "hpo", iris, hpo(warm_start_from=source.id))
    assert response.status_code == 201, response.json()
    assert response.json()["config"]["warm_start"] == {
        "from_job": source.id,
        "trials": [{"params": {"n_estimators": 20}, "values": [0.9]}],
    }
    stolen = submit(bob_api, "hpo", iris, hpo(warm_start_from=source.id))
    assert stolen.status_code == 400
    assert "config.warm_start_from" in stolen.json()["fields"]
