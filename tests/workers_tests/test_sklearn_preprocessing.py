"""The preprocessing a tabular version saves is scikit-learn's own: it loads with
scikit-learn and skops alone, and versions saved before it keep transforming as they did."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from workers.data.columns import typed_table
from workers.data.preprocess import Preprocessing, validate_preprocessing
from workers.models.artifacts import load_model, load_transformer, save_version

LEGACY = Path(__file__).parent / "legacy_preprocessing"
# What the README tells a user to pass to skops.io.load for a tabular version.
USER_TRUSTED = [
    "numpy.clip",
    "numpy.dtype",
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.tree._tree.Tree",
]

# Run with `python -I` in an empty folder: no PYTHONPATH, so the platform's code cannot be
# imported; only scikit-learn, skops and numpy are.
USER_SCRIPT = """
import json, sys
import numpy as np
import skops.io as sio
from sklearn.pipeline import make_pipeline

trusted = json.loads(sys.argv[1])
pipeline = make_pipeline(
    sio.load("preprocessing.skops", trusted=trusted), sio.load("model.skops", trusted=trusted)
)
rows = np.array(json.loads(sys.stdin.read()), dtype=object)
print(json.dumps({
    "predictions": pipeline.predict(rows).tolist(),
    "platform_modules": sorted(
        m for m in sys.modules if m.split(".")[0] in ("workers", "automl", "django")
    ),
}))
"""


def _table(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    size = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    days = rng.integers(0, 400, n)
    when = [str(np.datetime64("2024-01-01") + int(d)) for d in days]
    X = np.column_stack([np.round(size, 3).astype(str), colour, when]).astype(object)
    X[::9, 0] = None
    X[::11, 1] = None
    y = ((size > 0) ^ (colour == "red")).astype(np.int64)
    return X, y


KINDS, NAMES = ["numeric", "categorical", "datetime"], ["size", "colour", "when"]


def _saved(directory, X, y, estimator, family: str, polynomial: str):
    """A version of estimator over clipped, multiplied-out preprocessing of X; the model."""
    options = validate_preprocessing(
        {"preprocessing": {"clip_outliers": True, "polynomial": polynomial}}
    )["preprocessing"]
    pre = Preprocessing(KINDS, options, names=NAMES).fit(X, y)
    model = estimator.fit(pre.transform(X), y)
    save_version(model, directory, family=family, spec={}, transformer=pre)
    return model


def test_a_saved_version_predicts_with_scikit_learn_and_skops_alone(tmp_path):
    X, y = _table()
    forest = RandomForestClassifier(n_estimators=5, random_state=0)
    _saved(tmp_path, X, y, forest, "random_forest", "interactions")

    record = json.loads((tmp_path / "preprocessing.json").read_text())
    assert record["input"]["columns"][:3] == ["size", "colour", "when_days"]
    typed, _, _ = typed_table(X, KINDS, NAMES)  # the rows as the user feeds them
    answer = subprocess.run(
        [sys.executable, "-I", "-c", USER_SCRIPT, json.dumps(USER_TRUSTED)],
        input=json.dumps(typed.tolist()),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    out = json.loads(answer.stdout)
    assert out["platform_modules"] == []
    platform = load_model(tmp_path).predict(load_transformer(tmp_path).transform(X))
    assert out["predictions"] == platform.tolist()


def test_a_version_saved_with_the_former_hand_written_preprocessing_still_loads():
    expected = json.loads((LEGACY / "expected.json").read_text())
    loaded = load_transformer(LEGACY)
    assert type(loaded).__name__ == "TablePreprocessor"
    rows = np.array(expected["rows"], dtype=object)
    assert np.allclose(loaded.transform(rows), expected["features"])


def test_a_scikit_learn_version_exports_to_onnx_with_its_preprocessing(tmp_path):
    import onnxruntime

    from workers.models.export import to_onnx
    from workers.models.sklearn_onnx import typed_feeds

    X, y = _table()
    linear = LogisticRegression(max_iter=500)
    model = _saved(tmp_path, X, y, linear, "logistic_regression", "degree2")

    path = to_onnx(tmp_path, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(path))
    loaded = load_transformer(tmp_path)
    labels, probabilities = session.run(None, typed_feeds(loaded, X))
    expected = model.predict_proba(loaded.transform(X))
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)
    assert labels.tolist() == model.predict(loaded.transform(X)).tolist()
