"""The job pages: list, new-job forms (the API's validation and errors), detail with
charts, status, cancel, run again and continue; another user's job is a 404."""

import json
from functools import partial

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from automl.jobs.models import Job, Trial
from tests.support import factories
from tests.support.api import browser_for
from tests.support.factories import THREE_TRIALS

pytestmark = pytest.mark.django_db

HPO_FORM = {
    "model": "logistic_regression",
    "n_trials": "3",
    "sampler": "random",
    "pruner": "none",
    "validation": "holdout",
    "parallelism": "1",
    "device": "auto",
}


# A finished job with three trials, unless a test says otherwise.
make_job = partial(factories.make_job, status="succeeded", name="done", trials=THREE_TRIALS)


def test_it_needs_a_login(client, alice, iris):
    job = make_job(alice, iris)
    for url in ("/jobs/", "/jobs/new/hpo/", f"/jobs/{job.id}/", f"/jobs/{job.id}/status/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(
            "/accounts/login/?next="
        ), url


def test_an_ordinary_user_signs_in_and_out(client, alice):
    page = client.get("/accounts/login/").content.decode()
    assert 'name="username"' in page and 'name="password"' in page
    response = client.post("/accounts/login/", {"username": "alice", "password": "wrong-password"})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    response = client.post(
        "/accounts/login/?next=/datasets/",
        {"username": "alice", "password": "alice-password-1", "next": "/datasets/"},
    )
    assert response.status_code == 302 and response["Location"] == "/datasets/"
    page = client.get("/jobs/").content.decode()
    assert "Sign out alice" in page and "Monitoring" not in page
    assert client.get("/accounts/logout/").status_code == 405  # a link cannot sign out
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get("/jobs/").status_code == 302


def test_staff_see_monitoring_in_the_nav(django_user_model):
    staff = django_user_model.objects.create_user("sam", password="x-pass-123", is_staff=True)
    page = browser_for(staff).get("/jobs/").content.decode()
    for link in (
        'href="/datasets/"',
        'href="/jobs/"',
        'href="/models/"',
        'href="/deployments/"',
        'href="/monitoring/"',
    ):
        assert link in page


def test_the_list_shows_own_jobs_and_polls_while_one_runs(alice_browser, alice, bob, iris):
    make_job(alice, iris, name="mine-done")
    make_job(bob, iris, name="bobs")
    page = alice_browser.get("/jobs/").content.decode()
    assert "mine-done" in page and "bobs" not in page and "data-poll" not in page
    make_job(alice, iris, status="running", name="mine-running", progress=0.5)
    page = alice_browser.get("/jobs/").content.decode()
    assert "data-poll=" in page and "50 %" in page
    rows = alice_browser.get("/jobs/?fragment=rows").content.decode()
    assert "<html" not in rows and "mine-running" in rows and 'data-finished="0"' in rows
    assert "mine-running" not in alice_browser.get("/jobs/?status=succeeded").content.decode()


def test_the_hpo_form_submits_through_the_api_serializer(alice_browser, alice, iris):
    assert 'name="advanced"' in alice_browser.get("/jobs/new/hpo/").content.decode()
    response = alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "name": "form job"}
    )
    job = Job.objects.get(owner=alice)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}/"
    assert (job.kind, job.name, job.status) == ("hpo", "form job", "queued")
    assert job.config["model"] == "logistic_regression" and job.config["n_trials"] == 3
    assert job.config["sampler"]["name"] == "random" and job.config["direction"] == "maximize"


def test_the_hpo_form_takes_a_time_budget_a_preset_and_the_ensemble_switch(
    alice_browser, alice, iris
):
    page = alice_browser.get("/jobs/new/hpo/").content.decode()
    assert 'name="time_budget_s"' in page and 'name="preset"' in page
    form = {**HPO_FORM, "model": "auto", "n_trials": "", "validation": ""}
    alice_browser.post(
        "/jobs/new/hpo/",
        {**form, "dataset": iris.id, "time_budget_s": "30", "preset": "balanced"},
    )
    job = Job.objects.get(owner=alice)
    config = job.config
    # The preset sets what the form left empty (validation, families, ensembling)...
    assert config["preset"] == "balanced" and config["time_budget_s"] == 30
    assert config["validation"] == {"method": "cv", "folds": 3}
    assert config["ensemble"]["enabled"] is True and config["n_trials"] == 10000
    # ...and a field filled in wins over it.
    alice_browser.post(
        "/jobs/new/hpo/",
        {**form, "dataset": iris.id, "name": "mine", "preset": "balanced", "ensemble": "False"},
    )
    mine = Job.objects.get(owner=alice, name="mine").config
    assert mine["ensemble"]["enabled"] is False and mine["time_budget_s"] == 300


