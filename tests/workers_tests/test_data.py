import json

import numpy as np
import pyarrow as pa
import pytest

from tests.support.data import csv_text
from workers.data.builtin import BUILTIN_DATASETS, load_builtin
from workers.data.columns import infer_kind
from workers.data.files import DataFileError
from workers.data.preprocess import (
    DataConfigError,
    Preprocessing,
    feature_space,
    resolve,
    validate_preprocessing,
)
from workers.data.reference import bin_counts, reference_stats
from workers.data.splits import holdout_split, kfold_splits
from workers.data.summary import ColumnSummary
from workers.data.tables import clean, inspect_table, read_table
from workers.data.tabular import TabularData


@pytest.mark.parametrize("name", sorted(BUILTIN_DATASETS))
def test_load_builtin(name):
    meta = BUILTIN_DATASETS[name]
    assert {"task", "title", "description"} <= set(meta)
    data = load_builtin(name)
    assert data.task == meta["task"]
    assert data.X.dtype == np.float64 and data.X.shape == (len(data.y), len(data.feature_names))
    assert data.target_name


def test_tasks():
    assert [n for n, m in BUILTIN_DATASETS.items() if m["task"] == "regression"] == ["diabetes"]
    assert len(BUILTIN_DATASETS) == 5


def test_unknown_dataset():
    with pytest.raises(KeyError, match="unknown builtin dataset 'nope'"):
        load_builtin("nope")


def test_holdout_is_stratified_and_seeded():
    data = load_builtin("iris")
    a, b, c = (holdout_split(data, 0.2, s) for s in (1, 1, 2))
    assert np.array_equal(a.y_valid, b.y_valid) and np.array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_valid, c.X_valid)
    assert np.bincount(a.y_valid).tolist() == [10, 10, 10]
    assert len(a.y_train) == 120


def test_kfold_is_stratified_and_covers_all_rows():
    data = load_builtin("iris")
    folds = kfold_splits(data, 5, seed=0)
    assert all(np.bincount(f.y_valid).tolist() == [10, 10, 10] for f in folds)
    assert sum(len(f.y_valid) for f in folds) == 150
    reg = kfold_splits(load_builtin("diabetes"), 3, seed=0)
    assert [len(f.y_valid) for f in reg] == [148, 147, 147]


# --- uploads: readers, kinds, preprocessing, reference statistics

RAW = np.array(
    [
        ["1.5", "red", "2024-03-05 13:45:00", "yes"],
        [None, "blue", "2021-01-01", "no"],
        ["3", None, None, None],
        ["100", "red", "2022-07-01", "yes"],
    ],
    dtype=object,
)
KINDS = ["numeric", "categorical", "datetime", "boolean"]


def options(**extra) -> dict:
    return validate_preprocessing({"preprocessing": extra})["preprocessing"]


def test_column_kinds():
    assert [infer_kind(RAW[:, j]) for j in range(4)] == KINDS
    assert infer_kind(np.array(["a long free text " * 3 + str(i) for i in range(9)])) == "text"


def test_column_summaries_over_batches_find_the_same_kinds():
    assert [ColumnSummary.of(RAW[:, j]).kind for j in range(4)] == KINDS
    text = ColumnSummary.of(np.array(["a long free text " * 3 + str(i) for i in range(9)]))
    assert text.kind == "text"
    numbers = ColumnSummary()
    for batch in (["1", None, "2.5"], ["x"]):  # a later batch can still rule a kind out
        numbers.add(clean(pa.array(batch)))
    assert (numbers.kind, numbers.missing, numbers.distinct) == ("categorical", 1, 3)


def test_inspect_csv_finds_layout_and_refuses_ragged_rows(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(csv_text([["a", "b"], ["1", "x"], ["", "y"]], ";"))
    layout = inspect_table(path, "csv", max_columns=10)
    assert (layout.delimiter, layout.columns, layout.n_rows) == (";", ["a", "b"], 2)
    assert read_table(path, layout).tolist() == [["1", "x"], [None, "y"]]
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataFileError, match="row 3 has 1 fields but the header has 2"):
        inspect_table(path, "csv", max_columns=10)


