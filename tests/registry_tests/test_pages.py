"""The browser pages of models and deployments: rendered for the owner, 404 for others."""

import json

import pytest
from django.test import Client
from django.utils.html import escape

from automl.serving.traffic import create_deployment, set_traffic
from tests.support.api import browser_for
from tests.support.factories import forest_dir, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(alice, tmp_path, model_store):
    v1 = register(alice, forest_dir(tmp_path / "1"), name="iris", metrics={"accuracy": 0.9})
    v2 = register(alice, forest_dir(tmp_path / "2"), name="iris", metrics={"accuracy": 0.95})
    deployment = create_deployment(
        alice, name="live", model_name="iris", routes=[{"version": v1.id, "weight": 1}]
    )
    set_traffic(
        deployment, [{"version": v1.id, "weight": 90}, {"version": v2.id, "weight": 10}], None
    )
    return v1, v2, deployment


def test_the_owner_sees_models_and_deployments(alice, setup):
    v1, v2, deployment = setup
    client = browser_for(alice)
    page = client.get("/models/").content.decode()
    assert "iris" in page and "Compare selected" in page
    page = client.get(f"/models/{v1.id}/").content.decode()
    assert "accuracy" in page and "Download zip" in page and "Move to production" in page
    page = client.get(f"/models/compare/?ids={v1.id}&ids={v2.id}").content.decode()
    assert 'title="0.9">0.9</td>' in page and 'title="0.95">0.95</td>' in page
    # The API's own form of the list works on the page too.
    page = client.get(f"/models/compare/?ids={v1.id},{v2.id}").content.decode()
    assert 'title="0.9">0.9</td>' in page and 'title="0.95">0.95</td>' in page
    page = client.get(f"/deployments/{deployment.id}/").content.decode()
    assert "90.0 %" in page and "Roll back" in page
    assert "live" in client.get("/deployments/").content.decode()


def test_forms_promote_and_roll_back(alice, setup):
    v1, _, deployment = setup
    client = browser_for(alice)
    assert client.post(f"/models/{v1.id}/stage/", {"stage": "production"}).status_code == 302
    v1.refresh_from_db()
    assert v1.stage == "production"
    response = client.post(f"/models/{v1.id}/stage/", {"stage": "archived"}, follow=True)
    assert "served by deployment live" in response.content.decode()
    client.post(f"/deployments/{deployment.id}/rollback/")
    deployment.refresh_from_db()
    assert deployment.routes == [{"version": v1.id, "weight": 1.0}]


def test_other_users_get_404s_and_strangers_sign_in(bob, setup):
    v1, _, deployment = setup
    client = browser_for(bob)
    for url in (f"/models/{v1.id}/", f"/deployments/{deployment.id}/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/models/{v1.id}/stage/", {"stage": "production"}).status_code == 404
    assert client.post(f"/deployments/{deployment.id}/rollback/").status_code == 404
    v1.refresh_from_db()
    assert v1.stage == "none"
    assert "iris" not in client.get("/models/").content.decode()
    assert Client().get("/models/").status_code == 302


def test_a_downloaded_zip_imports_as_a_new_version_and_a_bad_file_says_why(alice, setup):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from automl.registry.models import ModelVersion

    v1, _, _ = setup
    client = browser_for(alice)
    archive = client.get(f"/api/v1/models/{v1.id}/download/")  # the page's Download link
    assert archive.status_code == 200
    body = b"".join(archive.streaming_content) if archive.streaming else archive.content
    response = client.post(
        "/models/import/", {"name": "reimported", "archive": SimpleUploadedFile("m.zip", body)}
    )
    version = ModelVersion.objects.get(owner=alice, name="reimported")
    assert response.status_code == 302 and response.url == f"/models/{version.id}/"
    response = client.post(
        "/models/import/",
        {"name": "broken", "archive": SimpleUploadedFile("m.zip", b"not a zip")},
        follow=True,
    )
    assert "not a zip file" in response.content.decode()
    assert not ModelVersion.objects.filter(name="broken").exists()


