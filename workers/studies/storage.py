"""Where a study lives: in memory, an Optuna journal file, or a database (RDBStorage).

One storage per URL is kept for the process's lifetime: a worker runs many jobs, and a
connection pool per job would exhaust the database's connections.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Container, Sequence
from typing import Any, TypeVar

import optuna
from optuna.exceptions import StorageInternalError
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)
T = TypeVar("T")


def make_storage(url: str | None) -> BaseStorage:
    """In-memory (None), an Optuna journal file ("journal:/path"), or an RDB URL.

    The journal file is the embedded default: several processes can share it (file locks).
    Neither storage's own heartbeat is used: in optuna 5.0.0 only RDBStorage has one, and
    it only runs inside study.optimize(); runners keep their own (heartbeat.py).
    """
    if url is None:
        return optuna.storages.InMemoryStorage()
    # One at a time: two threads of a web process that meet a new URL at once would each
    # open a pool and create Optuna's tables concurrently (a unique violation on Postgres).
    with _OPENING:
        return _shared_storage(url)


def close_storages() -> None:
    """Close the pools of every storage this process opened (e.g. before dropping a DB)."""
    for storage in _OPEN_STORAGES:
        if isinstance(storage, RetryingStorage):
            storage.close()
    _OPEN_STORAGES.clear()
    _shared_storage.cache_clear()


def trial_id(trial: optuna.Trial | FrozenTrial) -> int:
    """The storage's id of a trial (Optuna keeps it private; its storage methods take it)."""
    return trial._trial_id


def study_id(study: optuna.Study) -> int:
    """The storage's id of a study, without reading the storage."""
    return study._study_id


_OPEN_STORAGES: list[BaseStorage] = []
_OPENING = threading.Lock()


@functools.lru_cache(maxsize=32)
def _shared_storage(url: str) -> BaseStorage:
    if url.startswith("journal:"):
        backend = optuna.storages.journal.JournalFileBackend(url.removeprefix("journal:"))
        storage: BaseStorage = optuna.storages.JournalStorage(backend)
    else:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if not url.startswith("sqlite"):  # SQLite uses a pool without these knobs
            kwargs.update(pool_size=2, max_overflow=4)
        storage = RetryingStorage(optuna.storages.RDBStorage(url, engine_kwargs=kwargs))
    _OPEN_STORAGES.append(storage)
    return storage


class RetryingStorage(BaseStorage):
    """An RDB storage whose idempotent operations are tried once more after a failure.

    A dropped database connection (failover, an idle-session killer) fails the operation
    that was using it; the pool's pre-ping then hands the retry a fresh one. Only reads and
    upserts are retried: creating a trial or finishing one twice would not be the same.

    It holds the RDB storage inside Optuna's own cache (what optuna.load_study would wrap
    an RDBStorage in; it does not wrap this class, which is no RDBStorage), so the
    runners' own reads of finished trials are cached too.

    Args:
        rdb: the storage to wrap; close() disposes of its connection pool.
    """

    def __init__(self, rdb: optuna.storages.RDBStorage) -> None:
        self._rdb = rdb
        self._backend: BaseStorage = optuna.storages._CachedStorage(rdb)

    def close(self) -> None:
        self._rdb.engine.dispose()

    def _once_more(self, operation: Callable[..., T], *args: Any) -> T:
        try:
            return operation(*args)
        except StorageInternalError:
            log.warning(
                "storage %s failed; trying once more on a fresh connection", operation.__name__
            )
            return operation(*args)

    # Not retried: a second attempt would create, or finish, a second time.

    def create_new_study(
        self, directions: Sequence[StudyDirection], study_name: str | None = None
    ) -> int:
        return self._backend.create_new_study(directions, study_name)

    def delete_study(self, study_id: int) -> None:
        self._backend.delete_study(study_id)

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        return self._backend.create_new_trial(study_id, template_trial)

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: optuna.distributions.BaseDistribution,
    ) -> None:
        self._backend.set_trial_param(trial_id, param_name, param_value_internal, distribution)

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        return self._backend.set_trial_state_values(trial_id, state, values)

    # Reads and upserts: the same operation whether it ran once or twice.

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._once_more(self._backend.set_study_user_attr, study_id, key, value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._once_more(self._backend.set_study_system_attr, study_id, key, value)

    def set_trial_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        self._once_more(self._backend.set_trial_intermediate_value, trial_id, step, value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._once_more(self._backend.set_trial_user_attr, trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._once_more(self._backend.set_trial_system_attr, trial_id, key, value)

    def get_study_id_from_name(self, study_name: str) -> int:
        return self._once_more(self._backend.get_study_id_from_name, study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._once_more(self._backend.get_study_name_from_id, study_id)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return self._once_more(self._backend.get_study_directions, study_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._once_more(self._backend.get_study_user_attrs, study_id)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._once_more(self._backend.get_study_system_attrs, study_id)

    def get_all_studies(self) -> list[FrozenStudy]:
        return self._once_more(self._backend.get_all_studies)

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return self._once_more(self._backend.get_trial, trial_id)

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        return self._once_more(self._backend.get_all_trials, study_id, deepcopy, states)

    def get_n_trials(
        self, study_id: int, state: tuple[TrialState, ...] | TrialState | None = None
    ) -> int:
        return self._once_more(self._backend.get_n_trials, study_id, state)

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        return self._once_more(self._backend.get_best_trial, study_id)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self._once_more(
            self._backend.get_trial_id_from_study_id_trial_number, study_id, trial_number
        )

    def get_trial_number_from_id(self, trial_id: int) -> int:
        return self._once_more(self._backend.get_trial_number_from_id, trial_id)

    def get_trial_param(self, trial_id: int, param_name: str) -> float:
        return self._once_more(self._backend.get_trial_param, trial_id, param_name)

    def get_trial_params(self, trial_id: int) -> dict[str, Any]:
        return self._once_more(self._backend.get_trial_params, trial_id)

    def get_trial_user_attrs(self, trial_id: int) -> dict[str, Any]:
        return self._once_more(self._backend.get_trial_user_attrs, trial_id)

    def get_trial_system_attrs(self, trial_id: int) -> dict[str, Any]:
        return self._once_more(self._backend.get_trial_system_attrs, trial_id)

    def remove_session(self) -> None:
        self._backend.remove_session()