def test_the_advanced_box_is_merged_over_the_fields(alice_browser, alice, iris):
    advanced = {
        "sampler": {"seed": 7},
        "search_space": {"C": {"type": "float", "low": 0.1, "high": 2.0}},
    }
    response = alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "advanced": json.dumps(advanced)}
    )
    assert response.status_code == 302
    config = Job.objects.get(owner=alice).config
    assert config["sampler"]["name"] == "random" and config["sampler"]["seed"] == 7
    assert list(config["search_space"]) == ["C"]


def test_errors_are_the_apis_in_plain_words_beside_the_field(
    alice_browser, alice_api, alice, iris
):
    bad = {**HPO_FORM, "dataset": iris.id, "metric": "r2"}
    response = alice_browser.post("/jobs/new/hpo/", bad)
    api = alice_api.post(
        "/api/v1/jobs/",
        {
            "kind": "hpo",
            "dataset": iris.id,
            "config": {"model": "logistic_regression", "metric": "r2"},
        },
        format="json",
    ).json()
    assert response.status_code == 400
    page = response.content.decode()
    message = api["fields"]["config.metric"][0]
    # The label names the field: no API path ("config.metric: ...") beside it.
    said = (message[0].upper() + message[1:]).replace("'", "&#x27;")
    assert said in page and "config.metric" not in page
    field = page.split('class="field-metric invalid"')[1].split("</p>")[0]
    assert f'id="id_metric_error">{said}' in field
    assert not Job.objects.exists()
    # A mistake inside the advanced box is shown beside it, named by its place in the JSON.
    advanced = json.dumps({"search_space": {"C": {"type": "float", "low": 2, "high": 1}}})
    page = alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "advanced": advanced}
    ).content.decode()
    assert "search space › C › low: must not exceed high" in page
    page = alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "advanced": "{nope"}
    ).content.decode()
    assert "not valid JSON" in page and not Job.objects.exists()


def test_every_error_is_shown_at_once_with_a_summary(alice_browser, iris):
    """A field the form rejects (trials 0) does not hide what the API finds wrong in the
    others (a regression metric, a bad search space); the summary links to each field."""
    advanced = json.dumps({"search_space": {"C": {"type": "float", "low": 2, "high": 1}}})
    response = alice_browser.post(
        "/jobs/new/hpo/",
        {**HPO_FORM, "dataset": iris.id, "n_trials": "0", "metric": "r2", "advanced": advanced},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"n_trials", "metric", "advanced"}
    page = response.content.decode()
    summary = page.split('id="error-summary"')[1].split("</div>")[0]
    assert "3 things to fix" in summary
    for field in ("n_trials", "metric", "advanced"):
        assert f'href="#id_{field}"' in summary


def test_described_by_ids_exist(alice_browser, iris):
    """Each aria-describedby names an element of the page (help text, errors)."""
    import re

    page = alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "n_trials": "0"}
    ).content.decode()
    named = {i for ids in re.findall(r'aria-describedby="([^"]+)"', page) for i in ids.split()}
    assert "id_n_trials_error" in named and "id_model_helptext" in named
    ids = set(re.findall(r'id="([^"]+)"', page))
    assert named <= ids, named - ids


def test_the_forms_set_gpus_per_trial_and_model_parallel_stages(alice_browser, alice, iris):
    mlp = {**HPO_FORM, "model": "mlp", "dataset": iris.id, "stages": "2"}
    page = alice_browser.post("/jobs/new/hpo/", {**mlp, "gpus": "1"}).content.decode()
    message = "2 stages need 2 GPUs, one each; resources.gpus is 1"
    assert message in page.split('id="id_stages_error">')[1][:200]
    assert alice_browser.post("/jobs/new/hpo/", {**mlp, "gpus": "2"}).status_code == 302
    job = Job.objects.get(owner=alice)
    assert job.resources == {"device": "auto", "gpus": 2} and job.queue == "gpu"
    assert job.config["trainer"]["stages"] == 2
    again = alice_browser.get(f"/jobs/new/hpo/?from={job.id}").content.decode()
    assert 'name="stages" value="2"' in again and 'name="gpus" value="2"' in again
    nas = {"dataset": iris.id, "device": "cpu", "stages": "2", "gpus": "0"}
    assert alice_browser.post("/jobs/new/nas/", nas).status_code == 302
    assert Job.objects.get(kind="nas").config["trainer"]["stages"] == 2


