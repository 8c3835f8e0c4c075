"""Model directories: a JSON spec beside safetensors (torch) or skops (sklearn) data.

A saved model is a directory holding ``spec.json`` and one data file:

- torch ``nn.Module``: ``weights.safetensors``; the spec carries what rebuilds the module
  (``kind`` and ``config``, see ``workers.models.kinds``) and whatever inference needs
  besides the weights: ``task`` ("classification", the default, or "regression"),
  ``classes`` (labels for class indices), ``input_mean``/``input_std`` (standardisation of
  the inputs) and ``target_mean``/``target_std`` (regression targets in their own units).
- sklearn estimator or Pipeline: ``model.skops``.

spec.json also records ``family``, ``framework``, ``file``, ``sha256`` and ``size`` of the
data file and ``format_version``. Loading checks the hash before reading a byte of the data.
Nothing is pickled: skops files are loaded with ``trusted=`` only the types that skops does
not trust by itself *and* that appear in ALLOWED_SKOPS_TYPES; anything else is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
import torch
from safetensors.torch import load_file, save_file
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from torch import nn

from workers.models.kinds import build_torch, kind_of
from workers.models.layout import (
    FORMAT_VERSION,
    PREPROCESSING,
    REFERENCE_FILE,
    SKOPS_FILE,
    SPEC_FILE,
    WEIGHTS_FILE,
)
from workers.models.spec import (  # noqa: F401  (the format's public API)
    data_spec,
    decode_predictions,
    ignored_columns,
    output_labels,
)

# Types that skops.io does not trust by default but that the estimators we produce contain.
# Exact names, no prefixes: a type is added here only after checking it carries data only.
ALLOWED_SKOPS_TYPES: frozenset[str] = frozenset(
    {
        "numpy.dtype",  # ColumnTransformer / encoders keep dtypes
        "sklearn.tree._tree.Tree",  # random forests, extra trees, gradient boosting
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",  # k-nearest neighbours
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        # SVMs under a probability metric (roc_auc, log_loss) are calibrated: the
        # calibrator holds the fitted SVM, its classes and a sigmoid's two numbers.
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        # The preprocessing: numpy.clip is the one function its FunctionTransformer may
        # call; TablePreprocessor is what versions saved before it held (numbers, strings,
        # lists and dicts only).
        "numpy.clip",
        # A target encoder keeps the (unshuffled) folds it cross-fitted with.
        "sklearn.model_selection._split.KFold",
        "sklearn.model_selection._split.StratifiedKFold",
        "workers.data.preprocess.TablePreprocessor",
        # An HPO job's ensemble: its members (estimators and Pipelines of the types above)
        # and their weights, a float array.
        "workers.models.ensemble.WeightedEnsemble",
        # LightGBM and XGBoost estimators: skops stores their boosters as the libraries'
        # own text / JSON model formats (no pickle), plus LightGBM's ordered parameters.
        "collections.OrderedDict",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
    }
)


class ArtifactError(Exception):
    """A model directory cannot be written or read."""


class IntegrityError(ArtifactError):
    """A data file does not match the size or sha256 recorded in its spec."""


class UntrustedTypesError(ArtifactError):
    """A skops file holds types outside ALLOWED_SKOPS_TYPES."""

    def __init__(self, path: Path, types: list[str]) -> None:
        self.types = types
        super().__init__(f"{path.name} contains types that are not allowed: {', '.join(types)}")


# --- files, hashes and JSON


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_record(path: Path) -> dict:
    return {"file": path.name, "sha256": _sha256(path), "size": path.stat().st_size}


def verify_file(directory: Path, record: dict) -> Path:
    """The data file named by record, after checking its size and sha256."""
    name = record.get("file")
    if not isinstance(name, str) or not name or Path(name).name != name:
        raise ArtifactError(f"spec names an invalid data file {name!r}")
    path = directory / name
    if not path.is_file():
        raise ArtifactError(f"{path} is missing")
    if path.stat().st_size != record.get("size") or _sha256(path) != record.get("sha256"):
        raise IntegrityError(f"{path} does not match the sha256 and size in its spec")
    return path


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def write_json(path: Path, data: dict) -> None:
    # Written last and renamed into place: a readable spec means the directory is complete.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ArtifactError(f"{path} does not hold a JSON object")
    return data


# --- skops, with the explicit trust check


def _trusted_types(path: Path) -> list[str]:
    """skops' untrusted types in path, if every one is allowed; else UntrustedTypesError."""
    untrusted = sio.get_untrusted_types(file=path)
    if refused := sorted(set(untrusted) - ALLOWED_SKOPS_TYPES):
        raise UntrustedTypesError(path, refused)
    return untrusted


def _dump_skops(obj: BaseEstimator, path: Path) -> None:
    check_is_fitted(obj)
    tmp = path.with_name(path.name + ".tmp")
    sio.dump(obj, tmp)
    try:
        _trusted_types(tmp)  # refuse now what could not be loaded later
    except UntrustedTypesError as exc:
        tmp.unlink()
        raise UntrustedTypesError(path, exc.types) from None
    os.replace(tmp, path)


