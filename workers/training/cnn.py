"""A small convolutional network and its training loop, for image classification."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from workers.training import loop
from workers.training.measure import outputs, resolve_device
from workers.training.mlp import lr_optimizer
from workers.training.options import TrainerOptions
from workers.training.pipeline import group_at
from workers.training.stopping import StopCheck


@dataclass
class CNNConfig:
    in_channels: int
    height: int
    width: int
    n_outputs: int  # classes
    channels: tuple[int, ...] = (16, 32)  # one conv block per entry
    kernel_size: int = 3
    dropout: float = 0.0


class CNN(nn.Module):
    """Conv -> BatchNorm -> ReLU -> MaxPool blocks, global average pool, linear head.

    BatchNorm after every convolution makes the network indifferent to the scale and offset
    of the input pixels, so images need no standardisation (and inference no statistics).
    """

    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        if config.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd so that padding keeps the image size")
        self.config = config
        blocks: list[nn.Module] = []
        in_ch, h, w = config.in_channels, config.height, config.width
        for out_ch in config.channels:
            blocks += [
                nn.Conv2d(
                    in_ch, out_ch, config.kernel_size, padding=config.kernel_size // 2, bias=False
                ),  # BatchNorm brings its own bias
                nn.BatchNorm2d(out_ch),
                nn.ReLU(),
            ]
            if min(h, w) >= 2:  # small images stop shrinking instead of vanishing
                blocks.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            in_ch = out_ch
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(in_ch, config.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, C, H, W) -> (N, channels[-1], H', W')
        x = x.mean(dim=(2, 3))  # global average pool -> (N, channels[-1])
        return self.head(self.dropout(x))  # -> (N, n_outputs)

    def stage_blocks(self) -> list[list[nn.Module]]:
        """Where model-parallel stages may cut: each conv block, then the head
        (len(channels) + 1 blocks)."""
        return [*group_at(self.features, nn.Conv2d), [self.dropout, self.head]]


def as_images(X: np.ndarray) -> np.ndarray:
    """N x C x H x W float32; N x H x W (single channel) gains its channel axis."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 3:
        X = X[:, None, :, :]
    if X.ndim != 4:
        raise ValueError(f"expected images shaped N x C x H x W or N x H x W, got {X.shape}")
    return X


def train_cnn(
    model: CNN,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    seed: int,
    on_epoch: Callable[[int, np.ndarray], None] | None = None,
    lr_schedule: str = "fixed",
    options: TrainerOptions | None = None,
    stop: StopCheck | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Train in place; return the final validation class predictions.

    y_train holds class indices 0..n_outputs-1 and predictions are class indices. y_valid is
    only shape-checked: the caller scores predictions itself, so on_epoch(epoch, predictions)
    may raise (e.g. optuna.TrialPruned) to stop early. lr_schedule "fixed" trains with AdamW
    at lr; "hypergradient" starts Adam-HD (Baydin et al., 2018) at lr and lets it adapt.
    options: device, mixed precision, accumulation and clipping. stop and on_progress: see
    workers.training.loop.Hooks.
    """
    # Adam-HD's own default hypergradient rate (the paper's), not the MLP family's.
    optimizer = lr_optimizer(lr_schedule, lr, weight_decay, hypergrad_lr=1e-7)
    if len(y_valid) != len(X_valid):
        raise ValueError("X_valid and y_valid differ in length")
    options = options or TrainerOptions()
    if options.processes != 1:
        raise ValueError("train_cnn runs in one process; use trainer.run_distributed")
    device = resolve_device(options.device)

    # --- data: (N, C, H, W) float32 images and class indices
    x_tr, x_va = torch.from_numpy(as_images(X_train)), torch.from_numpy(as_images(X_valid))
    y_tr = torch.as_tensor(y_train, dtype=torch.long)
    if len(y_tr) != len(x_tr):
        raise ValueError("X_train and y_train differ in length")
    return loop.train_predicting(
        model,
        x_tr,
        y_tr,
        x_va,
        lambda x: outputs(model, x).argmax(dim=-1).cpu().numpy(),
        device=device,
        on_epoch=on_epoch,
        on_progress=on_progress,
        stop=stop,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        optimizer=optimizer,
        options=options,
    )
