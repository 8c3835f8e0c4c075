"""The re-tune's challenge: a challenger against the deployment's champion on the labelled
recent rows held out of the re-tune's training, with McNemar's test; the labelled rows
split once, the same way for training and for the challenge."""

import numpy as np
import pytest

from automl.errors import Conflict
from automl.monitoring import retune
from automl.monitoring.models import Feedback
from automl.serving.models import PredictionLog
from tests.support.factories import mlp_dir, register
from tests.support.traffic import traffic

pytestmark = pytest.mark.django_db


@pytest.fixture
def challenger(alice, tmp_path, model_store):
    # Two steps of training: it disagrees with the champion on many rows whichever half of
    # the labelled rows is held out, so the test's verdicts cannot hinge on a handful of rows.
    return register(alice, mlp_dir(tmp_path / "mlp", steps=2), name="iris")


def label(deployment, answer_of) -> None:
    """Label every logged row with the answer `answer_of(log, row)` gives."""
    for log in PredictionLog.objects.filter(deployment=deployment):
        for row in range(len(log.inputs)):
            Feedback.objects.create(prediction=log, row=row, label=answer_of(log, row))


def test_the_labelled_rows_split_in_two_halves_that_do_not_overlap(alice_api, deployment, version):
    traffic(alice_api, deployment, seed=0, n=200)
    label(deployment, lambda log, row: log.outputs["predictions"][row])
    train, _ = retune.labelled(deployment, version, 24, challenge=False)
    held, _ = retune.labelled(deployment, version, 24, challenge=True)
    assert len(train) + len(held) == 200
    assert 60 < len(held) < 140  # about half


def test_a_worse_challenger_loses_and_a_better_one_wins(
    alice_api, deployment, version, challenger
):
    from automl.serving.loader import load

    traffic(alice_api, deployment, seed=0, n=300)
    # The truth is what the champion answered: the challenger (an MLP trained two steps) loses.
    label(deployment, lambda log, row: log.outputs["predictions"][row])
    lost = retune.challenge(
        deployment,
        challenger,
        hours=24,
        min_rows=20,
        significance=0.05,
        require_significant=True,
    )
    assert not lost["wins"] and lost["champion_score"] == 1.0
    assert lost["test"].startswith("McNemar") and lost["p_value"] < 0.05
    assert lost["challenger_score"] < lost["champion_score"]

    # The truth changes to the challenger's answers: now it wins, significantly.
    mlp = load(challenger)
    Feedback.objects.all().delete()
    label(
        deployment,
        lambda log, row: mlp.predict(np.array([log.inputs[row]]))["predictions"][0],
    )
    won = retune.challenge(
        deployment, challenger, hours=24, min_rows=20, significance=0.05, require_significant=True
    )
    assert won["wins"] and won["challenger_score"] == 1.0, won
    assert won["p_value"] < 0.05 and "held-out labelled rows" in won["says"]


def test_too_few_held_out_rows_is_a_conflict_naming_them(alice_api, deployment, challenger):
    traffic(alice_api, deployment, seed=0, n=100)
    with pytest.raises(Conflict, match="held-out labelled rows"):
        retune.challenge(
            deployment,
            challenger,
            hours=24,
            min_rows=5,
            significance=0.05,
            require_significant=True,
        )
