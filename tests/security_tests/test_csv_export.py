"""The trials CSV: every trial, metric and parameter columns, and text that a spreadsheet
would run as a formula defused with a leading '."""

import csv
import io

import pytest
from django.utils import timezone

from automl.jobs.export import neutralise
from automl.jobs.models import Job, Trial
from tests.support.factories import HPO_CONFIG

pytestmark = pytest.mark.django_db

FORMULAS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", '=HYPERLINK("http://evil","x")']


@pytest.fixture
def job(alice, iris):
    job = Job.objects.create(
        owner=alice,
        kind="hpo",
        name="j",
        dataset=iris,
        status="succeeded",
        config={**HPO_CONFIG, "metric": ["accuracy", "f1_macro"], "direction": ["maximize"] * 2},
    )
    now = timezone.now()
    for number, choice in enumerate(FORMULAS):
        Trial.objects.create(
            job=job,
            number=number,
            state="complete",
            params={"kernel": choice, "=C": -0.5},
            values=[0.9, -0.25],
            started_at=now,
            finished_at=now,
        )
    Trial.objects.create(
        job=job, number=len(FORMULAS), state="failed", params={}, error="=cmd|' /C calc'!A0"
    )
    return job


def rows_of(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_it_downloads_every_trial_with_formulas_defused(job, alice_api):
    response = alice_api.get(f"/api/v1/jobs/{job.id}/trials.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="job-{job.id}-trials.csv"' in response["Content-Disposition"]
    header, *rows = rows_of(response)
    assert header[:4] == ["number", "state", "accuracy", "f1_macro"]
    assert "'param:=C" not in header and "param:=C" in header  # not at the cell's start
    assert len(rows) == len(FORMULAS) + 1
    kernel = header.index("param:kernel")
    assert [row[kernel] for row in rows[:-1]] == ["'" + f for f in FORMULAS]
    assert rows[0][header.index("param:=C")] == "-0.5"  # a number stays a number
    assert rows[0][3] == "-0.25"
    assert rows[-1][header.index("error")] == "'=cmd|' /C calc'!A0"
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.startswith("-") or float(cell) < 0


def test_it_is_linked_from_the_job_page(job, alice):
    from django.test import Client

    client = Client()
    client.force_login(alice)
    page = client.get(f"/jobs/{job.id}/").content.decode()
    assert f'href="/api/v1/jobs/{job.id}/trials.csv"' in page and "Download CSV" in page
    # A signed-in browser downloads it with its session.
    assert client.get(f"/api/v1/jobs/{job.id}/trials.csv").status_code == 200


def test_another_users_job_is_a_json_404(job, bob_api):
    response = bob_api.get(f"/api/v1/jobs/{job.id}/trials.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "value,cell",
    [
        ("=1", "'=1"),
        ("plain", "plain"),
        (-3, -3),
        (1.5, 1.5),
        (None, ""),
        (True, "true"),
        ({"a": "=b"}, '{"a": "=b"}'),
        (["=x"], '["=x"]'),
    ],
)
def test_neutralise(value, cell):
    assert neutralise(value) == cell
