"""The contract every registered job kind keeps (automl.jobs.kinds): adding a kind is one
module and one registry line, and this file runs over it unchanged."""

import pytest

from automl.jobs import kinds
from automl.jobs.charts import TrialSample
from automl.jobs.forms import JobForm
from automl.jobs.models import Job
from tests.support.factories import HPO_CONFIG

KINDS = list(kinds.JOB_KINDS)


def test_job_kind_choices_are_the_registry():
    assert Job.Kind.choices == kinds.choices()
    assert [k.name for k in kinds.all_kinds()] == KINDS


@pytest.mark.parametrize("name", KINDS)
def test_a_kind_names_its_label_and_form(name):
    kind = kinds.get(name)
    assert kind is kinds.get(name), "made once"
    assert kind.label == Job.Kind(name).label
    assert kind.noun
    assert issubclass(kind.form, JobForm) and kind.form.kind == name
    assert set(kind.form.CONFIG_PATHS) <= set(kind.form.base_fields)
    assert set(kind.form.error_fields().values()) <= set(kind.form.base_fields)


# Stored configs as submission leaves them (the kinds read them typed); {}: none needed.
STORED = {
    "hpo": HPO_CONFIG,
    "external": {
        "search_space": {"x": {"type": "float", "low": 0, "high": 1}},
        "direction": "maximize",
    },
}


@pytest.mark.parametrize("name", KINDS)
def test_a_kind_shows_a_job_with_no_result_yet(name):
    job = Job(kind=name, name="j", config=STORED.get(name, {}), result={})
    kind = kinds.get(name)
    metrics = kind.metrics(job)
    assert metrics and all(isinstance(m, str) for m in metrics)
    assert kind.direction(job) in ("minimize", "maximize")
    assert all(f is None for f in kind.figures(job, TrialSample.of([]), metrics)), (
        "nothing to draw yet"
    )
    assert kind.report_rows(job) == []


def test_a_stored_config_fills_each_form_field_it_has_a_path_for():
    from automl.jobs.forms import HpoForm

    config = {
        "model": "random_forest",
        "n_trials": 7,
        "sampler": {"name": "random", "seed": 3},
        "metric": ["accuracy", "f1_macro"],
        "preprocessing": {"scaling": "minmax"},
    }
    fields = HpoForm.fields_from_config(config)
    assert fields["model"] == "random_forest" and fields["n_trials"] == 7
    assert fields["sampler"] == "random" and fields["scaling"] == "minmax"
    assert fields["metric"] == "", "several metrics: the advanced box carries them"
    assert fields["pruner"] == "none" and fields["imputation"] == "", "the field's default"
