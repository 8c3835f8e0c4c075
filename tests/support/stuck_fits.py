"""Loaded into a test worker (`celery worker --include tests.support.stuck_fits`): the k-NN
family's fit with n_neighbors = 1 never returns by itself, like one long call that checks
neither a deadline nor the cancel flag (a huge single fit, a user callback that hangs).
Every other fit is the real one."""

import time

from workers.hpo.families import FAMILIES

STUCK_NEIGHBORS = 1

_family = FAMILIES["knn"]
_real_fit = _family.fit


def _fit(params, X, y, ctx):
    if params.get("n_neighbors") == STUCK_NEIGHBORS:
        time.sleep(3600)
    return _real_fit(params, X, y, ctx)


_family.fit = _fit