def _load_skops(path: Path) -> Any:
    return sio.load(path, trusted=_trusted_types(path))


# --- torch models


class TorchPredictor:
    """A torch module plus the spec's input/output handling, with a sklearn-like API.

    Args:
        module: the network (put in eval mode).
        spec: the model spec; see the module docstring for the keys used here.
    """

    def __init__(self, module: nn.Module, spec: dict) -> None:
        self.module = module.eval()
        self.spec = spec
        self.kind = kind_of(spec)
        self.task = spec.get("task", "classification")
        if self.task not in ("classification", "regression"):
            raise ValueError(f"unknown task {self.task!r}")
        self.classes_ = np.asarray(spec["classes"]) if spec.get("classes") is not None else None

    def _outputs(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        # Same arithmetic as train_mlp: standardise in float64 first, then cast to float32.
        rows = torch.as_tensor(np.asarray(X, dtype=np.float64))
        x = self.kind.model_input(self.spec, rows).float()
        # The rows go to wherever the module is (a GPU after a CUDA trial), answers come back.
        device = next(self.module.parameters(), x).device
        with torch.no_grad():
            out = [
                self.module(x[i : i + batch_size].to(device)).float().cpu()
                for i in range(0, len(x), batch_size)
            ]
        return torch.cat(out).numpy() if out else np.empty((0, 1), dtype=np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, N x n_classes (classification only)."""
        if self.task != "classification":
            raise AttributeError("predict_proba is only available for classification")
        logits = self._outputs(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels (``classes`` if the spec has them, else indices) or regression values."""
        out = self._outputs(X)
        if self.task == "classification":
            idx = out.argmax(axis=1)
            return self.classes_[idx] if self.classes_ is not None else idx
        y_mean, y_std = self.spec.get("target_mean", 0.0), self.spec.get("target_std", 1.0)
        return out.squeeze(-1).astype(np.float64) * y_std + y_mean


def scaling_spec(X_train: np.ndarray, y_train: np.ndarray | None = None) -> dict:
    """The statistics train_mlp standardises with, as spec keys for TorchPredictor.

    Pass y_train for regression (target_mean/target_std), leave it out for classification.
    """
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    spec = {"input_mean": mean.tolist(), "input_std": np.where(std > 0, std, 1.0).tolist()}
    if y_train is not None:
        spec["target_mean"] = float(np.mean(y_train))
        spec["target_std"] = float(np.std(y_train)) or 1.0
    return spec


def _save_torch(module: nn.Module, directory: Path, spec: dict) -> Path:
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    build_torch(spec).load_state_dict(state, strict=True)  # the spec must rebuild this model
    path = directory / WEIGHTS_FILE
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, tmp)
    os.replace(tmp, path)
    return path


def _load_torch(path: Path, spec: dict) -> TorchPredictor:
    module = build_torch(spec)
    module.load_state_dict(load_file(path), strict=True)
    return TorchPredictor(module, spec)


# --- public API


def save_model(model_obj: object, directory: Path, *, family: str, spec: dict) -> list[str]:
    """Write model_obj and its spec into directory (created if needed).

    Args:
        model_obj: a torch ``nn.Module`` (or a TorchPredictor), or a fitted sklearn estimator
            or Pipeline.
        directory: where the files go.
        family: the model family name, e.g. "mlp" or "random_forest".
        spec: JSON-serialisable description; for torch it must hold ``kind`` and ``config``.

    Returns:
        The names of the written files, data file first.

    Raises:
        TypeError: model_obj is neither torch nor sklearn.
        UntrustedTypesError: the sklearn object holds types that loading would refuse.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(model_obj, TorchPredictor):
        spec, model_obj = {**model_obj.spec, **spec}, model_obj.module
    if isinstance(model_obj, nn.Module):
        framework, path = "torch", _save_torch(model_obj, directory, spec)
    elif isinstance(model_obj, BaseEstimator):
        framework, path = "sklearn", directory / SKOPS_FILE
        _dump_skops(model_obj, path)
    else:
        raise TypeError(f"cannot save a {type(model_obj).__name__}: not torch nor sklearn")
    record = {"family": family, "framework": framework, "format_version": FORMAT_VERSION}
    write_json(directory / SPEC_FILE, {**spec, **record, **file_record(path)})
    return [path.name, SPEC_FILE]


def load_model(directory: Path) -> object:
    """Read a directory written by save_model.

    Returns:
        A TorchPredictor for torch models, the sklearn estimator for sklearn ones, an
        OnnxPredictor (onnxruntime) for imported ONNX graphs, a ProgramPredictor for
        imported torch.export programs.

    Raises:
        IntegrityError: the data file does not match its recorded sha256 or size.
        UntrustedTypesError: the skops file holds types outside ALLOWED_SKOPS_TYPES.
        ArtifactError: the directory is incomplete or its spec is invalid.
    """
    directory = Path(directory)
    spec = read_json(directory / SPEC_FILE)
    framework = spec.get("framework")
    if framework == "torch-compressed":  # quantized weights, rebuilt by the compression store
        from workers.compression.store import load_predictor

        return load_predictor(directory)
    if framework not in ("torch", "sklearn", "onnx", "torch-export"):
        raise ArtifactError(f"unknown framework {framework!r} in {directory / SPEC_FILE}")
    path = verify_file(directory, spec)
    if framework == "torch":
        return _load_torch(path, spec)
    if framework == "onnx":
        from workers.models.onnx_graph import GraphError, OnnxPredictor

        try:
            return OnnxPredictor(path, spec)
        except GraphError as exc:
            raise ArtifactError(f"{path.name}: {exc}") from None
    if framework == "torch-export":
        from workers.models.export_program import ProgramError, ProgramPredictor

        try:
            return ProgramPredictor(path, spec)
        except ProgramError as exc:
            raise ArtifactError(f"{path.name}: {exc}") from None
    return _load_skops(path)


_NAME = re.compile(r"[A-Za-z0-9_-]+")


def _transformer_paths(directory: Path, name: str) -> tuple[Path, Path]:
    if not _NAME.fullmatch(name) or name in ("spec", "model", "weights"):
        raise ValueError(f"invalid transformer name {name!r}")
    return directory / f"{name}.skops", directory / f"{name}.json"


def save_transformer(
    obj: BaseEstimator, directory: Path, name: str = "preprocessing"
) -> list[str]:
    """Write a fitted sklearn transformer (ColumnTransformer, Pipeline, ...) as name.skops.

    name.json beside it records its sha256 and size. A fitted Preprocessing is saved as
    its ColumnTransformer (scikit-learn types only), and the record keeps the raw columns'
    kinds and names and the typed columns it reads under "input".
    Returns the written file names.
    """
    from workers.data.preprocess import Preprocessing

    if not isinstance(obj, BaseEstimator):
        raise TypeError(f"cannot save a {type(obj).__name__}: not a sklearn estimator")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path, meta = _transformer_paths(directory, name)
    record = {"framework": "sklearn", "format_version": FORMAT_VERSION}
    if isinstance(obj, Preprocessing):
        obj, record["input"] = obj.features_, obj.input_record()
    _dump_skops(obj, path)
    write_json(meta, {**record, **file_record(path)})
    return [path.name, meta.name]


def load_transformer(directory: Path, name: str = "preprocessing") -> Any:
    """Read a transformer written by save_transformer (same integrity and trust checks);
    a Preprocessing again when the record has its "input"."""
    directory = Path(directory)
    _, meta = _transformer_paths(directory, name)
    record = read_json(meta)
    loaded = _load_skops(verify_file(directory, record))
    if "input" not in record:
        return loaded
    from workers.data.preprocess import Preprocessing

    try:
        return Preprocessing.fitted(loaded, record["input"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{meta} has an invalid input record: {exc}") from exc


def has_preprocessing(directory: Path) -> bool:
    return (Path(directory) / f"{PREPROCESSING}.json").exists()


def load_preprocessing(directory: Path) -> Any:
    """The directory's fitted preprocessing, or None when the model takes rows as they are."""
    return load_transformer(directory) if has_preprocessing(directory) else None


def write_reference(directory: Path, X: np.ndarray, feature_names: list[str], spec: dict) -> str:
    """reference.json: the drift reference of training rows X (raw, as served), written the
    way the model's kind writes it. Returns the file name."""
    from workers.models.kinds import kind_of

    reference = kind_of(spec).reference(np.asarray(X), list(feature_names))
    write_json(Path(directory) / REFERENCE_FILE, reference)
    return REFERENCE_FILE


def save_version(
    model_obj: object,
    directory: Path,
    *,
    family: str,
    spec: dict,
    transformer: BaseEstimator | None = None,
    rows: np.ndarray | None = None,
) -> list[str]:
    """A complete model version: the model, its fitted preprocessing (if any) and the drift
    reference of the raw rows it was trained on (spec["features"] names their columns).
    What HPO and NAS save; returns the written file names, data file first."""
    files = save_model(model_obj, directory, family=family, spec=spec)
    if transformer is not None:
        files += save_transformer(transformer, directory)
    if rows is not None:
        saved = read_json(Path(directory) / SPEC_FILE)  # the kind as saving recorded it
        files.append(write_reference(directory, rows, saved["features"], saved))
    return files


def inherit(parent: Path, directory: Path) -> list[str]:
    """Copy what a derived model (a compression step) shares with its parent: the fitted
    preprocessing (checked against its record first) and the drift reference."""
    import shutil

    parent, directory = Path(parent), Path(directory)
    copied = []
    if has_preprocessing(parent):
        path, meta = _transformer_paths(parent, PREPROCESSING)
        verify_file(parent, read_json(meta))
        for source in (path, meta):
            shutil.copyfile(source, directory / source.name)
            copied.append(source.name)
    if (parent / REFERENCE_FILE).exists():
        shutil.copyfile(parent / REFERENCE_FILE, directory / REFERENCE_FILE)
        copied.append(REFERENCE_FILE)
    return copied
