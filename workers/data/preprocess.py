"""The preprocessing every engine shares: config validation and one fitted transformer.

A job's config may hold `target` (a column name) and `preprocessing`:

- drop: columns left out of the features;
- imputation: "mean" | "median" | "most_frequent" | "constant" (numeric columns; with
  "constant" they get fill_value and categorical columns a "<missing>" category, else
  categorical columns get their most frequent value);
- scaling: "standard" | "minmax" | "robust" | "none";
- clip_outliers: clip numeric values to [Q1 - k IQR, Q3 + k IQR] of the training rows,
  k = iqr_factor (1.5);
- max_categories: one-hot columns per categorical column (the most frequent values; an
  unknown or rarer value encodes as all zeros);
- feature engineering switches, each false/true, or "search" to let the HPO search flip
  it: datetime_parts (year, month, weekday, hour; off: one timestamp feature),
  polynomial ("none" | "interactions" | "degree2" over the first MAX_POLY_COLUMNS numeric
  columns), frequency_encoding (categorical columns with more than high_cardinality
  distinct values become the share of their value instead of one-hot columns).

Text columns are dropped. TablePreprocessor holds only numbers, strings and lists of
them, so it is saved with skops and loaded again with its exact type name allowed.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from collections.abc import Callable, Iterator

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from workers.data.columns import KINDS, datetime_parts, to_bool, to_float, to_seconds

IMPUTATIONS = ("mean", "median", "most_frequent", "constant")
SCALINGS = ("standard", "minmax", "robust", "none")
POLYNOMIAL = ("none", "interactions", "degree2")
SEARCH = "search"
MAX_POLY_COLUMNS = 20
MISSING_CATEGORY = "<missing>"
MAX_FREQUENCIES = 10_000  # values kept by a frequency encoder; rarer ones count as unseen
DEFAULTS: dict = {
    "drop": [],
    "drop_suggested": False,  # also drop the profile's suggested_drops (the platform adds them)
    "imputation": "mean",
    "fill_value": 0.0,
    "scaling": "standard",
    "clip_outliers": False,
    "iqr_factor": 1.5,
    "max_categories": 50,
    "datetime_parts": True,
    "polynomial": "none",
    "frequency_encoding": False,
    "high_cardinality": 20,
}
SWITCHES = {  # feature-engineering switch -> the values "search" chooses from
    "datetime_parts": [False, True],
    "polynomial": list(POLYNOMIAL),
    "frequency_encoding": [False, True],
}


class DataConfigError(ValueError):
    """Invalid target/preprocessing config; `errors` maps field paths to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{p}: {m}" for p, m in self.errors.items()))


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)


def validate_preprocessing(
    config: object,
    columns: dict[str, str] | None = None,
    report: Callable[[str, str], None] | None = None,
) -> dict:
    """Check a job config's `target` and `preprocessing`; return {"target", "preprocessing"}.

    A missing `preprocessing` stays None (builtin data sets are then used as they are;
    uploads get DEFAULTS); a given one is returned with every default filled in.

    Args:
        config: the whole job config (only "target" and "preprocessing" are read).
        columns: the data set's column names -> kinds, when known; then named columns
            must exist, and the target may not be dropped.

        report: when given, each error goes to report(path, message) instead of being
            raised, and the result holds None where a value was bad.

    Raises:
        DataConfigError: with paths such as "preprocessing.scaling" (without `report`).
    """
    if report is not None:
        try:
            return validate_preprocessing(config, columns)
        except DataConfigError as exc:
            for path, message in exc.errors.items():
                report(path, message)
            return {"target": None, "preprocessing": None}
    config = config if isinstance(config, dict) else {}
    errors: dict[str, str] = {}
    target = config.get("target")
    if target is not None and not (isinstance(target, str) and target):
        errors["target"] = "must be a column name, or null for the data set's target"
    elif target is not None and columns is not None and target not in columns:
        errors["target"] = f"no column named {target!r}; columns: {_names(columns)}"
    elif target is not None and columns is not None and columns[target] == "datetime":
        errors["target"] = f"{target!r} is a datetime column and cannot be a target"
    raw = config.get("preprocessing")
    if raw is None:
        if errors:
            raise DataConfigError(errors)
        return {"target": target, "preprocessing": None}
    if not isinstance(raw, dict):
        errors["preprocessing"] = "must be an object"
        raise DataConfigError(errors)
    out = dict(DEFAULTS)
    for key, value in raw.items():
        path = f"preprocessing.{key}"
        if key not in DEFAULTS:
            errors[path] = f"unknown key; allowed: {', '.join(DEFAULTS)}"
        elif (problem := _check(key, value, columns, target)) is not None:
            errors[path] = problem
        else:
            out[key] = float(value) if key in ("fill_value", "iqr_factor") else value
    if errors:
        raise DataConfigError(errors)
    out["drop"] = list(dict.fromkeys(out["drop"]))
    return {"target": target, "preprocessing": out}