def test_continue_from_another_users_job_is_refused(alice_browser, bob, iris):
    theirs = make_job(bob, iris)
    response = alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "warm_start_from": theirs.id}
    )
    assert response.status_code == 400
    assert "is not the id of one of your HPO jobs" in response.content.decode()
    assert alice_browser.get(f"/jobs/new/hpo/?from={theirs.id}").status_code == 404


def test_the_nas_form_submits_a_nas_job(alice_browser, alice, iris):
    response = alice_browser.post(
        "/jobs/new/nas/",
        {
            "dataset": iris.id,
            "strategy": "random",
            "budget": "3",
            "proxy_epochs": "1",
            "retrain_epochs": "2",
            "seed": "0",
            "device": "cpu",
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    job = Job.objects.get(owner=alice)
    assert job.kind == "nas" and job.config["strategy"]["candidates"] == 3
    assert job.config["space"]["name"] == "mlp" and job.resources["device"] == "cpu"
    page = alice_browser.post(
        "/jobs/new/nas/", {"dataset": iris.id, "budget": "3", "device": "cpu"}
    ).content.decode()
    assert "choose a strategy to give it a budget" in page


def test_an_unknown_kind_is_a_404(alice_browser):
    assert alice_browser.get("/jobs/new/nope/").status_code == 404


@pytest.mark.parametrize("kind", ["hpo", "nas"])
def test_run_again_resubmits_the_stored_config(alice_browser, alice, iris, kind):
    form = (
        HPO_FORM
        if kind == "hpo"
        else {
            "strategy": "evolution",
            "budget": "2",
            "device": "auto",
            "seed": "3",
            "parallelism": "2",
        }
    )
    alice_browser.post(f"/jobs/new/{kind}/", {**form, "dataset": iris.id, "name": "first"})
    first = Job.objects.get(owner=alice)
    page = alice_browser.get(f"/jobs/new/{kind}/?from={first.id}")
    initial = page.context["form"].initial
    data = {key: "" if value is None else value for key, value in initial.items()}
    response = alice_browser.post(f"/jobs/new/{kind}/", data)
    assert response.status_code == 302, page.context["form"].initial
    again = Job.objects.exclude(id=first.id).get()
    assert again.config == first.config and again.name == "first"
    assert again.config["parallelism"] == 2 or kind == "hpo"


def test_run_again_keeps_only_the_users_own_json(alice_browser, alice, iris):
    """The advanced box holds what the user wrote, not the ~200 lines of defaults the stored
    config spells out, so changing the model on the form still submits."""
    advanced = {"sampler": {"seed": 7}, "patience": 5}
    alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "advanced": json.dumps(advanced)}
    )
    first = Job.objects.get(owner=alice)
    initial = alice_browser.get(f"/jobs/new/hpo/?from={first.id}").context["form"].initial
    assert json.loads(initial["advanced"]) == advanced
    data = {key: "" if value is None else value for key, value in initial.items()}
    response = alice_browser.post("/jobs/new/hpo/", {**data, "model": "knn"})
    assert response.status_code == 302
    again = Job.objects.exclude(id=first.id).get()
    assert again.config["model"] == "knn" and again.config["sampler"]["seed"] == 7
    assert set(again.config["search_space"]) != set(first.config["search_space"])


