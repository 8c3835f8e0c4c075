"""Every bad upload is a 4xx that says what is wrong, and leaves no row and no file."""

import io

import numpy as np
import pytest

from automl.datasets.models import Dataset
from tests.support.api import raw_multipart, upload
from tests.support.data import IRIS_LIKE, stored_files

pytestmark = pytest.mark.django_db


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def assert_refused(response, status: int, field: str, words: str, artifacts) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"] in ("invalid", "too_large")
    assert words in body["detail"], body
    if field:
        assert words in " ".join(body["fields"][field])
    assert not Dataset.objects.filter(source="upload").exists()
    assert stored_files(artifacts) == []


RAGGED = "a,b,c\n1,2,3\n4,5\n6,7,8\n"
BAD_CSV = {
    "empty": (b"", "file", "file is empty"),
    "header_only": (b"a,b,target\n", "file", "has a header but no data rows"),
    "binary_garbage": (bytes(range(256)) * 40, "file", "is binary"),
    "ragged_rows": (RAGGED.encode(), "file", "row 3 has 2 fields but the header has 3"),
    "blank_lines_only": (b"\n\n  \n", "file", "the file is empty"),
    "duplicate_header": (b"a,a,b\n1,2,3\n", "file", "names these columns twice: a"),
}


@pytest.mark.parametrize("content,field,words", BAD_CSV.values(), ids=BAD_CSV.keys())
def test_it_refuses_a_bad_csv(alice_api, artifacts, content, field, words):
    assert_refused(upload(alice_api, "data.csv", content), 400, field, words, artifacts)


def test_it_refuses_more_columns_than_allowed(alice_api, artifacts, settings):
    settings.DATASET_MAX_COLUMNS = 5
    content = ",".join(f"c{i}" for i in range(6)) + "\n" + ",".join("1" * 6) + "\n"
    response = upload(alice_api, "wide.csv", content)
    assert_refused(
        response, 400, "file", "the file has 6 columns; at most 5 are allowed", artifacts
    )


def test_it_refuses_2001_columns_by_default(alice_api, artifacts):
    content = ",".join(f"c{i}" for i in range(2001)) + "\n" + ",".join(["1"] * 2001) + "\n"
    response = upload(alice_api, "wide.csv", content)
    assert_refused(response, 400, "file", "at most 2000 are allowed", artifacts)


def test_it_refuses_a_target_column_that_does_not_exist(alice_api, artifacts):
    response = upload(alice_api, "iris.csv", IRIS_LIKE, target="colour_of_sky")
    assert_refused(response, 400, "target", "no column named 'colour_of_sky'", artifacts)


def test_it_refuses_a_target_with_one_class(alice_api, artifacts):
    content = "x,label\n1,a\n2,a\n3,a\n"
    response = upload(alice_api, "one.csv", content, task="classification")
    assert_refused(response, 400, "target", "has one class ('a')", artifacts)