def _names(columns: dict[str, str]) -> str:
    names = list(columns)
    return ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")


def _check(key: str, value: object, columns: dict[str, str] | None, target: object) -> str | None:
    if key == "drop":
        if not (isinstance(value, list) and all(isinstance(c, str) for c in value)):
            return "must be a list of column names"
        unknown = [c for c in value if columns is not None and c not in columns]
        if unknown:
            return f"no column named {', '.join(map(repr, unknown))}"
        if target is not None and target in value:
            return f"the target {target!r} cannot be dropped"
        return None
    choices = {"imputation": IMPUTATIONS, "scaling": SCALINGS}.get(key)
    if choices is not None:
        return None if value in choices else f"must be one of {', '.join(choices)}"
    if key in ("fill_value", "iqr_factor"):
        if not _number(value) or (key == "iqr_factor" and value <= 0):
            return "must be a number" + (" > 0" if key == "iqr_factor" else "")
        return None
    if key in ("max_categories", "high_cardinality"):
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1000
        return None if ok else "must be an integer from 1 to 1000"
    if key in ("clip_outliers", "drop_suggested"):
        return None if isinstance(value, bool) else "must be true or false"
    allowed = [*SWITCHES[key], SEARCH]
    if value not in allowed or (
        isinstance(value, bool) != isinstance(allowed[0], bool) and value != SEARCH
    ):
        return f"must be one of {', '.join(map(repr, allowed))}"
    return None


def feature_space(options: dict, kinds: list[str]) -> dict:
    """The search space of the switches set to "search" that can matter for these columns."""
    useful = {
        "datetime_parts": "datetime" in kinds,
        "polynomial": "numeric" in kinds,
        "frequency_encoding": "categorical" in kinds,
    }
    return {
        name: {"type": "categorical", "choices": list(choices)}
        for name, choices in SWITCHES.items()
        if options.get(name) == SEARCH and useful[name]
    }


def resolve(options: dict, fe_params: dict) -> dict:
    """Options with every "search" switch set from a trial's fe params ("fe.<name>" keys)."""
    chosen = {k.removeprefix("fe."): v for k, v in (fe_params or {}).items()}
    out = dict(options)
    for name, choices in SWITCHES.items():
        if out.get(name) == SEARCH:
            out[name] = chosen.get(name, choices[0])
    return out


