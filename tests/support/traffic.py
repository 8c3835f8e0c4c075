"""Served traffic for drift and feedback tests: iris rows drawn again with a little noise,
sent through the predict API, and logs moved back in time."""

from datetime import timedelta

import numpy as np
from django.utils import timezone

from tests.support.factories import FEATURES, iris_xy


def traffic(api, deployment, seed: int, n: int = 400, shift: dict | None = None) -> None:
    """Serve n rows of iris drawn again with a little noise; `shift` adds to a feature."""
    X, _ = iris_xy()
    rng = np.random.default_rng(seed)
    rows = X[rng.integers(0, len(X), n)] + rng.normal(0, 0.02, (n, 4)) * X.std(axis=0)
    for name, amount in (shift or {}).items():
        rows[:, FEATURES.index(name)] += amount
    for start in range(0, n, 100):
        batch = [
            dict(zip(FEATURES, map(float, r), strict=True)) for r in rows[start : start + 100]
        ]
        response = api.post(
            f"/api/v1/deployments/{deployment.id}/predict/", {"inputs": batch}, format="json"
        )
        assert response.status_code == 200, response.content


def age_logs(deployment, hours: float) -> None:
    """Move every log of the deployment back in time (out of the next report's window)."""
    from automl.serving.models import PredictionLog

    PredictionLog.objects.filter(deployment=deployment).update(
        created_at=timezone.now() - timedelta(hours=hours)
    )
