"""The model card (Markdown and HTML): over the API, on the page, and in the download zip;
and the model page's evaluation section."""

import io
import zipfile

import pytest
from django.test import Client

from tests.support.factories import evaluated, run_hpo

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(alice, iris, model_store):
    version = evaluated(
        run_hpo(alice, iris, model="random_forest", n_trials=5, metric="log_loss")
    )[0]
    assert version.job.result["importances"]  # fANOVA needs a few trials
    return version


def test_the_card_carries_metrics_with_intervals_importances_and_limits(alice_api, version):
    report = version.evaluation.report
    text = alice_api.get(f"/api/v1/models/{version.id}/card/?output=markdown").content.decode()
    accuracy = report["metrics"]["accuracy"]
    assert (
        f"| accuracy | {accuracy['value']:.4g} | {accuracy['low']:.4g} to "
        f"{accuracy['high']:.4g} |" in text
    )
    assert "## Permutation importance" in text and "## Known limits" in text
    assert "## Lineage" in text and f"job: {version.job_id}" in text
    assert "## Data" in text and "Only 30 test rows" in text
    html = alice_api.get(f"/api/v1/models/{version.id}/card/?output=html")
    assert html["Content-Type"].startswith("text/html")
    assert "Known limits" in html.content.decode()
    bad = alice_api.get(f"/api/v1/models/{version.id}/card/?output=pdf")
    assert bad.status_code == 400 and "output" in bad.json()["fields"]


def test_the_download_zip_holds_both_cards(alice_api, version):
    response = alice_api.get(f"/api/v1/models/{version.id}/download/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "Evaluation on held-out rows" in archive.read("MODEL_CARD.md").decode()
    assert "Permutation importance" in archive.read("MODEL_CARD.html").decode()


def test_the_model_page_shows_the_evaluation_and_links_the_card(alice, bob, version):
    client = Client()
    client.force_login(alice)
    page = client.get(f"/models/{version.id}/").content.decode()
    for title in (
        "Confusion matrix",
        "ROC",
        "Precision-recall",
        "Calibration",
        "Permutation importance",
        "Parameter importances",
    ):
        assert title in page, title
    assert f"/models/{version.id}/card/" in page
    assert "Known limits" in client.get(f"/models/{version.id}/card/").content.decode()
    response = client.post(f"/models/{version.id}/evaluation/")
    assert response.status_code == 302
    version.evaluation.refresh_from_db()
    assert version.evaluation.status == "queued"
    client.force_login(bob)
    assert client.get(f"/models/{version.id}/card/").status_code == 404
    assert client.post(f"/models/{version.id}/evaluation/").status_code == 404
