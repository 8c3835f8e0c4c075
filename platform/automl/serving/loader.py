"""Models loaded once per process: a bounded LRU keyed by version id.

Loading a model reads and hashes its files and builds the estimator; a served model is
reused by every request of the process until SERVING_MODEL_CACHE_SIZE others push it out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np


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

    def predict(self, X: np.ndarray) -> dict:
        """{"predictions": [...]} plus "probabilities" (N x classes) when the model has them."""
        if self.transformer is not None:
            X = self.transformer.transform(X)
        out: dict[str, Any] = {"predictions": np.asarray(self.model.predict(X)).tolist()}
        if self.task == "classification" and hasattr(self.model, "predict_proba"):
            out["probabilities"] = np.asarray(self.model.predict_proba(X)).tolist()
            classes = getattr(self.model, "classes_", None)
            if classes is not None:
                out["classes"] = np.asarray(classes).tolist()
        return out


def load(version) -> LoadedModel:
    """Read a ModelVersion's files from the storage (hashes checked, no pickle)."""
    from automl.registry.storage import get_storage
    from workers.models.artifacts import load_model, load_transformer

    directory = get_storage().local_dir(version.storage_key)
    transformer = load_transformer(directory) if version.has_preprocessing else None
    return LoadedModel(
        version_id=version.id, storage_key=version.storage_key, model=load_model(directory),
        transformer=transformer,
        features=version.features, n_features=version.n_features, task=version.task,
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