def test_preprocessor_imputes_scales_encodes_and_expands_dates():
    t = Preprocessing(KINDS, options(max_categories=3)).fit(RAW)
    out = t.transform(RAW)
    assert out.dtype == np.float64 and out.shape == (4, 1 + 4 + 1 + 2)
    assert list(t.get_feature_names_out()) == [
        "x0",
        "x2_year",
        "x2_month",
        "x2_weekday",
        "x2_hour",
        "x3",
        "x1_blue",
        "x1_red",
    ]
    assert np.allclose(out[:, 0].mean(), 0.0) and not np.isnan(out).any()
    # 2024-03-05 was a Tuesday (weekday 1), 13:00; scaled, so compare through the fit
    scaler = t.features_.named_transformers_["numeric"].named_steps["scale"]
    parts = t.transform(RAW[:1])[0, 1:5] * scaler.scale_[1:5] + scaler.mean_[1:5]
    assert np.allclose(parts, [2024, 3, 1, 13])
    # an unknown category encodes as all zeros; the missing one as the most frequent
    assert t.transform(np.array([[2, "green", None, True]], dtype=object))[0, -2:].tolist() == [
        0.0,
        0.0,
    ]
    assert out[2, -2:].tolist() == [0.0, 1.0]


def test_rare_and_unseen_categories_share_the_last_one_hot_column():
    cells = np.array([["a"], ["a"], ["b"], ["c"]], dtype=object)
    t = Preprocessing(["categorical"], options(max_categories=2)).fit(cells)
    assert list(t.get_feature_names_out()) == ["x0_a", "x0_infrequent_sklearn"]
    assert t.transform(np.array([["a"], ["zzz"]], dtype=object)).tolist() == [[1, 0], [0, 1]]


def test_preprocessor_switches():
    poly = Preprocessing(["numeric", "numeric"], options(polynomial="degree2")).fit(
        np.array([[1, 2], [3, 4], [5, 7]], dtype=object)
    )
    assert list(poly.get_feature_names_out()) == ["x0", "x1", "x0^2", "x0 x1", "x1^2"]
    inter = Preprocessing(["numeric", "numeric"], options(polynomial="interactions"))
    assert inter.fit(poly_input := np.ones((3, 2), dtype=object)).transform(poly_input).shape == (
        3,
        3,
    )
    cells = np.array([["a"], ["b"], ["c"], ["a"]] * 3, dtype=object)
    y = np.array([1, 0, 0, 1] * 3)
    target = Preprocessing(["categorical"], options(target_encoding=True, high_cardinality=2)).fit(
        cells, y
    )
    encoded = target.transform(np.array([["a"], ["b"], ["zzz"]], dtype=object)).ravel()
    assert encoded.shape == (3,) and encoded[0] > encoded[2] > encoded[1]  # unseen: the mean
    flat = Preprocessing(KINDS, options(datetime_parts=False)).fit(RAW)
    assert "x2_days" in flat.get_feature_names_out()
    clip = Preprocessing(["numeric"], options(clip_outliers=True, scaling="none")).fit(
        np.array([[1], [2], [3], [4], [1000]], dtype=object)
    )
    assert clip.transform(np.array([[1000]], dtype=object))[0, 0] == pytest.approx(7.0)


def test_the_former_frequency_encoding_key_reads_as_target_encoding():
    assert options(frequency_encoding="search")["target_encoding"] == "search"
    with pytest.raises(DataConfigError) as info:
        options(frequency_encoding=3)
    assert set(info.value.errors) == {"preprocessing.frequency_encoding"}


def test_feature_space_lists_only_searched_and_useful_switches():
    opts = options(polynomial="search", datetime_parts="search", target_encoding="search")
    space = feature_space(opts, ["numeric", "categorical"])
    assert space == {
        "polynomial": {"type": "categorical", "choices": ["none", "interactions", "degree2"]},
        "target_encoding": {"type": "categorical", "choices": [False, True]},
    }
    assert resolve(opts, {"fe.polynomial": "degree2"})["polynomial"] == "degree2"
    assert resolve(opts, {})["datetime_parts"] is False
    with pytest.raises(ValueError, match="resolve"):
        Preprocessing(["numeric"], opts).fit(np.ones((2, 1), dtype=object))


