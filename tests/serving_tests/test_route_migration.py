"""Migration serving 0003: each deployment's JSON list of routes becomes its Route rows,
in order and with its weights; a route to a version that no longer exists is dropped."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("serving", "0002_deployment_batching")]
AFTER = [("serving", "0004_remove_deployment_routes")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_json_routes_become_route_rows_and_back():
    old = migrate(BEFORE)
    try:
        user = old.get_model("auth", "User").objects.create(username="mig")
        ModelVersion = old.get_model("registry", "ModelVersion")
        v1, v2 = (
            ModelVersion.objects.create(
                owner=user,
                name="iris",
                version=n,
                source="import",
                framework="sklearn",
                task="classification",
                storage_key=f"versions/mig-{n}",
                data_file="model.skops",
                sha256="0" * 64,
                size=1,
            )
            for n in (1, 2)
        )
        old.get_model("serving", "Deployment").objects.create(
            owner=user,
            name="live",
            model_name="iris",
            routes=[
                {"version": v2.id, "weight": 90},
                {"version": v1.id, "weight": 10.5},
                {"version": v2.id + 1000, "weight": 1},  # deleted by hand long ago
            ],
        )

        new = migrate(AFTER)
        routes = new.get_model("serving", "Route").objects.order_by("id")
        assert [(r.version_id, r.weight) for r in routes] == [(v2.id, 90.0), (v1.id, 10.5)]

        old = migrate(BEFORE)
        deployment = old.get_model("serving", "Deployment").objects.get()
        assert deployment.routes == [
            {"version": v2.id, "weight": 90.0},
            {"version": v1.id, "weight": 10.5},
        ]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
