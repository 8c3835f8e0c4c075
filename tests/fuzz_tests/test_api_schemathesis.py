"""Schemathesis against /api/schema/: every operation, called with generated input by a
signed-in user who owns a data set, a job with trials, four model versions (two forests,
a NAS genotype, an int8-quantized network) and a deployment with logged traffic. Zero
5xx, and every response (status, content type, body) is the one the schema documents.

The user is staff, so the monitoring endpoints run their real code instead of a 403.
Path ids are drawn from the user's own objects half of the time, so operations reach past
their 404s. Bounded: a few examples per operation, no deadline (the first call loads
models).
"""

import json

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from automl.jobs.models import Job, Trial
from automl.serving.predict import predict
from automl.serving.traffic import create_deployment
from automl.wsgi import application
from tests.support.factories import (
    FEATURES,
    compressed_dir,
    forest_dir,
    genotype_dir,
    mlp_dir,
    register,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def owned_objects(user, tmp_path) -> list[int]:
    """Objects of every kind the API serves, owned by `user`; their ids."""
    from automl.datasets.models import Dataset

    iris = Dataset.objects.get(builtin_name="iris")
    job = Job.objects.create(
        owner=user,
        kind="hpo",
        name="fuzzed",
        dataset=iris,
        status=Job.Status.SUCCEEDED,
        config={
            "model": "random_forest",
            "n_trials": 2,
            "task": "classification",
            "test_size": 0.2,
            "seed": 0,
        },
        finished_at=timezone.now(),
        progress=1.0,
    )
    for number in range(2):
        Trial.objects.create(
            job=job,
            number=number,
            state=Trial.State.COMPLETE,
            params={"n_estimators": 5},
            values=[0.9],
        )
    v1 = register(user, forest_dir(tmp_path / "v1"), name="iris")
    v2 = register(user, forest_dir(tmp_path / "v2", seed=1), name="iris")
    # A NAS genotype and a compressed (int8) network: the kinds whose actions differ most.
    nas = register(user, genotype_dir(tmp_path / "nas"), name="iris-nas")
    int8 = register(
        user, compressed_dir(mlp_dir(tmp_path / "mlp"), tmp_path / "int8"), name="iris-int8"
    )
    deployment = create_deployment(
        user, name="iris-live", model_name="iris", routes=[{"version": v1.id, "weight": 1}]
    )
    predict(deployment, [dict.fromkeys(FEATURES, 1.0)])
    return sorted({iris.id, job.id, v1.id, v2.id, nas.id, int8.id, deployment.id})


def openapi_document() -> dict:
    """The document /api/schema/ serves, built the same way (it needs no database)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))


schema = schemathesis.openapi.from_dict(openapi_document())
OWNED: dict[str, list[int]] = {}  # the current test's objects, for the hook below


@schema.hook
def flatmap_path_parameters(ctx, parameters: dict | None):
    if not isinstance(parameters, dict):
        return st.just(parameters)
    return st.fixed_dictionaries(
        {
            name: st.one_of(st.just(value), st.sampled_from(OWNED["ids"]))
            if name in ("id", "other")
            else st.just(value)
            for name, value in parameters.items()
        }
    )


@pytest.fixture
def token(db, django_user_model, tmp_path, model_store):
    user = django_user_model.objects.create_user("fuzzer", password="fuzzer-pw-1", is_staff=True)
    OWNED["ids"] = owned_objects(user, tmp_path)
    # As Django's test client does: a request's end must not close the connection that
    # holds the test's transaction (Postgres).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield Token.objects.create(user=user).key
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_every_operation_answers_as_documented(case, token):
    response = case.call_and_validate(
        app=application, checks=CHECKS, headers={"Authorization": f"Token {token}"}
    )
    revokes_token = case.method == "DELETE" and case.path == "/api/v1/auth/token/"
    assert response.status_code != 401 or revokes_token, "the token must be accepted"
