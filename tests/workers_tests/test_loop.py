"""The one training loop: stops, progress, early stop; and the measure module."""

import itertools
import time

import pytest
import torch
from torch import nn

from workers.training import loop
from workers.training.measure import count_params, median_ms, outputs
from workers.training.stopping import Cancelled, DeadlineExceeded, StopCheck


def data(rows=64):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 4, generator=g)
    return x, (x[:, 0] > 0).long()


def tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


class Counting:
    """A cross-entropy loss that counts its calls (one per micro-batch)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, net, x, y, rows):
        self.calls += 1
        return loop.cross_entropy(net, x, y, rows)


def test_should_stop_ends_an_endless_run_within_a_step_of_the_cancel():
    x, y = data()
    loss, asked = Counting(), itertools.count(1)
    hooks = loop.Hooks(stop=StopCheck(lambda: next(asked) >= 5))
    with pytest.raises(Cancelled, match=r"cancelled \(in epoch 0, after step 5 of 8\)"):
        loop.train(
            tiny(), x, y, epochs=10**9, batch_size=8, lr=0.01, seed=0, loss=loss, hooks=hooks
        )
    assert loss.calls == 5  # the fifth step's check saw the cancel; no sixth step ran


def test_a_passed_deadline_stops_after_the_first_step_and_names_the_limit():
    x, y = data()
    loss = Counting()
    hooks = loop.Hooks(stop=StopCheck(deadline=time.monotonic() - 1, limit="timeout_s=3"))
    with pytest.raises(DeadlineExceeded, match=r"timeout_s=3 exceeded \(in epoch 0, after step 1"):
        loop.train(
            tiny(), x, y, epochs=10**9, batch_size=8, lr=0.01, seed=0, loss=loss, hooks=hooks
        )
    assert loss.calls == 1


def test_it_reports_progress_inside_an_epoch():
    x, y = data(rows=400)
    seen = []
    loop.train(
        tiny(),
        x,
        y,
        epochs=2,
        batch_size=4,
        lr=0.01,
        seed=0,
        hooks=loop.Hooks(on_progress=seen.append),
    )
    # 100 steps per epoch, a report every 10th: ten per epoch, rising, the last at the end.
    assert len(seen) == 20 and seen == sorted(seen)
    assert seen[0] == pytest.approx(0.05) and seen[-1] == pytest.approx(1.0)


def test_an_epoch_hook_returning_true_stops_early_and_the_losses_fall():
    x, y = data()
    epochs = []

    def on_epoch(epoch):
        epochs.append(epoch)
        return epoch == 2

    model = tiny()
    losses = loop.train(
        model, x, y, epochs=50, batch_size=8, lr=0.05, seed=0, hooks=loop.Hooks(on_epoch)
    )
    assert epochs == [0, 1, 2] and len(losses) == 3 * 8
    assert losses[-1] < losses[0]
    assert not model.training  # handed back in eval mode


def test_it_skips_micro_batches_below_min_rows_and_anneals_a_cosine_schedule():
    x, y = data(rows=17)  # the last batch of 8 holds one row
    loss, lrs = Counting(), []

    def optimizer(params):
        opt = torch.optim.SGD(params, lr=0.1)
        lrs.append(opt.param_groups)
        return opt

    loop.train(
        tiny(),
        x,
        y,
        epochs=4,
        batch_size=8,
        lr=0.1,
        seed=0,
        loss=loss,
        optimizer=optimizer,
        schedule="cosine",
        min_rows=2,
    )
    assert loss.calls == 4 * 2
    assert lrs[0][0]["lr"] == pytest.approx(0.0)  # annealed to zero after the last epoch
    with pytest.raises(ValueError, match="schedule"):
        loop.train(tiny(), x, y, epochs=1, batch_size=8, lr=0.1, seed=0, schedule="step")


def test_outputs_in_chunks_match_one_forward_pass_and_count_params_counts_weights():
    model, (x, _) = tiny(), data(rows=50)
    with torch.no_grad():
        whole = model(x)
    torch.testing.assert_close(outputs(model, x, batch_size=7), whole)
    assert count_params(model) == 4 * 8 + 8 + 8 * 2 + 2


def test_median_ms_times_only_the_calls_after_the_warmup():
    calls = []
    value = median_ms(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and value >= 0