def test_continue_seeds_the_study_with_the_jobs_trials(alice_browser, alice, iris):
    done = make_job(alice, iris)
    page = alice_browser.get(f"/jobs/{done.id}/").content.decode()
    assert f"?from={done.id}&amp;continue=1" in page and "Run again" in page
    initial = (
        alice_browser.get(f"/jobs/new/hpo/?from={done.id}&continue=1").context["form"].initial
    )
    assert initial["warm_start_from"] == done.id
    data = {key: "" if value is None else value for key, value in initial.items()}
    assert alice_browser.post("/jobs/new/hpo/", {**HPO_FORM, **data}).status_code == 302
    new = Job.objects.exclude(id=done.id).get()
    assert new.config["warm_start"]["from_job"] == done.id
    assert len(new.config["warm_start"]["trials"]) == 2  # the complete ones


def chart_titles(browser, job) -> list[str]:
    """The titles of the figures the job page's script fetches and draws."""
    figures = browser.get(f"/jobs/{job.id}/charts/").json()["figures"].values()
    return [f["layout"]["title"]["text"] for f in figures if f is not None]


def test_the_detail_page_has_charts_and_a_sortable_table(alice_browser, alice, iris):
    job = make_job(
        alice, iris, result={"best_value": 0.9, "best_number": 2, "importances": {"C": 1.0}}
    )
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert (
        "/vendor/plotly.min.js?v=" in page and f'data-charts-url="/jobs/{job.id}/charts/"' in page
    )
    assert chart_titles(alice_browser, job) == [
        "Optimization history",
        "Intermediate values",
        "Parameter importances (fANOVA)",
    ]  # parallel coordinates are drawn by the picker (tests/pages_tests/test_search_charts.py)
    # Headings sort on the server, across every page: by number now, by value on a click.
    assert 'aria-sort="ascending"' in page and 'href="?ordering=value"' in page
    assert 'class="state-pruned"' in page
    assert "Cancel job" not in page and "0.90000" in page


def test_a_nas_job_shows_alphas_and_the_genotype(alice_browser, alice, iris):
    genotype = {
        "space": "cell",
        "normal": [[["sep_conv_3x3", 0], ["skip_connect", 1]]],
        "reduce": [],
    }
    job = make_job(
        alice,
        iris,
        config={"strategy": {"name": "darts"}},
        result={
            "metric": "accuracy",
            "genotype": genotype,
            "best": {"number": 2, "score": 0.311},
            "retrain": {"test_metrics": {"accuracy": 0.958}},
            "alpha_history": [{"epoch": 0, "normal": [[0.4, 0.6], [0.5, 0.5]]}],
            "alpha_axes": {"ops": ["skip_connect", "sep_conv_3x3"], "edges": ["0->2", "1->2"]},
        },
    )
    Job.objects.filter(id=job.id).update(kind="nas")
    titles = " ".join(chart_titles(alice_browser, job))
    assert "Architecture weights" in titles and "Found cells" in titles
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert "Continue from this job" not in page and "Run again" in page
    # The supernet's score is not taken for the model's: each is named for what it is.
    assert "Best accuracy while searching</dt>" in page and "accuracy 0.9580" in page
    assert "the retrained model's test score is below" in page


def test_a_running_darts_job_draws_its_alphas_per_epoch(alice_browser, alice, iris):
    """Before its result holds the α history, the epochs' trials carry it."""
    axes = {"ops": ["skip_connect", "sep_conv_3x3"], "edges": ["0->2"]}
    job = make_job(alice, iris, status="running")
    Job.objects.filter(id=job.id).update(kind="nas")
    for epoch, weights in ((1, [0.3, 0.7]), (0, [0.5, 0.5])):
        alphas = {"epoch": epoch, "normal": [weights], **axes}
        Trial.objects.create(
            job=job, number=10 + epoch, state="complete", values=[0.5], params={"alphas": alphas}
        )
    figures = alice_browser.get(f"/jobs/{job.id}/charts/").json()["figures"].values()
    heatmap = next(
        f for f in figures if f and "Architecture weights" in f["layout"]["title"]["text"]
    )
    assert [frame["name"] for frame in heatmap["frames"]] == ["0", "1"]
    assert heatmap["data"][0]["z"] == [[0.3, 0.7]] and heatmap["data"][0]["x"] == axes["ops"]


