"""What every technique shares: the model being compressed, the job's data, training, scoring."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from workers.data.splits import held_out_rows
from workers.data.tabular import TabularData
from workers.training import loop
from workers.training.measure import outputs
from workers.training.stopping import StopCheck

if TYPE_CHECKING:
    from workers.compression.config import CompressionConfig


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
    def described(self) -> dict:
        """The spec as saved: the registry reads the kind and the compressed form from it."""
        return {**self.spec, "compression": self.recipe}

    @property
    def input_dtype(self) -> torch.dtype:
        from workers.models.kinds import form_of

        return form_of(self.described).input_dtype(self.recipe or {})

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Float32 outputs of the model in eval mode, in chunks."""
        return outputs(self.module, x, dtype=self.input_dtype)


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
    from workers.models.kinds import kind_of

    rows = torch.as_tensor(np.asarray(X, dtype=np.float64))
    return kind_of(spec).model_input(spec, rows).float()


def split(config: CompressionConfig, data: TabularData, spec: dict, transformer=None) -> Splits:
    """Seeded stratified test split, then train/valid; labels mapped to the spec's classes.

    The rows go through the model's fitted preprocessing (transformer) first, as they do
    when it is served: a model trained on encoded columns is scored on encoded columns.
    """
    from workers.models.artifacts import output_labels

    labels = np.asarray(data.classes)[data.y] if data.classes is not None else data.y
    classes = spec.get("classes")
    if classes is None:
        y = np.asarray(labels, dtype=np.int64)
    else:
        index = {str(c): i for i, c in enumerate(output_labels(spec, classes))}
        missing = sorted({str(v) for v in labels} - set(index))
        if missing:
            raise CompressionError(f"the data set has labels the model does not know: {missing}")
        y = np.asarray([index[str(v)] for v in labels], dtype=np.int64)
    seed = config.seed
    rest, test = held_out_rows(y, config.test_size, seed, stratify=True)
    train, valid = held_out_rows(y, config.valid_size, seed, stratify=True, rows=rest)
    X = model_inputs(spec, data.X if transformer is None else transformer.transform(data.X))
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
    loss: loop.LossFn = loop.cross_entropy,
    extra_params: list[nn.Parameter] | None = None,
    device: torch.device | None = None,
    stop: StopCheck | None = None,
) -> None:
    """Train module in place through the one training loop on `device` (the job's; the
    CPU by default), then bring it back to the CPU, where quantization and the reports
    run. A loss reading per-row tensors (distillation's targets) finds them on `device`."""
    if epochs <= 0:
        return
    device = device or torch.device("cpu")
    loop.train(
        module.to(device),
        x.to(device),
        y.to(device),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        loss=loss,
        extra_params=extra_params or (),
        hooks=loop.Hooks(stop=stop or StopCheck()),
    )
    module.cpu()


def weighted_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The Linear and Conv2d layers, in order: what pruning and weight quantizers act on."""
    return [(n, m) for n, m in module.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