def test_validate_preprocessing_names_each_bad_field():
    with pytest.raises(DataConfigError) as info:
        validate_preprocessing(
            {"target": 3, "preprocessing": {"imputation": "mode", "max_categories": 0}},
            {"a": "numeric"},
        )
    assert set(info.value.errors) == {
        "target",
        "preprocessing.imputation",
        "preprocessing.max_categories",
    }
    errors = {}
    out = validate_preprocessing({"preprocessing": []}, report=errors.__setitem__)
    assert out == {"target": None, "preprocessing": None} and "preprocessing" in errors
    normalised = validate_preprocessing({"preprocessing": {"scaling": "none"}})
    assert validate_preprocessing(normalised) == normalised


def test_the_fitted_preprocessing_round_trips_through_skops(tmp_path):
    from workers.models.artifacts import load_transformer, save_transformer

    t = Preprocessing(KINDS, options(polynomial="degree2", clip_outliers=True)).fit(RAW)
    files = save_transformer(t, tmp_path)
    assert files == ["preprocessing.skops", "preprocessing.json"]
    loaded = load_transformer(tmp_path)
    assert type(loaded) is Preprocessing
    assert np.array_equal(loaded.transform(RAW), t.transform(RAW))
    assert list(loaded.get_feature_names_out()) == list(t.get_feature_names_out())


def test_hpo_searches_feature_engineering_and_saves_the_preprocessing(tmp_path):
    from workers.hpo.config import validate_hpo_config
    from workers.hpo.engine import create_study, refit_best, run_trials
    from workers.models.artifacts import load_model, load_transformer
    from workers.reporter import MemoryReporter
    from workers.studies.storage import make_storage

    rng = np.random.default_rng(0)
    n = 120
    colour = rng.choice(["red", "green", "blue"], n)
    size = rng.normal(size=n)
    X = np.column_stack([np.round(size, 3).astype(str), colour]).astype(object)
    X[::10, 0] = None
    y = ((size > 0) ^ (colour == "red")).astype(np.int64)
    cfg = validate_hpo_config(
        {
            "model": "logistic_regression",
            "n_trials": 4,
            "sampler": {"name": "random", "seed": 0},
            "preprocessing": {"polynomial": "search"},
        },
        "classification",
    )
    data = TabularData(
        X,
        y,
        ["size", "colour"],
        "classification",
        "label",
        column_kinds=["numeric", "categorical"],
    )
    data.use_preprocessing(cfg.preprocessing)
    storage = make_storage(None)
    create_study(cfg, storage, "s")
    reporter = MemoryReporter()
    run_trials(cfg, data, reporter, storage, "s")
    refit = refit_best(cfg, data, storage, "s", tmp_path)
    assert "fe.polynomial" in refit["params"]
    assert "preprocessing.skops" in refit["files"]
    model, transformer = load_model(tmp_path), load_transformer(tmp_path)
    assert model.predict(transformer.transform(X[:5])).shape == (5,)


def test_reference_stats_are_small_json():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=500), rng.integers(0, 3, 500)]).astype(float)
    X[:50, 0] = np.nan
    stats = reference_stats(X, ["a", "b"])
    a = stats["features"]["a"]
    assert stats["n_rows"] == 500 and a["kind"] == "numeric"
    assert len(a["bins"]) == 11 and sum(a["counts"]) == 450
    assert a["missing_share"] == pytest.approx(0.1)
    assert stats["features"]["b"]["bins"] == [0.0, 1.0, 2.0]
    raw = reference_stats(RAW, ["n", "c", "d", "b"])["features"]
    assert raw["c"]["kind"] == "categorical"
    assert raw["c"]["frequencies"] == {"red": 2 / 3, "blue": 1 / 3}
    assert raw["n"]["kind"] == "numeric" and raw["n"]["missing_share"] == 0.25
    many = np.array([[f"v{i}"] for i in range(1000)], dtype=object)
    assert len(reference_stats(many, ["v"])["features"]["v"]["frequencies"]) == 50
    assert (
        len(
            json.dumps(
                reference_stats(rng.normal(size=(10_000, 20)), [f"f{i}" for i in range(20)])
            )
        )
        < 20_000
    )
    assert bin_counts(np.array([-5.0, 0.5, 99.0]), [0.0, 1.0, 2.0]) == [2, 1]


