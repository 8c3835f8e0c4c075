"""Evaluations run in this process: fewer bootstrap resamples keep them quick."""

import pytest

from automl.evaluation import services


@pytest.fixture(autouse=True)
def fewer_resamples(monkeypatch):
    monkeypatch.setattr(services, "N_RESAMPLES", 200)