def test_a_safetensors_file_with_its_spec_imports_and_a_lone_file_is_refused(
    alice, tmp_path, model_store
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from automl.registry.models import ModelVersion
    from tests.support.factories import mlp_dir

    folder = mlp_dir(tmp_path / "mlp")
    spec = (folder / "spec.json").read_bytes()
    weights = (folder / "weights.safetensors").read_bytes()
    client = browser_for(alice)
    response = client.post(
        "/models/import/",
        {
            "name": "from-elsewhere",
            "spec": SimpleUploadedFile("spec.json", spec),
            "weights": SimpleUploadedFile("w.safetensors", weights),
        },
    )
    version = ModelVersion.objects.get(owner=alice, name="from-elsewhere")
    assert response.status_code == 302 and response.url == f"/models/{version.id}/"
    assert version.framework == "torch"
    response = client.post(
        "/models/import/",
        {"name": "lonely", "weights": SimpleUploadedFile("w.safetensors", weights)},
        follow=True,
    )
    assert "Give the spec .json and one model file" in response.content.decode()
    response = client.post(
        "/models/import/",
        {
            "name": "bad-spec",
            "spec": SimpleUploadedFile("spec.json", b"{nope"),
            "weights": SimpleUploadedFile("w.safetensors", weights),
        },
        follow=True,
    )
    assert "not valid JSON" in response.content.decode()
    assert not ModelVersion.objects.filter(name__in=["lonely", "bad-spec"]).exists()


def test_the_try_it_form_predicts_and_names_a_missing_feature(alice, setup):
    from tests.support.factories import FEATURES

    _, _, deployment = setup
    client = browser_for(alice)
    row = dict.fromkeys(FEATURES, 1.0)
    page = client.post(f"/deployments/{deployment.id}/", {"inputs": json.dumps([row])})
    assert page.status_code == 200 and "&quot;predictions&quot;" in page.content.decode()
    del row[FEATURES[0]]
    page = client.post(f"/deployments/{deployment.id}/", {"inputs": json.dumps([row])})
    assert page.status_code == 400 and FEATURES[0] in page.content.decode()
    page = client.post(f"/deployments/{deployment.id}/", {"inputs": "[{"})
    assert page.status_code == 400 and "not valid JSON" in page.content.decode()


def test_the_try_it_form_explains_and_shows_the_request_as_code(alice, setup):
    from tests.support.factories import FEATURES

    _, _, deployment = setup
    client = browser_for(alice)
    page = client.get(f"/deployments/{deployment.id}/").content.decode()
    row = json.dumps(dict.fromkeys(FEATURES, 0)).replace('"', "&quot;")
    assert f">[{row}]</textarea>" in page  # the box starts from a row of the model's features
    snippets = page.split('id="snippets"')[1].split("</details>")[0]
    assert f"http://testserver/api/v1/deployments/{deployment.id}/predict/" in snippets
    python_rows = escape(repr([dict.fromkeys(FEATURES, 0)]))
    assert f"client.deployments.predict({deployment.id}, {python_rows})" in snippets
    rows = json.dumps([dict.fromkeys(FEATURES, 1.0)])
    page = client.post(f"/deployments/{deployment.id}/", {"inputs": rows, "explain": "on"})
    assert page.status_code == 200 and "&quot;explanations&quot;" in page.content.decode()


def test_deploy_a_version_with_a_canary_split_then_change_it(alice, bob, setup):
    from automl.serving.models import Deployment

    v1, v2, _ = setup
    client = browser_for(alice)
    page = client.get(f"/deployments/?version={v2.id}")
    assert page.context["form"].initial["main"] == v2
    response = client.post(
        "/deployments/",
        {"name": "ab-test", "main": v1.id, "canary": v2.id, "canary_percent": "25"},
    )
    deployment = Deployment.objects.get(owner=alice, name="ab-test")
    assert response.status_code == 302 and response.url == f"/deployments/{deployment.id}/"
    assert deployment.routes == [
        {"version": v1.id, "weight": 75.0},
        {"version": v2.id, "weight": 25.0},
    ]
    # The service's own rules, beside the field: a name in use, a shadow taking traffic.
    response = client.post("/deployments/", {"name": "ab-test", "main": v1.id})
    assert response.status_code == 400
    assert response.context["form"].errors["name"] == ["already in use"]
    response = client.post(
        f"/deployments/{deployment.id}/traffic/", {"main": v1.id, "shadow": v1.id}
    )
    assert response.status_code == 400
    assert "must not also take traffic" in response.context["form"].errors["shadow"][0]
    response = client.post(
        f"/deployments/{deployment.id}/traffic/", {"main": v2.id, "shadow": v1.id}
    )
    deployment.refresh_from_db()
    assert response.status_code == 302
    assert deployment.routes == [{"version": v2.id, "weight": 100.0}]
    assert deployment.shadow_id == v1.id and len(deployment.history) == 1
    # Bob can neither choose Alice's versions nor change her deployment.
    other = browser_for(bob)
    response = other.post("/deployments/", {"name": "mine", "main": v1.id})
    assert response.status_code == 400 and "Select a valid choice" in str(
        response.context["form"].errors["main"]
    )
    assert other.post(f"/deployments/{deployment.id}/traffic/", {"main": v1.id}).status_code == 404


def test_a_models_page_links_to_deploy_and_compress(alice, tmp_path, model_store):
    from tests.support.factories import mlp_dir

    version = register(alice, mlp_dir(tmp_path / "mlp"), name="net")
    page = browser_for(alice).get(f"/models/{version.id}/").content.decode()
    assert f"/deployments/?version={version.id}" in page
    assert f"/jobs/new/compression/?model={version.id}" in page
    form = browser_for(alice).get(f"/jobs/new/compression/?model={version.id}").context["form"]
    assert form.initial["model_version"] == str(version.id)


def test_a_models_page_offers_only_what_its_kind_can_do(alice, setup):
    # The buttons ask the model-kind registry: a forest exports to ONNX only, and does
    # not compress.
    v1, _, _ = setup
    page = browser_for(alice).get(f"/models/{v1.id}/").content.decode()
    assert "/export/onnx/" in page and "/export/torchscript/" not in page
    assert "/jobs/new/compression/" not in page
    assert "TorchScript holds torch networks" in page and "Deploy this version" in page


def test_an_onnx_graph_with_its_spec_imports_from_the_page(alice, model_store):
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    from automl.registry.models import ModelVersion
    from tests.support.onnx_graphs import IRIS_SPEC, iris_logistic

    client = browser_for(alice)
    assert 'name="onnx"' in client.get("/models/").content.decode()
    spec = SimpleUploadedFile("spec.json", json.dumps(IRIS_SPEC).encode())
    graph = SimpleUploadedFile("model.onnx", iris_logistic()[1])
    response = client.post("/models/import/", {"name": "iris-onnx", "spec": spec, "onnx": graph})
    version = ModelVersion.objects.get(owner=alice, name="iris-onnx")
    assert response.status_code == 302 and response.url == f"/models/{version.id}/"
    assert version.framework == "onnx"
    assert client.get(response.url).status_code == 200
