import pytest

from workers.training.threads import ENV, worker_threads


def test_children_split_the_cores_and_the_operator_can_override(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert worker_threads(2, cores=2) == 1
    assert worker_threads(4, cores=16) == 4
    assert worker_threads(8, cores=2) == 1  # never below one
    monkeypatch.setenv(ENV, "3")
    assert worker_threads(2, cores=2) == 3


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_override_is_refused_not_guessed(monkeypatch, value):
    monkeypatch.setenv(ENV, value)
    with pytest.raises(ValueError, match=ENV):
        worker_threads(2, cores=2)