def test_it_refuses_a_non_numeric_target_for_regression(alice_api, artifacts):
    response = upload(alice_api, "iris.csv", IRIS_LIKE, target="species", task="regression")
    assert_refused(
        response, 400, "target", "is not numeric (categorical); regression needs", artifacts
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_it_refuses_nan_or_inf_in_an_npz(alice_api, artifacts, bad):
    X = np.ones((10, 3))
    X[4, 1] = bad
    content = npz_bytes(X=X, y=np.arange(10) % 2)
    response = upload(alice_api, "data.npz", content)
    assert_refused(response, 400, "file", "array X holds 1 NaN or infinite value(s)", artifacts)


def test_it_refuses_an_npz_holding_object_arrays(alice_api, artifacts):
    content = npz_bytes(X=np.array([[1, "a"], [2, "b"]], dtype=object), y=np.array([0, 1]))
    response = upload(alice_api, "objects.npz", content)
    assert_refused(response, 400, "file", "array X holds Python objects", artifacts)


def test_it_refuses_an_npz_without_y(alice_api, artifacts):
    response = upload(alice_api, "x.npz", npz_bytes(X=np.ones((4, 2))))
    assert_refused(response, 400, "file", "y missing", artifacts)


def test_it_refuses_an_npz_that_is_not_a_zip(alice_api, artifacts):
    response = upload(alice_api, "x.npz", b"certainly not a zip file")
    assert_refused(response, 400, "file", "not a valid .npz file", artifacts)


@pytest.mark.parametrize(
    "name", ["../evil.csv", "../../etc/passwd.csv", "a/../../b.csv", "..\\evil.csv"]
)
def test_it_refuses_a_file_name_with_a_path(alice_api, artifacts, name):
    response = raw_multipart(alice_api, name, IRIS_LIKE.encode())
    assert_refused(response, 400, "file", "contains a path", artifacts)


def test_it_refuses_an_unsupported_file_type(alice_api, artifacts):
    response = upload(alice_api, "data.xls", IRIS_LIKE)
    assert_refused(response, 400, "file", "unsupported file type '.xls'", artifacts)


def test_it_answers_413_past_the_size_limit_while_streaming(alice_api, artifacts, settings):
    settings.DATASET_MAX_UPLOAD_BYTES = 1000
    big = "x,y\n" + "1,2\n" * 5000  # 20 kB: under the Content-Length slack, over the limit
    response = upload(alice_api, "big.csv", big)
    assert_refused(response, 413, "", "larger than the limit of 1000 bytes", artifacts)


def test_it_answers_413_from_content_length_before_reading(
    alice_api, artifacts, settings, monkeypatch
):
    from automl.datasets import uploads

    settings.DATASET_MAX_UPLOAD_BYTES = 1000
    monkeypatch.setattr(
        uploads.DatasetUploadHandler, "new_file", lambda *a, **k: pytest.fail("the body was read")
    )
    big = "x,y\n" + "1,2\n" * 40_000  # 160 kB: Content-Length alone is over the limit
    response = upload(alice_api, "big.csv", big)
    assert_refused(response, 413, "", "larger than the limit", artifacts)


def test_it_refuses_json_instead_of_multipart(alice_api, artifacts):
    response = alice_api.post("/api/v1/datasets/", {"file": "a,b\n1,2\n"}, format="json")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert stored_files(artifacts) == []


def test_it_refuses_two_files(alice_api, artifacts):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = alice_api.post(
        "/api/v1/datasets/",
        {
            "file": [
                SimpleUploadedFile("a.csv", IRIS_LIKE.encode()),
                SimpleUploadedFile("b.csv", IRIS_LIKE.encode()),
            ],
        },
        format="multipart",
    )
    assert_refused(response, 400, "file", "send exactly one file", artifacts)


def test_it_requires_a_file(alice_api, artifacts):
    response = alice_api.post("/api/v1/datasets/", {"name": "nothing"}, format="multipart")
    assert_refused(response, 400, "file", "No file was submitted", artifacts)


def test_anonymous_uploads_are_refused(client, artifacts):
    response = client.post("/api/v1/datasets/", {"file": io.BytesIO(IRIS_LIKE.encode())})
    assert response.status_code == 401
    assert stored_files(artifacts) == []


def _zip_without_a_workbook() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return buffer.getvalue()


def _parquet_with_a_list_column() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table({"tags": [[1, 2], [3]], "y": ["a", "b"]}), buffer)
    return buffer.getvalue()


BAD_TABLES = {
    "parquet_garbage": ("data.parquet", b"PAR1 not really", "not a valid Parquet file"),
    "parquet_nested": ("data.parquet", _parquet_with_a_list_column(), "only flat values"),
    "xlsx_not_a_zip": ("data.xlsx", b"hello", "not a valid .xlsx file"),
    "xlsx_no_workbook": ("data.xlsx", _zip_without_a_workbook(), "not a valid .xlsx file"),
    "jsonl_not_json": ("data.jsonl", b"this is not json\n", "not valid JSON lines"),
    "jsonl_mixed_types": ("data.jsonl", b'{"a": 1, "y": "x"}\n{"a": "b", "y": "z"}\n', "JSON"),
}


@pytest.mark.parametrize("name,content,words", BAD_TABLES.values(), ids=BAD_TABLES.keys())
def test_it_refuses_a_bad_table_of_each_format(alice_api, artifacts, name, content, words):
    assert_refused(upload(alice_api, name, content), 400, "file", words, artifacts)