class TablePreprocessor(TransformerMixin, BaseEstimator):
    """Raw table cells (N x C objects: strings, numbers, None) -> a float64 feature matrix.

    Numeric, boolean and datetime columns become a numeric block: clipped, imputed and
    scaled, then polynomial products of its numeric columns are appended; categorical
    columns follow, one-hot or frequency encoded.

    Args:
        kinds: each input column's kind (workers.data.columns.KINDS).
        options: normalised preprocessing options with no "search" left (see `resolve`).
    """

    def __init__(self, kinds: list[str] | None = None, options: dict | None = None) -> None:
        self.kinds = kinds
        self.options = options

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> TablePreprocessor:
        X = self._check_input(X)
        opts = {**DEFAULTS, **(self.options or {})}
        if any(opts[name] == SEARCH for name in SWITCHES):
            raise ValueError("resolve the 'search' switches before fitting")
        self.options_ = opts
        self.n_features_in_ = X.shape[1]
        block, self.block_names_, self.block_sources_ = self._numeric_block(X)
        if opts["clip_outliers"]:
            q1, q3 = _nanquantile(block, 0.25), _nanquantile(block, 0.75)
            spread = opts["iqr_factor"] * (q3 - q1)
            self.clip_low_, self.clip_high_ = q1 - spread, q3 + spread
            block = np.clip(block, self.clip_low_, self.clip_high_)
        else:
            self.clip_low_ = self.clip_high_ = None
        self.fill_ = _fill_values(block, opts["imputation"], opts["fill_value"])
        block = np.where(np.isnan(block), self.fill_, block)
        self.center_, self.scale_ = _scaling(block, opts["scaling"])
        self.category_fill_, self.categories_, self.frequencies_ = [], [], []
        for j in self._columns("categorical"):
            cells = _categorical(X[:, j])
            counts = Counter(c for c in cells if c is not None)
            if opts["imputation"] == "constant" or not counts:
                fill = MISSING_CATEGORY
            else:
                fill = counts.most_common(1)[0][0]
            counts = Counter(fill if c is None else c for c in cells)
            self.category_fill_.append(fill)
            if opts["frequency_encoding"] and len(counts) > opts["high_cardinality"]:
                top = counts.most_common(MAX_FREQUENCIES)
                self.frequencies_.append({value: n / len(cells) for value, n in top})
                self.categories_.append([])
            else:
                top = counts.most_common(opts["max_categories"])
                self.categories_.append(sorted(value for value, _ in top))
                self.frequencies_.append(None)
        self.feature_names_out_ = self._output_names(X.shape[1])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        X = self._check_input(X)
        block, _, _ = self._numeric_block(X)
        if self.clip_low_ is not None:
            block = np.clip(block, self.clip_low_, self.clip_high_)
        block = np.where(np.isnan(block), self.fill_, block)
        block = (block - self.center_) / self.scale_
        out = [block, *(block[:, [a]] * block[:, [b]] for a, b in self._poly_pairs())]
        encoders = zip(
            self._columns("categorical"),
            self.category_fill_,
            self.categories_,
            self.frequencies_,
            strict=True,
        )
        for j, fill, categories, frequencies in encoders:
            cells = [fill if c is None else c for c in _categorical(X[:, j])]
            if frequencies is not None:
                out.append(np.array([frequencies.get(c, 0.0) for c in cells])[:, None])
                continue
            index = {c: i for i, c in enumerate(categories)}
            onehot = np.zeros((len(cells), len(categories)))
            for row, cell in enumerate(cells):
                if (hit := index.get(cell)) is not None:  # unknown values: all zeros
                    onehot[row, hit] = 1.0
            out.append(onehot)
        return np.ascontiguousarray(np.hstack(out), dtype=np.float64)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def _check_input(self, X: np.ndarray) -> np.ndarray:
        if self.kinds is None or not all(k in KINDS for k in self.kinds):
            raise ValueError(f"kinds must list one of {', '.join(KINDS)} per column")
        X = np.asarray(X, dtype=object)
        if X.ndim != 2 or X.shape[1] != len(self.kinds):
            raise ValueError(f"expected a 2-D table of {len(self.kinds)} columns, got {X.shape}")
        return X

    def _columns(self, kind: str) -> list[int]:
        return [j for j, k in enumerate(self.kinds) if k == kind]

    def _numeric_block(self, X: np.ndarray) -> tuple[np.ndarray, list[str], list[str]]:
        """Numeric, boolean and datetime columns as numbers (NaN where missing), with a
        name and the source kind of each block column."""
        parts, names, sources = [np.empty((len(X), 0))], [], []
        for j, kind in enumerate(self.kinds):
            if kind == "numeric":
                parts.append(to_float(X[:, j])[:, None])
                names.append(f"x{j}")
            elif kind == "boolean":
                parts.append(to_bool(X[:, j])[:, None])
                names.append(f"x{j}")
            elif kind == "datetime":
                seconds = to_seconds(X[:, j])
                if self.options_["datetime_parts"]:
                    parts.append(datetime_parts(seconds))
                    names += [f"x{j}_{p}" for p in ("year", "month", "weekday", "hour")]
                else:
                    parts.append(seconds[:, None] / 86400.0)  # days: a friendlier scale
                    names.append(f"x{j}_days")
            else:
                continue
            sources += [kind] * (len(names) - len(sources))
        return np.hstack(parts), names, sources

    def _poly_pairs(self) -> list[tuple[int, int]]:
        """Pairs of numeric block columns whose products are extra features."""
        mode = self.options_["polynomial"]
        if mode == "none":
            return []
        cols = [i for i, s in enumerate(self.block_sources_) if s == "numeric"][:MAX_POLY_COLUMNS]
        return [
            (a, b) for i, a in enumerate(cols) for b in cols[i:] if a != b or mode == "degree2"
        ]

    def _output_names(self, n_columns: int) -> list[str]:
        names = list(self.block_names_)
        names += [f"{self.block_names_[a]}*{self.block_names_[b]}" for a, b in self._poly_pairs()]
        for j, categories, frequencies in zip(
            self._columns("categorical"), self.categories_, self.frequencies_, strict=True
        ):
            if frequencies is not None:
                names.append(f"x{j}_frequency")
            else:
                names += [f"x{j}={c}" for c in categories]
        return names