def test_another_users_job_is_a_404_everywhere(alice_browser, bob, iris):
    theirs = make_job(bob, iris, status="running")
    for url in (f"/jobs/{theirs.id}/", f"/jobs/{theirs.id}/status/"):
        assert alice_browser.get(url).status_code == 404
    assert alice_browser.post(f"/jobs/{theirs.id}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert not theirs.cancel_requested


def test_status_and_cancel(alice_browser, alice, iris):
    running = make_job(alice, iris, status="running", progress=0.25)
    status = alice_browser.get(f"/jobs/{running.id}/status/").json()
    assert status["status"] == "running" and status["progress"] == 0.25
    assert status["trials"] == {"running": 0, "complete": 2, "pruned": 1, "failed": 0, "total": 3}
    page = alice_browser.get(f"/jobs/{running.id}/").content.decode()
    assert "Cancel job" in page and "data-status-url" in page
    response = alice_browser.post(f"/jobs/{running.id}/cancel/", follow=True)
    assert "Cancelling job" in response.content.decode()
    running.refresh_from_db()
    assert running.cancel_requested and running.status == "running"
    queued = make_job(alice, iris, status="queued")
    alice_browser.post(f"/jobs/{queued.id}/cancel/")
    queued.refresh_from_db()
    assert queued.status == "cancelled"
    response = alice_browser.post(f"/jobs/{queued.id}/cancel/", follow=True)
    assert "has already finished (cancelled)" in response.content.decode()


def test_create_user_makes_an_account_that_signs_in(monkeypatch, client, django_user_model):
    monkeypatch.setenv("NEW_PASSWORD", "a-long-password-9")
    call_command("create_user", "carol", "--password-env", "NEW_PASSWORD")
    carol = django_user_model.objects.get(username="carol")
    assert not carol.is_staff and carol.check_password("a-long-password-9")
    assert client.login(username="carol", password="a-long-password-9")
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_user", "carol", "--password-env", "NEW_PASSWORD")
    monkeypatch.setenv("SHORT", "abc")
    with pytest.raises(CommandError, match="too short"):
        call_command("create_user", "dave", "--password-env", "SHORT")


def test_a_staff_account_from_create_user_can_use_the_admin(monkeypatch, client):
    monkeypatch.setenv("NEW_PASSWORD", "a-long-password-9")
    call_command("create_user", "sam", "--staff", "--password-env", "NEW_PASSWORD")
    assert client.login(username="sam", password="a-long-password-9")
    index = client.get("/admin/").content.decode()
    assert "permission to view or edit anything" not in index
    assert "Jobs" in index and "Quotas" in index and "Users" not in index
    assert client.get("/admin/jobs/job/").status_code == 200
    assert client.get("/admin/auth/user/").status_code == 403  # accounts stay with superusers


def test_the_favicon_is_linked_and_served(client):
    assert 'rel="icon"' in client.get("/accounts/login/").content.decode()
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200 and response.redirect_chain[0][1] == 301


def test_every_kind_has_a_form_with_a_json_box(alice_browser):
    for kind in Job.Kind.values:
        response = alice_browser.get(f"/jobs/new/{kind}/")
        assert response.status_code == 200, kind
        assert 'name="advanced"' in response.content.decode() and 'name="dataset"' in (
            response.content.decode()
        )


def test_a_model_choice_job_draws_importances_within_each_family(alice_browser, alice, iris):
    result = {
        "best_value": 0.9,
        "best_number": 2,
        "importances": {"model": 1.0},
        "importances_by_family": {"random_forest": {"random_forest.max_depth": 1.0}},
    }
    titles = chart_titles(alice_browser, make_job(alice, iris, result=result))
    assert len(titles) == 4 and "Parameter importances within random_forest (fANOVA)" in titles


def test_the_options_say_what_they_fit(alice_browser, iris):
    """Each data set's option names its task, input and rows, each model's and metric's
    what it fits: job_form.js offers only the fitting ones (tests/browser/test_job_forms.py)."""
    page = alice_browser.get("/jobs/new/hpo/").content.decode()
    assert (
        f'value="{iris.id}" data-task="classification" data-inputs="tabular" data-rows="150"'
        in page
    )
    assert 'value="ridge" data-tasks="regression" data-inputs="tabular"' in page
    assert 'value="cnn" data-tasks="classification" data-inputs="image"' in page
    assert 'data-max-rows="20000"' in page.split('value="svm"')[1].split(">")[0]
    assert 'value="r2" data-tasks="regression"' in page
    assert 'value="latency_ms"' not in page  # only in a list beside another metric


def test_the_search_space_field_is_the_apis_search_space(alice_browser, alice, iris):
    space = {"C": {"type": "float", "low": 0.5, "high": 2.0, "log": False}}
    response = alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "search_space": json.dumps(space)}
    )
    assert response.status_code == 302
    first = Job.objects.get(owner=alice)
    assert first.config["search_space"]["C"]["low"] == 0.5
    initial = alice_browser.get(f"/jobs/new/hpo/?from={first.id}").context["form"].initial
    assert json.loads(json.dumps(initial["search_space"]))["C"]["high"] == 2.0
    assert "advanced" not in initial  # the space is the field's, not the advanced box's
    # Its errors stand beside it, named from inside the space.
    bad = {"C": {"type": "float", "low": 3, "high": 2}}
    response = alice_browser.post(
        "/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "search_space": json.dumps(bad)}
    )
    assert response.context["form"].errors["search_space"] == ["C › low: must not exceed high"]


