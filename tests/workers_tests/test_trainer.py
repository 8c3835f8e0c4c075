import copy

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from torch import nn

from workers.training.loop import optimizer_step, step_groups
from workers.training.measure import resolve_device
from workers.training.mlp import MLP, MLPConfig, train_mlp
from workers.training.options import TrainerOptions, option_errors
from workers.training.stopping import Cancelled, DeadlineExceeded, StopCheck
from workers.training.trainer import run_distributed, train_data_parallel


def iris() -> tuple[torch.Tensor, torch.Tensor]:
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)


def tiny_mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))


FIT = dict(task="classification", epochs=3, lr=0.02, batch_size=16, seed=0)


def test_it_trains_ddp_on_two_gloo_processes_like_one_process_on_the_global_batch():
    x, y = iris()
    model = tiny_mlp()
    one = train_data_parallel(0, 1, copy.deepcopy(model), x, y, **FIT)
    two = run_distributed(train_data_parallel, 2, copy.deepcopy(model), x, y, **FIT)
    assert len(two["losses"]) == len(one["losses"]) == 3 * 10  # 150 rows / 16 -> 10 steps
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-4, atol=1e-5)
    for key, value in one["state"].items():
        torch.testing.assert_close(two["state"][key], value, rtol=1e-4, atol=1e-5)
    assert one["losses"][-1] < 0.7 * one["losses"][0]  # and it learns


@pytest.mark.parametrize(
    "stop, stopped",
    [
        (StopCheck(lambda: True), Cancelled),
        (StopCheck(deadline=0.0, limit="trial_timeout_s=1"), DeadlineExceeded),
    ],
    ids=["cancel", "deadline"],
)
def test_a_cancel_or_deadline_ends_every_data_parallel_rank(stop, stopped):
    import multiprocessing

    x, y = iris()
    endless = {**FIT, "epochs": 10**9}  # the ranks would train for ever
    with pytest.raises(stopped, match="inside a data-parallel fit"):
        run_distributed(train_data_parallel, 2, tiny_mlp(), x, y, stop=stop, **endless)
    assert multiprocessing.active_children() == []  # no rank left training


def grads_after_one_step(model, x, y, batch_size, k):
    """Gradients accumulated for the first optimizer step, without stepping."""
    order = torch.arange(len(x))
    group = next(step_groups(order, batch_size, k))
    for idx, share in group:
        (nn.functional.cross_entropy(model(x[idx]), y[idx]) * share).backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("b,k", [(8, 4), (10, 3)])
def test_it_accumulates_k_steps_of_batch_b_like_one_step_of_batch_kb(b, k):
    x, y = iris()
    model = tiny_mlp()
    accumulated = grads_after_one_step(copy.deepcopy(model), x, y, b, k)
    whole = grads_after_one_step(copy.deepcopy(model), x, y, b * k, 1)
    for a, w in zip(accumulated, whole, strict=True):
        torch.testing.assert_close(a, w, rtol=1e-5, atol=1e-6)


def test_it_weights_a_short_last_group_by_its_rows():
    groups = list(step_groups(torch.arange(10), 3, 2))
    assert [[len(i) for i, _ in g] for g in groups] == [[3, 3], [3, 1]]
    assert [[s for _, s in g] for g in groups] == [[0.5, 0.5], [0.75, 0.25]]


def test_it_trains_accumulation_and_a_big_batch_to_the_same_weights():
    x, y = iris()
    model = tiny_mlp()
    fit = {**FIT, "epochs": 2}
    micro = train_data_parallel(
        0,
        1,
        copy.deepcopy(model),
        x,
        y,
        **{**fit, "batch_size": 5},
        options=TrainerOptions(accumulation_steps=6),
    )
    big = train_data_parallel(0, 1, copy.deepcopy(model), x, y, **{**fit, "batch_size": 30})
    np.testing.assert_allclose(micro["losses"], big["losses"], rtol=1e-4, atol=1e-5)


def test_it_trains_with_bf16_autocast_on_cpu_close_to_fp32():
    x, y = iris()
    model = tiny_mlp()
    fit = {**FIT, "epochs": 10}
    fp32 = train_data_parallel(0, 1, copy.deepcopy(model), x, y, **fit)
    bf16 = train_data_parallel(
        0, 1, copy.deepcopy(model), x, y, **fit, options=TrainerOptions(amp=True)
    )
    assert fp32["losses"] != bf16["losses"]  # autocast really ran in lower precision
    assert bf16["losses"][-1] < 0.5 * bf16["losses"][0]
    assert abs(bf16["losses"][-1] - fp32["losses"][-1]) < 0.05


def test_it_clips_the_gradient_norm_before_the_step():
    model = tiny_mlp()
    x, y = iris()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    (nn.functional.cross_entropy(model(x), y) * 1000).backward()
    options = TrainerOptions(clip_norm=0.5)
    grads = [p.grad for p in model.parameters()]
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    optimizer_step(model, optimizer, scaler, options)
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    assert float(norm) == pytest.approx(0.5, rel=1e-4)
    assert all(p.grad is None for p in model.parameters())  # cleared for the next step


def test_train_mlp_with_default_options_is_unchanged_and_accepts_trainer_options():
    X, y = load_iris(return_X_y=True)
    kwargs = dict(
        task="classification", epochs=4, lr=0.01, batch_size=16, weight_decay=0.0, seed=0
    )

    def run(options):
        torch.manual_seed(1)
        model = MLP(MLPConfig(4, 3, hidden_layers=1, hidden_units=16, dropout=0.0))
        pred = train_mlp(model, X, y, X, y, **kwargs, options=options)
        return pred, model

    (a, m1), (b, m2) = run(None), run(TrainerOptions())
    assert np.array_equal(a, b)
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p, q)
    c, _ = run(TrainerOptions(amp=True, accumulation_steps=2, clip_norm=1.0))
    assert np.mean(c == y) > 0.7
    with pytest.raises(ValueError, match="one process"):
        run(TrainerOptions(processes=2))


# --- options


def test_it_validates_options():
    assert option_errors({}) == {}
    assert (
        option_errors(
            {
                "device": "auto",
                "amp": True,
                "accumulation_steps": 4,
                "clip_norm": 1,
                "processes": 2,
            }
        )
        == {}
    )
    errors = option_errors(
        {
            "device": "tpu",
            "amp": "yes",
            "accumulation_steps": 0,
            "clip_norm": -1,
            "processes": True,
            "speed": 1,
        }
    )
    assert set(errors) == {
        "device",
        "amp",
        "accumulation_steps",
        "clip_norm",
        "processes",
        "speed",
    }
    assert option_errors([1]) == {"trainer": "must be an object"}
    with pytest.raises(ValueError, match="device"):
        TrainerOptions(device="gpu")
    with pytest.raises(ValueError, match="speed"):
        TrainerOptions.from_dict({"speed": 2})
    assert TrainerOptions.from_dict({"clip_norm": 2.0}).clip_norm == 2.0


def test_it_refuses_cuda_without_a_gpu_and_auto_falls_back(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(TrainerOptions(device="auto").device).type == "cpu"
    with pytest.raises(RuntimeError, match="no GPU"):
        resolve_device(TrainerOptions(device="cuda").device)
