"""Networks built from a genotype: the JSON architecture a neural architecture search finds.

Three genotype spaces, told apart by their "space" key:

- "cell" (DARTS): a stem, then `cells` cells; the cells at `reduce_at` halve the image and
  double the channels. A cell has `nodes` intermediate nodes; node i sums two edges
  `[op, input]` where input 0 and 1 are the two previous cells' outputs and input k >= 2 is
  node k - 2. The cell's output concatenates every intermediate node.
  {"space": "cell", "channels": 8, "cells": 2, "nodes": 2, "reduce_at": [1],
   "normal": [[["sep_conv_3x3", 0], ["skip_connect", 1]], ...], "reduce": [...]}
- "macro" (a plain CNN): conv -> BatchNorm -> activation per layer, a 2x2 max-pool after
  each while the image is at least 2 pixels wide, global average pool, linear head.
  {"space": "macro", "layers": [{"width": 16, "kernel": 3, "activation": "relu"}, ...]}
- "mlp" (tabular): linear -> activation per layer, linear head.
  {"space": "mlp", "layers": [{"width": 64, "activation": "relu"}, ...]}

The operations live here because both the derived networks and the DARTS supernet
(workers/nas/darts.py) use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from workers.training import loop
from workers.training.options import TrainerOptions
from workers.training.pipeline import group_at

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
}


# --- operations (Liu et al., 2019, "DARTS", appendix A)


class ReLUConvBN(nn.Sequential):
    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int,
        padding: int,
        dilation: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(
                c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False
            ),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two depthwise-separable convolutions, as in DARTS."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ) -> None:
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class Zero(nn.Module):
    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride] * 0.0


class FactorizedReduce(nn.Module):
    """Halve H and W with two offset stride-2 1x1 convolutions (no information dropped)."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        # Odd sizes are padded to even so both branches give ceil(H/2) like the strided ops.
        x = F.pad(x, (0, x.shape[3] % 2, 0, x.shape[2] % 2))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def make_op(name: str, c: int, stride: int, affine: bool = True) -> nn.Module:
    """One candidate operation keeping c channels; stride 2 halves H and W (ceil)."""
    if name == "none":
        return Zero(stride)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    if name == "sep_conv_3x3":
        return SepConv(c, c, 3, stride, 1, affine)
    if name == "sep_conv_5x5":
        return SepConv(c, c, 5, stride, 2, affine)
    if name == "dil_conv_3x3":
        return DilConv(c, c, 3, stride, 2, 2, affine)
    if name == "dil_conv_5x5":
        return DilConv(c, c, 5, stride, 4, 2, affine)
    raise ValueError(f"unknown operation {name!r}")


def cell_preprocess(
    c_pp: int, c_p: int, c: int, reduction_prev: bool, affine: bool
) -> tuple[nn.Module, nn.Module]:
    """Bring the two previous cells' outputs to c channels and the same size."""
    pre0 = (
        FactorizedReduce(c_pp, c, affine)
        if reduction_prev
        else ReLUConvBN(c_pp, c, 1, 1, 0, affine)
    )
    return pre0, ReLUConvBN(c_p, c, 1, 1, 0, affine)


class Stem(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))


# --- derived networks


class DerivedCell(nn.Module):
    def __init__(
        self, edges: list, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool
    ) -> None:
        super().__init__()
        self.pre0, self.pre1 = cell_preprocess(c_pp, c_p, c, reduction_prev, affine=True)
        self.inputs = [[int(inp) for _, inp in node] for node in edges]
        self.ops = nn.ModuleList(
            nn.ModuleList(make_op(op, c, 2 if reduction and inp < 2 else 1) for op, inp in node)
            for node in edges
        )
        self.multiplier = len(edges)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for ops, inputs in zip(self.ops, self.inputs, strict=True):
            states.append(sum(op(states[i]) for op, i in zip(ops, inputs, strict=True)))
        return torch.cat(states[2:], dim=1)  # (N, nodes * C, H', W')


