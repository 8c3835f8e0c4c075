"""Where model files live: a small interface, a local folder by default.

The registry only ever asks a storage to take in a finished model directory, to give a
local directory it can load from, to open one file, and to forget a key. In production the
same LocalStorage points at a shared path (MODEL_STORE_ROOT on a volume every web replica
and worker mounts); an object-store backend implements the same four methods.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from abc import ABC, abstractmethod
from functools import cache
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.utils.module_loading import import_string

_KEY = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")


class StorageError(Exception):
    """A key is invalid or its files cannot be read or written."""


class ArtifactStorage(ABC):
    """Model directories under string keys such as "versions/12"."""

    @abstractmethod
    def put_dir(self, source: Path, key: str) -> list[str]:
        """Copy every file of `source` under `key` (which must not exist); return the names."""

    @abstractmethod
    def local_dir(self, key: str) -> Path:
        """A local directory holding the files of `key`, for loading."""

    @abstractmethod
    def open(self, key: str, name: str) -> BinaryIO:
        """One file of `key`, opened for binary reading."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove `key` and its files (no error if it does not exist)."""

    def names(self, key: str) -> list[str]:
        return sorted(p.name for p in self.local_dir(key).iterdir() if p.is_file())


class LocalStorage(ArtifactStorage):
    """A folder on a local or shared file system."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise StorageError(f"invalid storage key {key!r}")
        return self.root / key

    def put_dir(self, source: Path, key: str) -> list[str]:
        target = self._path(key)
        if target.exists():
            raise StorageError(f"{key} already exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copied beside the target, then renamed: readers never see half a directory.
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.mkdir()
            names = []
            for path in sorted(Path(source).iterdir()):
                if path.is_file() and not path.name.endswith(".tmp"):
                    shutil.copyfile(path, tmp / path.name)
                    names.append(path.name)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return names

    def local_dir(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_dir():
            raise StorageError(f"{key} does not exist")
        return path

    def open(self, key: str, name: str) -> BinaryIO:
        if Path(name).name != name or name.startswith("."):
            raise StorageError(f"invalid file name {name!r}")
        try:
            return (self.local_dir(key) / name).open("rb")
        except FileNotFoundError:
            raise StorageError(f"{key}/{name} does not exist") from None

    def delete(self, key: str) -> None:
        shutil.rmtree(self._path(key), ignore_errors=True)


@cache
def _storage(backend: str, root: str) -> ArtifactStorage:
    return import_string(backend)(root)


def get_storage() -> ArtifactStorage:
    """The configured storage (MODEL_STORE_BACKEND rooted at MODEL_STORE_ROOT)."""
    return _storage(settings.MODEL_STORE_BACKEND, str(settings.MODEL_STORE_ROOT))