def test_run_again_leaves_a_default_search_space_out(alice_browser, alice, iris):
    """The defaults validation filled in were never typed: the editor starts empty (model
    auto: only the families whose space the user changed are shown)."""
    alice_browser.post("/jobs/new/hpo/", {**HPO_FORM, "dataset": iris.id, "model": "auto"})
    job = Job.objects.get(owner=alice)
    assert job.config["search_space"]["model"]["conditional"]  # stored in full
    initial = alice_browser.get(f"/jobs/new/hpo/?from={job.id}").context["form"].initial
    assert initial["search_space"] == "" and "advanced" not in initial
    knn = {"n_neighbors": {"type": "int", "low": 1, "high": 5}}
    auto = {
        "model": {"type": "categorical", "choices": ["knn", "svm"], "conditional": {"knn": knn}}
    }
    alice_browser.post(
        "/jobs/new/hpo/",
        {**HPO_FORM, "dataset": iris.id, "model": "auto", "search_space": json.dumps(auto)},
    )
    job = Job.objects.exclude(id=job.id).get()
    shown = alice_browser.get(f"/jobs/new/hpo/?from={job.id}").context["form"].initial
    assert set(shown["search_space"]["model"]["conditional"]) == {"knn"}
    assert shown["search_space"]["model"]["choices"] == ["knn", "svm"]


def test_a_job_links_to_the_model_it_registered(alice_browser, alice, iris, model_store, tmp_path):
    from tests.support.factories import forest_dir, mlp_dir, register

    config = {**factories.HPO_CONFIG, "metric": "balanced_accuracy"}
    job = make_job(alice, iris, config=config, result={"best_value": 0.9})
    forest = register(alice, forest_dir(tmp_path / "f"), name="iris-forest", job=job)
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    registered = page.split('id="job-registered"')[1].split("</dd>")[0]
    assert f'href="/models/{forest.id}/">Open</a>' in registered
    assert f'href="/deployments/?version={forest.id}">Deploy</a>' in registered
    assert "Compress" not in registered  # a scikit-learn model: the torch compressions refuse it
    # The list names the metric and the model.
    rows = alice_browser.get("/jobs/").content.decode().split("<tbody")[1]
    assert "balanced_accuracy 0.9000" in rows and "iris-forest v1" in rows
    other = make_job(alice, iris, name="net job")
    net = register(alice, mlp_dir(tmp_path / "m"), name="net", job=other)
    page = alice_browser.get(f"/jobs/{other.id}/").content.decode()
    assert f'href="/jobs/new/compression/?model={net.id}">Compress</a>' in page


def test_a_failure_says_what_to_do(alice_browser, alice, iris):
    job = make_job(
        alice, iris, status="failed", failure_class="oom", error_message="MemoryError: ..."
    )
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    said = page.split('id="job-failure-class"')[1].split("</dd>")[0]
    assert "What to do:" in said and "trial_memory_mb" in said


def test_destructive_actions_ask_first(alice_browser, alice, iris):
    job = make_job(alice, iris, status="running")
    page = alice_browser.get(f"/jobs/{job.id}/").content.decode()
    assert f'data-confirm="Cancel job {job.id}?' in page and "js/confirm.js" in page
    alice_browser.post("/accounts/token/")
    account = alice_browser.get("/accounts/").content.decode()
    assert 'data-confirm="Revoke your API token?' in account
