"""Models loaded once per process: a bounded LRU keyed by version id.

Loading a model reads and hashes its files and builds the estimator; a served model is
reused by every request of the process until SERVING_MODEL_CACHE_SIZE others push it out.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A model ready to answer: the estimator, its preprocessing and its inputs."""

    version_id: int
    storage_key: str
    model: Any
    transformer: Any
    features: list[str] | None
    n_features: int | None
    task: str
    spec: dict = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> dict:
        """{"predictions": [...]} plus "probabilities" (N x classes) when the model has them."""
        return self.answer(self.prepare(X))

    def prepare(self, X: np.ndarray) -> Any:
        """The rows as the estimator takes them (after the preprocessing, if any).

        Apart from `answer` so a batch is prepared request by request: a value the
        preprocessing cannot read is that request's error, never its batch's.
        """
        return X if self.transformer is None else self.transformer.transform(X)

    def answer(self, X: Any) -> dict:
        """`predict` of rows already prepared; classes in the data's own labels."""
        from workers.models.artifacts import decode_predictions, output_labels

        classes = getattr(self.model, "classes_", None)
        if self.task != "classification" or not hasattr(self.model, "predict_proba"):
            labels = np.asarray(self.model.predict(X))
            if self.task == "classification":
                labels = decode_predictions(self.spec, labels, classes)
            return {"predictions": labels.tolist()}
        torch_predictor, argmax_of_proba = _model_types()
        if isinstance(self.model, torch_predictor):
            labels, proba = _torch_answers(self.model, X)
        elif isinstance(self.model, argmax_of_proba):
            # Their predict() is argmax(predict_proba()): one pass over the trees, not two.
            proba = self.model.predict_proba(X)
            labels = np.asarray(classes).take(np.argmax(proba, axis=1), axis=0)
        else:
            labels, proba = self.model.predict(X), self.model.predict_proba(X)
        out = {
            "predictions": decode_predictions(self.spec, labels, classes).tolist(),
            "probabilities": np.asarray(proba).tolist(),
        }
        if classes is not None:
            out["classes"] = output_labels(self.spec, classes).tolist()
        return out


@cache
def _model_types() -> tuple[type, tuple[type, ...]]:
    """TorchPredictor, and the sklearn classifiers whose predict is argmax(predict_proba).

    Imported on first use: the web process loads torch only once it serves a model.
    """
    from sklearn.ensemble._forest import ForestClassifier
    from sklearn.tree import BaseDecisionTree

    from workers.models.artifacts import TorchPredictor

    return TorchPredictor, (ForestClassifier, BaseDecisionTree)


def _torch_answers(model: Any, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TorchPredictor.predict and .predict_proba from one forward pass, same arithmetic."""
    logits = model._outputs(X)
    idx = logits.argmax(axis=1)
    labels = model.classes_[idx] if model.classes_ is not None else idx
    shifted = logits.astype(np.float64)
    shifted -= shifted.max(axis=1, keepdims=True)
    proba = np.exp(shifted)
    return labels, proba / proba.sum(axis=1, keepdims=True)


def load(version) -> LoadedModel:
    """Read a ModelVersion's files from the storage (hashes checked, no pickle)."""
    from automl.registry.storage import get_storage
    from workers.models.artifacts import load_model, load_preprocessing

    directory = get_storage().local_dir(version.storage_key)
    return LoadedModel(
        version_id=version.id,
        storage_key=version.storage_key,
        model=load_model(directory),
        transformer=load_preprocessing(directory),
        features=version.features,
        n_features=version.n_features,
        task=version.task,
        spec=version.spec or {},
    )


class ModelCache:
    """A thread-safe LRU of LoadedModel by version id."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max(1, max_size)
        self._items: OrderedDict[int, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[int, threading.Lock] = {}
        self.loads = 0  # how many times a model was read from storage (tests, metrics)

    def _fresh(self, version) -> LoadedModel | None:
        # An id names another model once a database is recreated: the storage key decides.
        item = self._items.get(version.id)
        return item if item is not None and item.storage_key == version.storage_key else None

    def get(self, version) -> LoadedModel:
        with self._lock:
            if (item := self._fresh(version)) is not None:
                self._items.move_to_end(version.id)
                return item
            key_lock = self._loading.setdefault(version.id, threading.Lock())
        # One thread loads a given version while the others wait for it; different
        # versions load in parallel, and nobody holds the cache's lock while reading files.
        with key_lock:
            with self._lock:
                if (item := self._fresh(version)) is not None:
                    return item
            item = load(version)
            with self._lock:
                self.loads += 1
                self._items[version.id] = item
                self._items.move_to_end(version.id)
                while len(self._items) > self.max_size:
                    self._items.popitem(last=False)
                self._loading.pop(version.id, None)
            return item

    def __contains__(self, version_id: int) -> bool:
        return version_id in self._items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache: ModelCache | None = None


def model_cache() -> ModelCache:
    """The process's cache, sized by SERVING_MODEL_CACHE_SIZE."""
    global _cache
    if _cache is None:
        from django.conf import settings

        _cache = ModelCache(settings.SERVING_MODEL_CACHE_SIZE)
    return _cache


def warm(versions: list) -> threading.Thread:
    """Load `versions` into this process's cache in a background thread, so that the first
    request of a new or re-routed deployment does not wait seconds for its model.

    A thread rather than a Celery task: the cache lives in the web process that will
    answer, and a worker's copy would not help it. Other web processes load on their first
    request, as before. The versions are read before the thread starts, so it never
    touches the database; a version that fails to load is left to that request, which
    reports its error.
    """

    def load_all() -> None:
        for version in versions:
            try:
                model_cache().get(version)
            except Exception:  # noqa: BLE001 (the request that needs it reports the error)
                log.warning("warming version %s failed", version.id, exc_info=True)

    thread = threading.Thread(target=load_all, name="warm-models", daemon=True)
    thread.start()
    return thread
