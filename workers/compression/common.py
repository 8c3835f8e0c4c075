"""What every technique shares: the model being compressed, the job's data, training, scoring."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn import functional as F

from workers.data.tabular import TabularData


class CompressionError(Exception):
    """A step cannot run on this model (e.g. static int8 of an architecture it cannot wrap)."""


@dataclass
class Compressed:
    """A model between steps: the module, the spec that rebuilds its float skeleton, and
    the storage recipe (``None`` for plain float weights, else how it was quantized)."""

    module: nn.Module
    spec: dict
    recipe: dict | None = None
    history: list[dict] = field(default_factory=list)

    def copy(self) -> Compressed:
        return Compressed(
            copy.deepcopy(self.module),
            copy.deepcopy(self.spec),
            copy.deepcopy(self.recipe),
            list(self.history),
        )

    @property
    def input_dtype(self) -> torch.dtype:
        if self.recipe and self.recipe.get("method") == "half":
            return getattr(torch, self.recipe["dtype"])
        return torch.float32

    def logits(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Float32 outputs of the model in eval mode, in chunks."""
        self.module.eval()
        with torch.no_grad():
            out = [
                self.module(x[i : i + batch_size].to(self.input_dtype)).float()
                for i in range(0, len(x), batch_size)
            ]
        return torch.cat(out)


@dataclass
class Splits:
    """The job's rows as the model takes them (standardised, image-shaped) in three parts."""

    x: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]  # indices into the model's classes

    @property
    def n_classes(self) -> int:
        return int(max(int(v.max()) for v in self.y.values() if len(v)) + 1)


def model_inputs(spec: dict, X: np.ndarray) -> torch.Tensor:
    """Raw rows -> the float32 tensor the module takes (the arithmetic of TorchPredictor)."""
    X = np.asarray(X, dtype=np.float64)
    if spec.get("kind") == "cnn":
        cfg = spec["config"]
        X = X.reshape(len(X), cfg["in_channels"], cfg["height"], cfg["width"])
    if spec.get("input_mean") is not None:
        X = (X - np.asarray(spec["input_mean"])) / np.asarray(spec["input_std"])
    return torch.as_tensor(X, dtype=torch.float32)


def split(config: dict, data: TabularData, spec: dict) -> Splits:
    """Seeded stratified test split, then train/valid; labels mapped to the spec's classes."""
    labels = np.asarray(data.classes)[data.y] if data.classes is not None else data.y
    classes = spec.get("classes")
    if classes is None:
        y = np.asarray(labels, dtype=np.int64)
    else:
        index = {str(c): i for i, c in enumerate(classes)}
        missing = sorted({str(v) for v in labels} - set(index))
        if missing:
            raise CompressionError(f"the data set has labels the model does not know: {missing}")
        y = np.asarray([index[str(v)] for v in labels], dtype=np.int64)
    rows = np.arange(len(y))
    seed = config["seed"]
    rest, test = train_test_split(
        rows, test_size=config["test_size"], random_state=seed, stratify=y
    )
    train, valid = train_test_split(
        rest, test_size=config["valid_size"], random_state=seed, stratify=y[rest]
    )
    X = model_inputs(spec, data.X)
    parts = {"train": train, "valid": valid, "test": test}
    return Splits(
        {k: X[v] for k, v in parts.items()}, {k: torch.as_tensor(y[v]) for k, v in parts.items()}
    )


def accuracy(model: Compressed, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model.logits(x).argmax(dim=1) == y).float().mean())


def train(
    module: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    weight_decay: float = 0.0,
    loss_fn=None,
    extra_params: list[nn.Parameter] | None = None,
) -> None:
    """Adam over shuffled minibatches. loss_fn(module, xb, yb, idx) replaces cross-entropy."""
    if epochs <= 0:
        return
    torch.manual_seed(seed)
    params = [p for p in module.parameters() if p.requires_grad] + (extra_params or [])
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    shuffler = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        module.train()
        order = torch.randperm(len(x), generator=shuffler)
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            if loss_fn is None:
                loss = F.cross_entropy(module(x[idx]), y[idx])
            else:
                loss = loss_fn(module, x[idx], y[idx], idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    module.eval()


def finetune(model: Compressed, splits: Splits, epochs: int, settings: dict, seed: int) -> None:
    train(
        model.module,
        splits.x["train"],
        splits.y["train"],
        epochs=epochs,
        lr=settings["lr"],
        batch_size=settings["batch_size"],
        weight_decay=settings["weight_decay"],
        seed=seed,
    )


def weighted_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The Linear and Conv2d layers, in order: what pruning and weight quantizers act on."""
    return [(n, m) for n, m in module.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
