import threading

from workers.heartbeat import beating


def test_it_beats_until_the_block_ends_and_then_cleans_up():
    beats, exited = [], threading.Event()
    with beating(lambda: beats.append(1), 0.01, name="t", on_exit=exited.set):
        while len(beats) < 3:
            pass
    count = len(beats)
    assert exited.is_set()
    assert len(beats) == count  # no beat after the block


def test_a_beat_returning_false_ends_it_early():
    beats = []

    def beat() -> bool:
        beats.append(1)
        return len(beats) < 2

    with beating(beat, 0.001, name="t"):
        threading.Event().wait(0.2)
    assert len(beats) == 2
