"""The preprocessing every engine shares: config validation and one fitted transformer made
of scikit-learn's own transformers.

A job's config may hold `target` (a column name) and `preprocessing`:

- drop: columns left out of the features;
- imputation: "mean" | "median" | "most_frequent" | "constant" (numeric columns; with
  "constant" they get fill_value and categorical columns a "<missing>" category, else
  categorical columns get their most frequent value);
- scaling: "standard" | "minmax" | "robust" | "none";
- clip_outliers: clip numeric values to [Q1 - k IQR, Q3 + k IQR] of the training rows,
  k = iqr_factor (1.5);
- max_categories: one-hot columns per categorical column, the rarer values sharing the
  last one (an unseen value counts as rare);
- feature engineering switches, each false/true, or "search" to let the HPO search flip
  it: datetime_parts (year, month, weekday, hour; off: one number of days), polynomial
  ("none" | "interactions" | "degree2" over the first MAX_POLY_COLUMNS numeric columns),
  target_encoding (categorical columns with more than high_cardinality distinct values
  are target encoded instead of one-hot; "frequency_encoding", its former name, is read
  as it).

Text columns are dropped. The fitted `Preprocessing` parses raw cells into typed columns
(workers.data.columns.typed_table) and hands them to a ColumnTransformer of SimpleImputer,
scalers, PolynomialFeatures, OneHotEncoder and TargetEncoder, with FunctionTransformer only
around numpy.clip. That ColumnTransformer is what a model version saves, so scikit-learn and
skops alone can load and run it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    OneHotEncoder,
    PolynomialFeatures,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)
from sklearn.utils.validation import check_is_fitted

from workers.data.columns import MISSING_STRING, cells_table, typed_table
from workers.data.legacy_preprocess import TablePreprocessor  # noqa: F401  (old versions' name)

IMPUTATIONS = ("mean", "median", "most_frequent", "constant")
SCALINGS = ("standard", "minmax", "robust", "none")
POLYNOMIAL = ("none", "interactions", "degree2")
SEARCH = "search"
MAX_POLY_COLUMNS = 20
MISSING_CATEGORY = "<missing>"
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
    "target_encoding": False,
    "high_cardinality": 20,
}
RENAMED = {"frequency_encoding": "target_encoding"}  # former keys, read as their new names
SWITCHES = {  # feature-engineering switch -> the values "search" chooses from
    "datetime_parts": [False, True],
    "polynomial": list(POLYNOMIAL),
    "target_encoding": [False, True],
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
    for name, value in raw.items():
        path, key = f"preprocessing.{name}", RENAMED.get(name, name)
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
        "target_encoding": "categorical" in kinds,
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


class Preprocessing(TransformerMixin, BaseEstimator):
    """Raw table cells (N x C objects: strings, numbers, None) -> a float64 feature matrix.

    fit parses the cells (typed_table) and fits `features_`, a ColumnTransformer of
    scikit-learn transformers only; transform parses and applies it. Numeric, boolean and
    datetime columns are imputed, clipped (optionally) and scaled, the first numeric ones
    also multiplied out (polynomial); categorical columns are imputed and one-hot or, when
    they have many values and target_encoding is on, target encoded.

    Args:
        kinds: each input column's kind (workers.data.columns.KINDS).
        options: normalised preprocessing options with no "search" left (see `resolve`).
        task: "classification" or "regression" (what the target encoder learns).
        names: the input columns' names (default x0, x1, ...), for the output features.
    """

    def __init__(
        self,
        kinds: list[str] | None = None,
        options: dict | None = None,
        task: str = "classification",
        names: list[str] | None = None,
    ) -> None:
        self.kinds = kinds
        self.options = options
        self.task = task
        self.names = names

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Preprocessing:
        X = self._check_input(X)
        opts = {**DEFAULTS, **(self.options or {})}
        if any(opts[name] == SEARCH for name in SWITCHES):
            raise ValueError("resolve the 'search' switches before fitting")
        self.options_ = opts
        self.n_features_in_ = X.shape[1]
        table, self.columns_, self.roles_ = typed_table(X, self.kinds, self._names())
        self.features_ = _column_transformer(table, self.roles_, opts, self.task, y)
        self.features_.fit(table, y)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "features_")
        return np.ascontiguousarray(self.features_.transform(self.typed(X)), dtype=np.float64)

    def typed(self, X: np.ndarray) -> np.ndarray:
        """Raw cells -> the typed columns `features_` reads (columns_, roles_)."""
        return typed_table(self._check_input(X), self.kinds, self._names())[0]

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        check_is_fitted(self, "features_")
        return self.features_.get_feature_names_out(self.columns_)

    def input_record(self) -> dict:
        """What loading needs besides `features_`: the raw columns' kinds and names, and
        the typed columns `features_` reads with their roles (a user of the skops file alone
        feeds those; an ONNX export declares them as its inputs)."""
        check_is_fitted(self, "features_")
        return {
            "kinds": list(self.kinds),
            "names": self._names(),
            "columns": self.columns_,
            "roles": self.roles_,
        }

    @classmethod
    def fitted(cls, features: ColumnTransformer, record: dict) -> Preprocessing:
        """A Preprocessing around a loaded `features_` and its input_record."""
        out = cls(kinds=list(record["kinds"]), names=list(record["names"]))
        out.features_, out.columns_ = features, list(record["columns"])
        out.roles_ = record.get("roles")  # absent from the first few versions saved
        out.n_features_in_ = len(out.kinds)
        return out

    def _names(self) -> list[str]:
        return list(self.names or [f"x{j}" for j in range(len(self.kinds))])

    def _check_input(self, X: np.ndarray) -> np.ndarray:
        return cells_table(X, self.kinds)


SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


def _column_transformer(
    table: np.ndarray, roles: list[str], opts: dict, task: str, y: np.ndarray | None
) -> ColumnTransformer:
    """The unfitted ColumnTransformer for typed columns with these roles.

    Only the clipping bounds (numpy.clip's arguments) and which categorical columns count
    as high-cardinality are read from the training table here; every other statistic is
    the transformers' own fit.
    """
    dates = "datetime_part" if opts["datetime_parts"] else "datetime_days"
    numeric = [j for j, r in enumerate(roles) if r == "numeric"]
    poly = numeric[:MAX_POLY_COLUMNS] if opts["polynomial"] != "none" else []
    plain = [
        j for j, r in enumerate(roles) if r in ("numeric", "boolean", dates) and j not in poly
    ]
    categorical = [j for j, r in enumerate(roles) if r == "categorical"]
    many = [
        j
        for j in categorical
        if opts["target_encoding"] and _distinct(table[:, j]) > opts["high_cardinality"]
    ]
    branches = []
    for name, columns in (("numeric", plain), ("polynomial", poly)):
        if columns:
            steps = _numeric_steps(table[:, columns], opts)
            if name == "polynomial":
                steps.append(
                    (
                        "products",
                        PolynomialFeatures(
                            degree=2,
                            interaction_only=opts["polynomial"] == "interactions",
                            include_bias=False,
                        ),
                    )
                )
            branches.append((name, Pipeline(steps), columns))
    impute = (
        SimpleImputer(
            missing_values=MISSING_STRING, strategy="constant", fill_value=MISSING_CATEGORY
        )
        if opts["imputation"] == "constant"
        else SimpleImputer(missing_values=MISSING_STRING, strategy="most_frequent")
    )
    onehot = [j for j in categorical if j not in many]
    if onehot:
        encoder = OneHotEncoder(
            max_categories=opts["max_categories"],
            handle_unknown="infrequent_if_exist",
            sparse_output=False,
        )
        branches.append(("onehot", Pipeline([("impute", impute), ("encode", encoder)]), onehot))
    if many:
        # Fitting cross-fits the training rows' codes; unshuffled folds keep it repeatable,
        # and tiny tables get two folds.
        folds = 5 if len(table) >= 50 else 2
        regression = task == "regression"
        encoder = TargetEncoder(
            target_type="continuous" if regression else "auto",
            cv=KFold(folds) if regression else StratifiedKFold(folds),
        )
        branches.append(
            ("target", Pipeline([("impute", clone(impute)), ("encode", encoder)]), many)
        )
    return ColumnTransformer(branches, verbose_feature_names_out=False)


def _numeric_steps(block: np.ndarray, opts: dict) -> list[tuple[str, object]]:
    """Impute, clip (numpy.clip between the training rows' IQR fences), scale."""
    strategy = opts["imputation"]
    steps: list[tuple[str, object]] = [
        (
            "impute",
            SimpleImputer(
                strategy=strategy,
                fill_value=opts["fill_value"] if strategy == "constant" else None,
                keep_empty_features=True,
            ),
        )
    ]
    if opts["clip_outliers"]:
        values = block.astype(np.float64)
        q1, q3 = (_nanquantile(values, q) for q in (0.25, 0.75))
        spread = opts["iqr_factor"] * (q3 - q1)
        fences = {"a_min": q1 - spread, "a_max": q3 + spread}
        steps.append(
            ("clip", FunctionTransformer(np.clip, kw_args=fences, feature_names_out="one-to-one"))
        )
    if opts["scaling"] != "none":
        steps.append(("scale", SCALERS[opts["scaling"]]()))
    return steps


def _distinct(column: np.ndarray) -> int:
    return len({c for c in column if c != MISSING_STRING})


def _nanquantile(values: np.ndarray, q: float) -> np.ndarray:
    """Per-column quantile of the present values; 0 for a column with none."""
    out = np.zeros(values.shape[1])
    for j in range(values.shape[1]):
        present = values[:, j][~np.isnan(values[:, j])]
        if len(present):
            out[j] = np.quantile(present, q)
    return out