class CellNetwork(nn.Module):
    """Stem, derived cells, global average pool, linear head."""

    def __init__(
        self, genotype: dict, in_channels: int, n_outputs: int, stem_multiplier: int = 3
    ) -> None:
        super().__init__()
        c = int(genotype["channels"])
        reduce_at = {int(i) for i in genotype["reduce_at"]}
        self.stem = Stem(in_channels, stem_multiplier * c)
        c_pp, c_p, c_cur = stem_multiplier * c, stem_multiplier * c, c
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(int(genotype["cells"])):
            reduction = i in reduce_at
            if reduction:
                c_cur *= 2
            edges = genotype["reduce" if reduction else "normal"]
            cell = DerivedCell(edges, c_pp, c_p, c_cur, reduction, reduction_prev)
            self.cells.append(cell)
            c_pp, c_p = c_p, cell.multiplier * c_cur
            reduction_prev = reduction
        self.head = nn.Linear(c_p, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.head(s1.mean(dim=(2, 3)))  # global average pool -> (N, n_outputs)

    def stage_blocks(self) -> list[list[nn.Module]]:
        """The stem, each cell, the head (cells + 2 blocks)."""
        return [[self.stem], *([cell] for cell in self.cells), [self.head]]


class MacroNetwork(nn.Module):
    def __init__(
        self, genotype: dict, in_channels: int, height: int, width: int, n_outputs: int
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        c, h, w = in_channels, height, width
        for layer in genotype["layers"]:
            k = int(layer["kernel"])
            blocks += [
                nn.Conv2d(c, int(layer["width"]), k, padding=k // 2, bias=False),
                nn.BatchNorm2d(int(layer["width"])),
                ACTIVATIONS[layer["activation"]](),
            ]
            if min(h, w) >= 2:  # small images stop shrinking instead of vanishing
                blocks.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = int(layer["width"])
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(c, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))

    def stage_blocks(self) -> list[list[nn.Module]]:
        """Each conv layer's block, then the head (layers + 1 blocks)."""
        return [*group_at(self.features, nn.Conv2d), [self.head]]


class MLPNetwork(nn.Module):
    def __init__(self, genotype: dict, n_features: int, n_outputs: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for layer in genotype["layers"]:
            layers += [nn.Linear(width, int(layer["width"])), ACTIVATIONS[layer["activation"]]()]
            width = int(layer["width"])
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def stage_blocks(self) -> list[list[nn.Module]]:
        """Each Linear with its activation (layers + 1 blocks)."""
        return group_at(self.net, nn.Linear)


@dataclass
class GenotypeConfig:
    """What rebuilds a searched network: its genotype and the data's shape."""

    genotype: dict
    input_shape: list[int]  # [C, H, W] for the image spaces, [n_features] for "mlp"
    n_outputs: int


class GenotypeNetwork(nn.Module):
    """The network a genotype describes; image spaces also take flat rows of C*H*W pixels."""

    def __init__(self, config: GenotypeConfig) -> None:
        super().__init__()
        self.config = config
        g, shape = config.genotype, [int(s) for s in config.input_shape]
        space = g.get("space")
        if space == "mlp":
            if len(shape) != 1:
                raise ValueError("the mlp space needs input_shape [n_features]")
            self.body: nn.Module = MLPNetwork(g, shape[0], config.n_outputs)
        elif space in ("cell", "macro"):
            if len(shape) != 3:
                raise ValueError(f"the {space} space needs input_shape [C, H, W]")
            self.body = (
                CellNetwork(g, shape[0], config.n_outputs)
                if space == "cell"
                else MacroNetwork(g, *shape, config.n_outputs)
            )
        else:
            raise ValueError(f"unknown genotype space {space!r}; expected cell, macro or mlp")
        self.image_shape = tuple(shape) if len(shape) == 3 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.image_shape is not None and x.dim() != 4:
            # Rows of C*H*W pixels (how a table stores images) or N x H x W.
            x = x.reshape(x.shape[0], *self.image_shape)
        return self.body(x)

    def stage_blocks(self) -> list[list[nn.Module]]:
        return self.body.stage_blocks()


def train_classifier(
    module: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    seed: int,
    hooks: loop.Hooks | None = None,
    options: TrainerOptions | None = None,
) -> None:
    """Train in place with AdamW and a cosine schedule on tensors already on the device
    (the recipe of DARTS's retraining); a last micro-batch of one row is skipped, as
    BatchNorm cannot train on it. hooks: see workers.training.loop.Hooks."""
    loop.train(
        module,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        schedule="cosine",
        min_rows=2,
        options=options,
        hooks=hooks,
    )
