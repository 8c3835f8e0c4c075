"""The data set pages: list and upload form, detail with profile and charts, job form."""

import gzip

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from automl.datasets import charts
from automl.datasets.models import Dataset
from automl.jobs.models import Job
from tests.support.data import IRIS_LIKE, stored_files

pytestmark = pytest.mark.django_db


def post_upload(client, content: bytes, name="flowers.csv", **fields):
    return client.post("/datasets/", {"file": SimpleUploadedFile(name, content), **fields})


def test_it_needs_a_login(client):
    response = client.get("/datasets/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_list_shows_builtins_and_an_upload_form(alice_browser):
    page = alice_browser.get("/datasets/").content.decode()
    assert "Iris" in page and "Diabetes" in page
    assert 'enctype="multipart/form-data"' in page and 'name="file"' in page


def test_an_upload_from_the_form_leads_to_its_profile(alice_browser, artifacts):
    response = post_upload(alice_browser, IRIS_LIKE.encode(), target="species")
    assert response.status_code == 302
    dataset = Dataset.objects.get(source="upload")
    assert response["Location"] == f"/datasets/{dataset.id}/"
    page = alice_browser.get(response["Location"]).content.decode()
    assert "Uploaded flowers." in page
    assert "<td>sepal</td><td>numeric</td>" in page
    assert "<td>colour</td><td>categorical</td>" in page
    assert "/vendor/plotly.min.js?v=" in page and "data-figure=" in page
    assert "rows per class" in page
    assert dataset.sha256 in page


def test_the_page_shows_the_first_rows_as_stored_and_dates_over_time(alice_browser, artifacts):
    rows = "".join(
        f"2024-{1 + i % 12:02d}-{1 + i % 28:02d},{i % 7},{'<b>x</b>' if i == 0 else ''},"
        f"{'yes' if i % 2 else 'no'}\n"
        for i in range(40)
    )
    post_upload(alice_browser, f"day,amount,note,label\n{rows}".encode(), target="label")
    dataset = Dataset.objects.get(source="upload")
    page = alice_browser.get(f"/datasets/{dataset.id}/").content.decode()
    assert "The first 10 of 40 rows" in page
    first = page.split('id="first-rows"')[1].split("</table>")[0]
    assert "<th>day</th><th>amount</th><th>note</th><th>label</th>" in first
    # As the file holds them: the date as written, the cell escaped, the missing one empty.
    assert "<td>2024-01-01</td><td>0</td><td>&lt;b&gt;x&lt;/b&gt;</td><td>no</td>" in first
    assert "<td>2024-02-02</td><td>1</td><td></td><td>yes</td>" in first
    assert first.count("<tr>") == 11  # the header and ten rows
    assert "<td>day</td><td>datetime</td>" in page and "day: rows over time" in page

    builtin = alice_browser.get(f"/datasets/{Dataset.objects.get(builtin_name='iris').id}/")
    first = builtin.content.decode().split('id="first-rows"')[1].split("</table>")[0]
    assert "<th>sepal length (cm)</th>" in first and "<td>5.1</td>" in first


def test_form_errors_are_shown_on_the_form_and_nothing_is_stored(alice_browser, artifacts):
    response = post_upload(alice_browser, b"a,b,c\n1,2,3\n4,5\n")
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="errors"' in page and "row 3 has 2 fields but the header has 3" in page
    assert not Dataset.objects.filter(source="upload").exists()
    assert stored_files(artifacts) == []
    response = post_upload(alice_browser, IRIS_LIKE.encode(), target="nope")
    assert response.status_code == 400 and "no column named &#x27;nope&#x27;" in (
        response.content.decode()
    )
    assert stored_files(artifacts) == []


def test_too_large_from_the_form_is_a_413_on_the_form(alice_browser, artifacts, settings):
    settings.DATASET_MAX_UPLOAD_BYTES = 100
    response = post_upload(alice_browser, IRIS_LIKE.encode())
    assert response.status_code == 413
    assert "larger than the limit of 100 bytes" in response.content.decode()
    assert stored_files(artifacts) == []


def test_the_upload_form_checks_csrf(alice, artifacts):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = post_upload(client, IRIS_LIKE.encode())
    assert response.status_code == 403
    assert stored_files(artifacts) == [] and not Dataset.objects.filter(source="upload").exists()


def test_another_users_data_set_page_is_a_404(alice_browser, bob, artifacts):
    post_upload(alice_browser, IRIS_LIKE.encode())
    dataset = Dataset.objects.get(source="upload")
    bob_browser = Client()
    bob_browser.force_login(bob)
    assert bob_browser.get(f"/datasets/{dataset.id}/").status_code == 404
    assert bob_browser.post(f"/datasets/{dataset.id}/delete/").status_code == 404
    assert bob_browser.post(f"/datasets/{dataset.id}/jobs/", {}).status_code == 404


def test_a_search_starts_from_the_detail_page(alice_browser, artifacts):
    post_upload(alice_browser, IRIS_LIKE.encode())
    dataset = Dataset.objects.get(source="upload")
    response = alice_browser.post(
        f"/datasets/{dataset.id}/jobs/",
        {
            "model": "random_forest",
            "n_trials": 3,
            "scaling": "standard",
            "imputation": "median",
            "search_features": "on",
        },
    )
    assert response.status_code == 302
    job = Job.objects.get(dataset=dataset)
    assert job.config["preprocessing"]["polynomial"] == "search"
    assert job.config["n_trials"] == 3 and job.config["task"] == "classification"
    page = alice_browser.get(f"/datasets/{dataset.id}/").content.decode()
    assert f"Job {job.id} queued" in page and 'class="status">queued' in page
    bad = alice_browser.post(
        f"/datasets/{dataset.id}/jobs/",
        {
            "model": "random_forest",
            "n_trials": 3,
            "scaling": "standard",
            "imputation": "mean",
            "target": "petal",
            "task": "classification",
            "metric": "rmse",
        },
    )
    assert bad.status_code == 400 and "config.metric" in bad.content.decode()


def test_deleting_from_the_page(alice_browser, artifacts):
    post_upload(alice_browser, IRIS_LIKE.encode())
    dataset = Dataset.objects.get(source="upload")
    Job.objects.create(owner=dataset.owner, kind="hpo", name="j", dataset=dataset, config={})
    response = alice_browser.post(f"/datasets/{dataset.id}/delete/")
    assert response.status_code == 409 and "in use" in response.content.decode()
    Job.objects.all().delete()
    response = alice_browser.post(f"/datasets/{dataset.id}/delete/")
    assert response.status_code == 302 and not Dataset.objects.filter(id=dataset.id).exists()
    assert stored_files(artifacts) == []


def test_plotly_js_is_the_vendored_strict_bundle_gzipped_when_accepted(client):
    """The strict bundle (no `new Function`: parcoords draws under the site's CSP), of the
    version the Python package writes figures for, gzipped to browsers that accept it."""
    from plotly.offline import get_plotlyjs_version

    response = client.get("/vendor/plotly.min.js", HTTP_ACCEPT_ENCODING="gzip, br")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Content-Encoding"] == "gzip" and "Accept-Encoding" in response["Vary"]
    assert "max-age" in response["Cache-Control"]
    head = gzip.decompress(response.content)[:300].decode()
    assert f"plotly.js (strict - minified) v{get_plotlyjs_version()}" in head
    plain = client.get("/vendor/plotly.min.js")
    assert "Content-Encoding" not in plain and plain.content.startswith(head.encode())


def test_charts_are_pure_functions_of_the_profile():
    column = {"name": "a", "histogram": {"edges": [0, 1, 2], "counts": [3, 4]}}
    fig = charts.column_figure(column)
    assert list(fig.data[0].y) == [3, 4] and list(fig.data[0].x) == [0.5, 1.5]
    assert charts.column_figure({"name": "b", "top": [{"value": "x", "count": 2}]}).data[0].y == (
        2,
    )
    assert charts.column_figure({"name": "c"}) is None
    boolean = {
        "name": "d",
        "kind": "boolean",
        "histogram": column["histogram"],
        "top": [{"value": "yes", "count": 3}, {"value": "no", "count": 1}],
    }
    assert list(charts.column_figure(boolean).data[0].x) == ["yes", "no"]
    dates = {
        "name": "day",
        "kind": "datetime",
        "timeline": {
            "edges": ["2024-01-01T00:00:00", "2024-01-03T00:00:00", "2024-01-05T00:00:00"],
            "counts": [2, 5],
        },
    }
    fig = charts.column_figure(dates)
    assert list(fig.data[0].x) == ["2024-01-02T00:00:00", "2024-01-04T00:00:00"]
    assert list(fig.data[0].y) == [2, 5] and list(fig.data[0].width) == [172_800_000] * 2
    assert fig.layout.xaxis.type == "date" and fig.layout.yaxis.title.text == "rows"
    assert charts.column_figure({"name": "e", "kind": "datetime"}) is None  # older profiles
    balance = charts.class_balance({"name": "t", "classes": [{"value": 0, "count": 5}]})
    assert list(balance.data[0].x) == ["0"]


def test_admin_deletes_through_the_service(admin_client, alice_browser, artifacts):
    post_upload(alice_browser, IRIS_LIKE.encode())
    dataset = Dataset.objects.get(source="upload")
    job = Job.objects.create(owner=dataset.owner, kind="hpo", name="j", dataset=dataset, config={})
    url = f"/admin/datasets/dataset/{dataset.id}/delete/"
    admin_client.post(url, {"post": "yes"})
    assert Dataset.objects.filter(id=dataset.id).exists() and dataset.path.exists()
    job.delete()
    admin_client.post(url, {"post": "yes"})
    assert not Dataset.objects.filter(id=dataset.id).exists()
    assert stored_files(artifacts) == []
