"""Evaluations run in this process: fewer bootstrap resamples keep them quick."""

import pytest


@pytest.fixture(autouse=True)
def fewer_resamples(settings):
    settings.EVALUATION_RESAMPLES = 200