def test_a_stratified_sample_keeps_class_shares_and_file_order():
    from dataclasses import replace

    from workers.data.splits import stratified_sample

    y = np.array([0] * 900 + [1] * 100)
    data = TabularData(np.arange(1000.0)[:, None], y, ["x"], "classification", "y")
    sample = stratified_sample(data, 200, seed=0)
    assert len(sample.y) == 200 and (sample.y == 1).sum() == 20
    assert np.all(np.diff(sample.X[:, 0]) > 0)
    assert stratified_sample(data, None, 0) is data
    assert stratified_sample(replace(data, task="regression"), 5000, 0).y.shape == (1000,)


def test_a_large_table_is_profiled_in_batches_with_exact_counts_and_a_row_sample(monkeypatch):
    from workers.data import profile, summary

    monkeypatch.setattr(profile, "SAMPLE_ROWS", 1000)
    monkeypatch.setattr(summary, "MAX_TRACKED", 500)
    rng = np.random.default_rng(0)
    n = 5000
    amount = rng.normal(100, 10, n)
    cells = {
        "amount": [None if i % 10 == 0 else f"{a:.3f}" for i, a in enumerate(amount)],
        "order_id": [f"O{i}" for i in range(n)],
        "label": list(rng.choice(["yes", "no"], n)),
    }
    batches = (
        [clean(pa.array(cells[c][start : start + 700])) for c in cells]
        for start in range(0, n, 700)
    )
    found = profile.profile_batches(batches, list(cells), "label", None)
    assert (found["n_rows"], found["sampled_rows"]) == (n, 1000)
    amount_profile, order_id = found["columns"][0], found["columns"][1]
    present = amount[np.arange(n) % 10 != 0]
    assert amount_profile["missing"] == 500 and amount_profile["distinct_capped"]
    assert amount_profile["min"] == pytest.approx(present.round(3).min())
    assert amount_profile["mean"] == pytest.approx(present.round(3).mean())
    assert sum(amount_profile["histogram"]["counts"]) == pytest.approx(4500, rel=0.01)
    assert order_id["distinct_capped"] and order_id["distinct"] == 500  # counted: 500
    assert {c["value"]: c["count"] for c in found["target"]["classes"]} == {
        label: cells["label"].count(label) for label in ("no", "yes")
    }
    assert {s["column"]: s["reason"] for s in found["suggested_drops"]} == {"order_id": "id_like"}


def test_a_date_column_is_profiled_as_rows_over_time(monkeypatch):
    from workers.data import profile

    monkeypatch.setattr(profile, "SAMPLE_ROWS", 1000)
    # Two busy days, then one row a day: the first and last timestamps bound the bins.
    days = ["2024-03-01"] * 1500 + ["2024-03-02T12:00:00"] * 500
    days += [f"2024-03-{d:02d}" for d in range(3, 22)] + [None]
    labels = ["a", "b"] * (len(days) // 2)
    batches = (
        [clean(pa.array(days[i : i + 700])), clean(pa.array(labels[i : i + 700]))]
        for i in range(0, len(days), 700)
    )
    day = profile.profile_batches(batches, ["day", "label"], "label", None)["columns"][0]
    assert (day["kind"], day["min"], day["max"]) == (
        "datetime",
        "2024-03-01T00:00:00",
        "2024-03-21T00:00:00",
    )
    timeline = day["timeline"]
    assert timeline["edges"][0] == "2024-03-01T00:00:00"
    assert timeline["edges"][-1] == "2024-03-21T00:00:00" and len(timeline["edges"]) == 21
    # Counted over a 1000-row sample, scaled to the 2019 dated rows.
    assert sum(timeline["counts"]) == pytest.approx(2019, rel=0.01)
    assert timeline["counts"][0] + timeline["counts"][1] == pytest.approx(2000, rel=0.05)
    assert 0 < max(timeline["counts"][2:]) < 10
