"""The report on its own (no Django): one shifted feature is flagged, nothing else is."""

import json
import sys

import numpy as np
import pytest
from sklearn.datasets import load_wine

from workers.data.reference import reference_stats
from workers.monitoring import DriftOptions, drift_report, prediction_drift


@pytest.fixture(scope="module")
def wine():
    data = load_wine()
    return data.data, list(data.feature_names)


def window(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Served traffic: training rows drawn again, with a little measurement noise."""
    rng = np.random.default_rng(seed)
    rows = X[rng.integers(0, len(X), n)]
    return rows + rng.normal(0, 0.01, rows.shape) * X.std(axis=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_flags_exactly_the_shifted_feature(wine, seed):
    X, names = wine
    reference = reference_stats(X, names)
    quiet = drift_report(reference, window(X, 400, seed), names)
    assert quiet["drifted_features"] == [] and not quiet["dataset_drift"]
    assert quiet["judged_features"] == len(names)
    assert all(f["not_judged"] is None for f in quiet["features"].values())

    shifted = window(X, 400, seed)
    shifted[:, 5] += 1.5 * X[:, 5].std()
    report = drift_report(reference, shifted, names)
    assert report["drifted_features"] == [names[5]]
    assert report["drifted_share"] == pytest.approx(1 / len(names))
    feature = report["features"][names[5]]
    assert feature["psi_level"] == "major" and feature["tests"]["ks"]["p_value"] < 1e-6
    json.dumps(report, allow_nan=False)  # stored as JSON (Postgres refuses NaN)


def test_the_data_set_verdict_follows_the_share(wine):
    X, names = wine
    reference = reference_stats(X, names)
    shifted = window(X, 400, 0)
    shifted[:, :4] += 3 * X[:, :4].std(axis=0)
    report = drift_report(reference, shifted, names, DriftOptions(share_threshold=0.3))
    assert len(report["drifted_features"]) == 4
    assert report["dataset_drift"]
    assert not drift_report(reference, shifted, names, DriftOptions(share_threshold=0.5))[
        "dataset_drift"
    ]


def test_a_small_window_is_not_judged(wine):
    X, names = wine
    report = drift_report(reference_stats(X, names), window(X, 10, 0) + 100, names)
    assert report["judged_features"] == 0 and report["drifted_features"] == []
    # Each feature says why in the report: its PSI is large, yet no verdict is given.
    feature = report["features"][names[0]]
    assert feature["not_judged"] == "10 of 30 rows" and not feature["drifted"]
    assert feature["tests"]["psi"]["statistic"] > 0.2


def test_categories_missing_values_and_unknown_columns():
    rng = np.random.default_rng(0)
    train = np.column_stack(
        [rng.choice(["red", "blue"], 500).astype(object), rng.normal(size=500).astype(object)]
    )
    reference = reference_stats(train, ["colour", "size"])
    served = np.column_stack(
        [
            rng.choice(["green", "red", None], 300).astype(object),
            rng.normal(size=300).astype(object),
            np.ones(300, dtype=object),
        ]
    )
    report = drift_report(reference, served, ["colour", "size", "new"])
    assert report["skipped"] == ["new"]
    colour = report["features"]["colour"]
    assert colour["kind"] == "categorical" and colour["drifted"]
    assert colour["histogram"]["labels"][-1] == "(other)"
    assert colour["missing_share"] == pytest.approx(np.mean(served[:, 0] == None), abs=0.01)  # noqa: E711
    assert report["drifted_features"] == ["colour"]


def test_prediction_drift():
    rng = np.random.default_rng(0)
    baseline = rng.choice([0, 1, 2], 600)
    assert not prediction_drift(baseline, rng.choice([0, 1, 2], 600), "categorical")["drifted"]
    assert prediction_drift(
        baseline, rng.choice([0, 1, 2], 600, p=[0.8, 0.1, 0.1]), "categorical"
    )["drifted"]
    values = rng.normal(size=600)
    assert prediction_drift(values, rng.normal(2, 1, 600), "numeric")["drifted"]
    assert not prediction_drift(values, rng.normal(size=600), "numeric")["drifted"]


def test_the_engine_does_not_import_django():
    assert "django" not in sys.modules or "workers.monitoring" in sys.modules
    import subprocess

    code = "import sys, workers.monitoring; assert 'django' not in sys.modules, 'django imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_served_images_compare_with_the_pooled_pixels_of_the_training_images():
    from sklearn.datasets import load_digits

    from workers.data.reference import PIXELS, pooled_pixels

    images = load_digits().images  # N x 8 x 8, as an uploaded .npz holds them
    reference = reference_stats(images[:900], [PIXELS])
    same = images[900:1000].reshape(100, 64).tolist()  # flat rows, as predict logs them
    brighter = (images[900:1000] * 0.5 + 8).tolist()  # nested rows, washed out
    for rows, drifted in ((same, False), (brighter, True)):
        report = drift_report(reference, pooled_pixels(rows), [PIXELS])
        assert report["features"][PIXELS]["judged"]
        assert report["features"][PIXELS]["drifted"] is drifted
    assert pooled_pixels([None, "x", [1, 2]]).tolist() == [[1.0], [2.0]]
