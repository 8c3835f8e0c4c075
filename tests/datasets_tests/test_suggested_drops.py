"""Constant, ID-like, leaky and duplicate columns are found at profile time, listed on the
data set page with the search form's boxes ticked, and dropped by one config key."""

import numpy as np
import pytest

from automl.datasets import services
from automl.datasets.models import Dataset
from tests.support.api import submit, upload
from tests.support.data import csv_text

pytestmark = pytest.mark.django_db


def customers_with_traps(n: int = 300) -> str:
    rng = np.random.default_rng(3)
    rows = [
        ["customer_id", "plan", "tenure", "country", "plan_code", "refund_issued", "monthly"]
        + ["churned"]
    ]
    for i in range(n):
        plan = ["basic", "plus", "pro"][i % 3]
        tenure = int(rng.integers(1, 60))
        churned = "yes" if (plan == "basic") != (tenure > 30) else "no"
        rows.append(
            [
                f"C{100000 + i}",  # an identifier
                plan,
                tenure,
                "FR",  # constant
                {"basic": "B", "plus": "P", "pro": "R"}[plan],  # plan under another name
                "1" if churned == "yes" else "0",  # only known once the customer churned
                "" if i % 13 == 0 else f"{rng.normal(50, 10):.2f}",
                churned,
            ]
        )
    return csv_text(rows)


EXPECTED = {
    "customer_id": "id_like",
    "country": "constant",
    "plan_code": "duplicate",
    "refund_issued": "leaky",
}


@pytest.fixture
def traps(alice_api, artifacts) -> dict:
    response = upload(alice_api, "customers.csv", customers_with_traps(), target="churned")
    assert response.status_code == 201, response.content
    return response.json()


def test_the_profile_names_each_suspect_column_and_why(traps):
    found = {s["column"]: s["reason"] for s in traps["profile"]["suggested_drops"]}
    assert found == EXPECTED
    details = {s["column"]: s["detail"] for s in traps["profile"]["suggested_drops"]}
    assert details["plan_code"] == "repeats 'plan'"
    assert "predicts 'churned'" in details["refund_issued"]


def test_the_page_lists_them_and_one_click_starts_a_search_without_them(alice_browser, traps):
    page = alice_browser.get(f"/datasets/{traps['id']}/").content.decode()
    assert '<ul id="suggested-drops">' in page
    assert "<code>refund_issued</code> (leaky)" in page
    for column in EXPECTED:
        assert (
            f'value="{column}" ' in page and "checked" in page.split(f'value="{column}"')[1][:40]
        )
    assert 'value="tenure" ' in page and "checked" not in page.split('value="tenure"')[1][:40]

    response = alice_browser.post(
        f"/datasets/{traps['id']}/jobs/",
        {"model": "random_forest", "n_trials": 1, "scaling": "standard", "imputation": "mean"}
        | {"drop": list(EXPECTED)},
    )
    assert response.status_code == 302, response.content
    job = Dataset.objects.get(id=traps["id"]).jobs.get()
    assert sorted(job.config["preprocessing"]["drop"]) == sorted(EXPECTED)


def test_drop_suggested_in_the_api_drops_them(alice_api, traps):
    response = submit(
        alice_api, "hpo", traps["id"], {"n_trials": 1, "preprocessing": {"drop_suggested": True}}
    )
    assert response.status_code == 201, response.content
    config = response.json()["config"]
    data = services.training_data(Dataset.objects.get(id=traps["id"]), config)
    assert data.feature_names == ["plan", "tenure", "monthly"]
    bad = submit(alice_api, "hpo", traps["id"], {"preprocessing": {"drop_suggested": "yes"}})
    assert bad.status_code == 400
    assert "config.preprocessing.drop_suggested" in bad.json()["fields"]
