"""One table uploaded as a Latin-1 semicolon CSV, Parquet, Excel and JSON lines gives one
profile and one model: every format is read through pyarrow into the same cells."""

import datetime as dt
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from automl.datasets import services
from automl.datasets.models import Dataset
from tests.support.api import submit, upload
from tests.support.factories import run_hpo

pytestmark = pytest.mark.django_db

COLUMNS = ["tenure", "plan", "signed_up", "monthly", "churned"]


def customers(n: int = 120) -> list[list]:
    """Typed rows: an integer, a category with accents, a date, a float with gaps, and a
    string target that depends on plan and tenure."""
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        plan = ["básico", "plus", "pro"][i % 3]
        tenure = int(rng.integers(1, 60))
        monthly = None if i % 11 == 0 else round(20 + 10 * (i % 3) + float(rng.normal()), 2)
        churned = "oui" if (plan == "básico") != (tenure > 30) else "non"
        rows.append([tenure, plan, dt.date(2023, 1 + i % 12, 1 + i % 28), monthly, churned])
    return rows


def as_csv(rows: list[list]) -> bytes:
    def cell(value) -> str:
        return "" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = [";".join(COLUMNS)] + [";".join(cell(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("latin-1")


def as_parquet(rows: list[list]) -> bytes:
    types = [pa.int64(), pa.string(), pa.date32(), pa.float64(), pa.string()]
    table = pa.table(
        {
            name: pa.array([row[j] for row in rows], t)
            for j, (name, t) in enumerate(zip(COLUMNS, types, strict=True))
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def as_xlsx(rows: list[list]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def as_jsonl(rows: list[list]) -> bytes:
    return "".join(
        json.dumps(dict(zip(COLUMNS, row, strict=True)), default=str) + "\n" for row in rows
    ).encode()


FILES = {
    "customers.csv": as_csv,
    "customers.parquet": as_parquet,
    "customers.xlsx": as_xlsx,
    "customers.jsonl": as_jsonl,
}


def test_every_format_gives_the_same_profile_and_the_same_model(alice, alice_api, artifacts):
    rows = customers()
    uploaded = {}
    for name, write in FILES.items():
        response = upload(alice_api, name, write(rows), target="churned")
        assert response.status_code == 201, (name, response.content)
        uploaded[name] = response.json()
    csv = uploaded["customers.csv"]
    assert csv["file_layout"] == {"encoding": "latin-1", "delimiter": ";"}
    assert uploaded["customers.xlsx"]["file_format"] == "xlsx"
    kinds = {c["name"]: c["kind"] for c in csv["profile"]["columns"]}
    assert kinds == {
        "tenure": "numeric",
        "plan": "categorical",
        "signed_up": "datetime",
        "monthly": "numeric",
        "churned": "categorical",
    }
    assert csv["profile"]["columns"][1]["top"][0]["value"] in ("básico", "plus", "pro")
    assert csv["profile"]["columns"][3]["missing"] == 11
    for name, body in uploaded.items():
        assert (body["n_rows"], body["columns"], body["task"]) == (
            120,
            COLUMNS,
            "classification",
        ), name
        assert body["profile"] == csv["profile"], name

    results = [
        run_hpo(
            alice, Dataset.objects.get(id=body["id"]), model="random_forest", n_trials=1
        ).result["refit"]
        for body in uploaded.values()
    ]
    for result in results[1:]:
        assert result["params"] == results[0]["params"]
        assert result["test_metrics"] == results[0]["test_metrics"]


def test_trials_search_a_sample_and_the_refit_fits_every_row(
    alice, alice_api, alice_browser, artifacts
):
    response = upload(alice_api, "customers.parquet", as_parquet(customers(400)))
    dataset = Dataset.objects.get(id=response.json()["id"])
    job = run_hpo(alice, dataset, model="random_forest", n_trials=1, trial_rows=100)
    refit = job.result["refit"]
    assert (refit["trial_rows"], refit["fit_rows"], refit["test_rows"]) == (100, 320, 80)
    page = alice_browser.get(f"/jobs/{job.id}/")
    assert b"stratified sample of 100 of the 320 search rows" in page.content
    assert b"fitted on all 320" in page.content


def test_trial_rows_is_checked(alice_api, artifacts):
    response = upload(alice_api, "customers.csv", as_csv(customers()))
    job = submit(alice_api, "hpo", response.json()["id"], {"trial_rows": 5})
    assert job.status_code == 400, job.content
    assert "trial_rows" in str(job.json()["fields"])


def test_blank_lines_before_the_header_are_skipped_when_read_again(alice_api, artifacts):
    response = upload(alice_api, "gaps.csv", b"\n\n" + as_csv(customers()))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["file_layout"]["header_line"] == 2 and body["n_rows"] == 120
    data = services.training_data(Dataset.objects.get(id=body["id"]), {})
    assert data.feature_names == COLUMNS[:-1] and len(data.y) == 120