def _categorical(values: np.ndarray) -> list[str | None]:
    # Cells as strings, so a JSON 3 matches the CSV's "3" and True matches "True".
    return [None if v is None else str(v) for v in values]


def _nanquantile(block: np.ndarray, q: float) -> np.ndarray:
    if block.shape[1] == 0:
        return np.empty(0)
    with _quiet():
        out = np.nanquantile(block, q, axis=0)
    return np.where(np.isnan(out), 0.0, out)


def _fill_values(block: np.ndarray, strategy: str, fill_value: float) -> np.ndarray:
    """One value per column for its missing cells; fill_value where a column has none."""
    if block.shape[1] == 0:
        return np.empty(0)
    if strategy == "constant":
        return np.full(block.shape[1], fill_value)
    with _quiet():
        if strategy == "mean":
            fill = np.nanmean(block, axis=0)
        elif strategy == "median":
            fill = np.nanmedian(block, axis=0)
        else:
            fill = np.array([_mode(block[:, j]) for j in range(block.shape[1])])
    return np.where(np.isnan(fill), fill_value, fill)


def _mode(column: np.ndarray) -> float:
    values, counts = np.unique(column[~np.isnan(column)], return_counts=True)
    return float(values[np.argmax(counts)]) if len(values) else np.nan


def _scaling(block: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (center, scale); a constant column keeps scale 1."""
    n = block.shape[1]
    if method == "none" or n == 0:
        return np.zeros(n), np.ones(n)
    if method == "standard":
        center, scale = block.mean(axis=0), block.std(axis=0)
    elif method == "minmax":
        center, scale = block.min(axis=0), block.max(axis=0) - block.min(axis=0)
    else:
        center = np.median(block, axis=0)
        scale = np.quantile(block, 0.75, axis=0) - np.quantile(block, 0.25, axis=0)
    return center, np.where(scale > 0, scale, 1.0)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # All-missing columns make nanmean & co. warn; their NaN is replaced right after.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
