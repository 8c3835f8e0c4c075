"""Loaded into a test worker (`celery worker --include tests.support.stuck_fits`): the k-NN
family's fit with n_neighbors = 1 never returns by itself, like one long call that checks
neither a deadline nor the cancel flag (a huge single fit, a user callback that hangs).
Every other fit is the real one.

The fit is replaced when a worker starts (worker_init, before its pool forks), not on
import: the test that starts such a worker imports STUCK_NEIGHBORS from here, and the
pytest process running it (and every test after it) must keep the real fit."""

import time

from celery.signals import worker_init

from workers.hpo.families import FAMILIES

STUCK_NEIGHBORS = 1


@worker_init.connect
def _make_knn_hang(**_) -> None:
    family = FAMILIES["knn"]
    real_fit = family.fit

    def fit(params, X, y, ctx):
        if params.get("n_neighbors") == STUCK_NEIGHBORS:
            time.sleep(3600)
        return real_fit(params, X, y, ctx)

    family.fit = fit
