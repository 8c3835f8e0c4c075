"""A small multilayer perceptron and its training loop, for tabular data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from workers.training import loop
from workers.training.hypergradient import HypergradientAdam
from workers.training.measure import resolve_device
from workers.training.options import TrainerOptions
from workers.training.pipeline import group_at
from workers.training.stopping import StopCheck

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
LR_SCHEDULES = ("fixed", "hypergradient")


@dataclass
class MLPConfig:
    n_features: int
    n_outputs: int  # classes for classification, 1 for regression
    hidden_layers: int
    hidden_units: int
    dropout: float
    activation: str = "relu"


class MLP(nn.Module):
    """Stack of Linear -> activation -> Dropout blocks and a linear head."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = config.n_features
        for _ in range(config.hidden_layers):
            layers += [
                nn.Linear(width, config.hidden_units),
                ACTIVATIONS[config.activation](),
                nn.Dropout(config.dropout),
            ]
            width = config.hidden_units
        layers.append(nn.Linear(width, config.n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def stage_blocks(self) -> list[list[nn.Module]]:
        """Where model-parallel stages may cut: each Linear with what follows it
        (hidden_layers + 1 blocks)."""
        return group_at(self.net, nn.Linear)


def _standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # constant columns would divide by zero
    return [(a - mean) / std for a in (train, *others)]


def lr_optimizer(
    lr_schedule: str, lr: float, weight_decay: float, hypergrad_lr: float
) -> loop.OptimizerFn | None:
    """The optimizer a trial's lr_schedule asks for: None for "fixed" (the loop's AdamW at
    lr), Adam-HD (Baydin et al., 2018) starting at lr for "hypergradient"."""
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; expected one of {LR_SCHEDULES}")
    if lr_schedule == "fixed":
        return None
    return lambda params: HypergradientAdam(
        params, lr=lr, hypergrad_lr=hypergrad_lr, weight_decay=weight_decay
    )


def train_mlp(
    model: MLP,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_valid: np.ndarray | None,
    y_valid: np.ndarray | None,
    *,
    task: str,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    seed: int,
    on_epoch: Callable[[int, np.ndarray], None] | None = None,
    lr_schedule: str = "fixed",
    hypergrad_lr: float = 1e-5,
    options: TrainerOptions | None = None,
    stop: StopCheck | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Train in place; return the final validation predictions.

    For classification y_train holds class indices 0..n_outputs-1 and predictions are
    class indices. y_valid is only shape-checked: the caller scores predictions itself,
    so on_epoch(epoch, predictions) may raise (e.g. optuna.TrialPruned) to stop early.
    Without validation rows (None, e.g. a final refit) predictions are empty.
    lr_schedule "fixed" trains with AdamW at lr; "hypergradient" starts Adam-HD
    (Baydin et al., 2018) at lr and adapts it online by hypergrad_lr. options: device,
    mixed precision, accumulation and clipping; one process. stop and on_progress: see
    workers.training.loop.Hooks.
    """
    optimizer = lr_optimizer(lr_schedule, lr, weight_decay, hypergrad_lr)
    if X_valid is None:
        X_valid, y_valid = X_train[:0], y_train[:0]
    if len(y_valid) != len(X_valid):
        raise ValueError("X_valid and y_valid differ in length")
    options = options or TrainerOptions()
    if options.processes != 1:
        raise ValueError("train_mlp runs in one process; use trainer.run_distributed")
    device = resolve_device(options.device)
    classify = task == "classification"

    # --- data: statistics come from the training rows only, so validation stays unseen
    x_tr, x_va = (torch.as_tensor(a, dtype=torch.float32) for a in _standardize(X_train, X_valid))
    if classify:
        y_tr = torch.as_tensor(y_train, dtype=torch.long)
    else:
        # Scaled targets let one learning-rate range work for any target unit.
        y_mean, y_std = float(np.mean(y_train)), float(np.std(y_train)) or 1.0
        y_tr = torch.as_tensor((y_train - y_mean) / y_std, dtype=torch.float32)

    def predict(x: torch.Tensor) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            out = model(x)
        if classify:
            return out.argmax(dim=-1).cpu().numpy()
        return out.squeeze(-1).cpu().numpy().astype(np.float64) * y_std + y_mean

    return loop.train_predicting(
        model,
        x_tr,
        y_tr,
        x_va,
        predict,
        device=device,
        on_epoch=on_epoch,
        on_progress=on_progress,
        stop=stop,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        loss=loop.cross_entropy if classify else loop.mse,
        optimizer=optimizer,
        options=options,
    )
