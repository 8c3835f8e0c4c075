import pytest
import torch
from torch import nn
from torch.nn import functional as F

from workers.training.hypergradient import HypergradientAdam


def problem(seed=0):
    """Inputs with a noisy linear target and a linearly separable 3-class label."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(256, 5, generator=g)
    y_reg = X @ torch.tensor([1.0, -2.0, 0.5, 3.0, 0.0]) + 0.1 * torch.randn(256, generator=g)
    y_cls = (X @ torch.randn(5, 3, generator=g)).argmax(dim=1)  # linearly separable
    return X, y_reg, y_cls


def train(make_opt, task, steps=200):
    X, y_reg, y_cls = problem()
    torch.manual_seed(0)
    model = nn.Linear(5, 1 if task == "regression" else 3)
    opt = make_opt(model.parameters())
    losses, lrs = [], []
    for _ in range(steps):
        out = model(X)
        if task == "regression":
            loss = F.mse_loss(out.squeeze(-1), y_reg)
        else:
            loss = F.cross_entropy(out, y_cls)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        lrs.append(opt.param_groups[0]["lr"])
    return losses, lrs


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_it_adapts_adam_lr_and_converges_like_fixed_adam(task):
    losses, lrs = train(lambda p: HypergradientAdam(p, lr=0.01, hypergrad_lr=1e-4), task)
    fixed, _ = train(lambda p: torch.optim.Adam(p, lr=0.01), task)
    assert len(set(lrs)) > 10 and lrs[-1] != 0.01
    assert losses[-1] < 0.2 * losses[0]
    assert fixed[-1] < 0.2 * fixed[0]
    assert losses[-1] < 2 * fixed[-1]  # at least comparable to the hand-tuned rate


def test_with_zero_hypergrad_lr_it_is_adam():
    ours, lrs = train(lambda p: HypergradientAdam(p, lr=0.01, hypergrad_lr=0.0), "regression", 50)
    ref, _ = train(lambda p: torch.optim.Adam(p, lr=0.01), "regression", 50)
    assert set(lrs) == {0.01}
    assert ours == pytest.approx(ref, rel=1e-4)


def test_it_rejects_bad_settings():
    params = [nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError):
        HypergradientAdam(params, lr=-1.0)
    with pytest.raises(ValueError, match="betas"):
        HypergradientAdam(params, lr=0.01, betas=(0.9, 1.0))
