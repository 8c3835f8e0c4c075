"""Data sets: the built-in ones as database rows and as arrays, the analyst's CSV, and a
fresh ARTIFACT_ROOT per test."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def iris(db):
    from automl.datasets.models import Dataset

    return Dataset.objects.get(builtin_name="iris")


@pytest.fixture
def digits(db):
    from automl.datasets.models import Dataset

    return Dataset.objects.get(builtin_name="digits")


@pytest.fixture(scope="session")
def iris_data():
    """The built-in iris as an engine reads it (read-only: tests share it)."""
    from workers.data.builtin import load_builtin

    return load_builtin("iris")


def csv_text(rows: list[list[object]], delimiter: str = ",") -> str:
    """Rows as CSV text, quoted as Python's csv module writes them."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def churn_csv(n: int = 160) -> str:
    """The analyst's CSV: customers with numbers, a category, dates and gaps, separated by
    semicolons; the string target `churned` depends on plan and tenure."""
    rng = np.random.default_rng(0)
    rows = ["tenure;plan;signed_up;monthly;churned"]
    for i in range(n):
        plan = ["basic", "plus", "pro"][i % 3]
        tenure = int(rng.integers(1, 60))
        monthly = "" if i % 11 == 0 else f"{20 + 10 * (i % 3) + rng.normal():.2f}"
        churned = "yes" if (plan == "basic") != (tenure > 30) else "no"
        rows.append(f"{tenure};{plan};2023-{1 + i % 12:02d}-{1 + i % 28:02d};{monthly};{churned}")
    return "\n".join(rows) + "\n"


@pytest.fixture
def analyst_csv(tmp_path) -> Path:
    """`churn_csv()` as a file, as an analyst picks it in a browser."""
    path = tmp_path / "churn.csv"
    path.write_text(churn_csv())
    return path


# A small upload: two numbers, a category and a string target, 60 rows.
IRIS_LIKE = "sepal,petal,colour,species\n" + "".join(
    f"{5 + i % 7 * 0.1:.1f},{1 + i % 5 * 0.3:.1f},{'red' if i % 3 else 'blue'},"
    f"{['setosa', 'versicolor', 'virginica'][i % 3]}\n"
    for i in range(60)
)


@pytest.fixture
def artifacts(settings, tmp_path) -> Path:
    """A fresh ARTIFACT_ROOT, so that "nothing was stored" can be checked."""
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT


def stored_files(root: Path) -> list[Path]:
    """Every file (and folder) left under ARTIFACT_ROOT/datasets."""
    return sorted((root / "datasets").rglob("*")) if (root / "datasets").exists() else []
