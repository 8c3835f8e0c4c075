"""Pruning: unstructured magnitude (global or per layer, ratios from a sensitivity pass) with
torch.nn.utils.prune, and structured pruning that physically removes neurons and channels.

Structured pruning handles its dependencies itself for the two sequential kinds we build:
an MLP's hidden Linear loses output rows and its consumer the matching input columns; a
CNN's Conv2d loses filters, its BatchNorm the same channels, and the next Conv2d (or the
head Linear after global pooling) the matching inputs. torch-pruning's dependency graph is
the tool for residual and concatenating networks (NAS genotypes); we do not need it for
these two and keep the dependency list explicit instead. MLPConfig has one width for every
hidden layer, so an MLP keeps the same number of neurons in each (each layer picks its own).
"""

from __future__ import annotations

import copy
from dataclasses import replace

import torch
from torch import nn
from torch.nn.utils import prune

from workers.compression.common import weighted_layers
from workers.training.cnn import CNN
from workers.training.mlp import MLP

GRID = (0.25, 0.5, 0.75, 0.9)


def schedule(target: float, steps: int, kind: str) -> list[float]:
    """Sparsity after each of `steps` steps: linear, or cubic (large cuts first)."""
    out = []
    for i in range(1, steps + 1):
        t = i / steps
        out.append(target * (t if kind == "linear" else 1 - (1 - t) ** 3))
    return out


def _threshold(values: torch.Tensor, sparsity: float) -> float:
    k = int(round(sparsity * values.numel()))
    return float(values.kthvalue(k).values) if k >= 1 else -1.0


def magnitude_masks(
    module: nn.Module, ratios: dict[str, float] | float
) -> dict[str, torch.Tensor]:
    """Masks keeping the largest |w|: one threshold over all layers (a float ratio) or one
    per layer (a dict name -> ratio)."""
    layers = weighted_layers(module)
    if isinstance(ratios, float | int):
        everything = torch.cat([m.weight.detach().abs().reshape(-1) for _, m in layers])
        cut = _threshold(everything, float(ratios))
        return {n: (m.weight.detach().abs() > cut).float() for n, m in layers}
    masks = {}
    for n, m in layers:
        cut = _threshold(m.weight.detach().abs().reshape(-1), ratios.get(n, 0.0))
        masks[n] = (m.weight.detach().abs() > cut).float()
    return masks


def apply_masks(module: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    """Masks as torch.nn.utils.prune hooks (kept through fine-tuning)."""
    for name, mask in masks.items():
        prune.custom_from_mask(module.get_submodule(name), "weight", mask)


def make_permanent(module: nn.Module) -> None:
    for _, m in weighted_layers(module):
        if prune.is_pruned(m):
            prune.remove(m, "weight")


def sensitivity(module: nn.Module, score, grid=GRID) -> dict[str, dict[float, float]]:
    """Each layer's metric drop at each sparsity of grid, pruned alone: {layer: {s: drop}}."""
    base = score(module)
    out: dict[str, dict[float, float]] = {}
    for name, _ in weighted_layers(module):
        out[name] = {}
        for s in grid:
            trial = copy.deepcopy(module)
            apply_masks(trial, magnitude_masks(trial, {name: s}))
            out[name][s] = base - score(trial)
    return out


def ratios_from_sensitivity(
    drops: dict[str, dict[float, float]], sizes: dict[str, int], target: float
) -> dict[str, float]:
    """Per-layer sparsities meeting the overall target while hurting the least.

    At tolerance t each layer takes the largest grid sparsity whose drop stays within t; the
    smallest t reaching the target wins, then every ratio is scaled to hit it exactly.
    """
    total = sum(sizes.values())
    tolerances = sorted({d for layer in drops.values() for d in layer.values()} | {0.0})
    best: dict[str, float] = {}
    for t in tolerances:
        best = {
            n: max([s for s, d in layer.items() if d <= t], default=0.0)
            for n, layer in drops.items()
        }
        if sum(best[n] * sizes[n] for n in best) >= target * total:
            break
    reached = sum(best[n] * sizes[n] for n in best) / total
    if reached <= 0:
        return {n: target for n in drops}
    factor = target / reached
    return {n: min(0.99, r * factor) for n, r in best.items()}


# --- structured


def _keep(scores: torch.Tensor, n: int) -> torch.Tensor:
    return torch.sort(torch.topk(scores, n).indices).values


def _linear(old: nn.Linear, rows: torch.Tensor | None, cols: torch.Tensor | None) -> nn.Linear:
    w = old.weight.detach()
    w = w[rows] if rows is not None else w
    w = w[:, cols] if cols is not None else w
    new = nn.Linear(w.shape[1], w.shape[0], bias=old.bias is not None)
    with torch.no_grad():
        new.weight.copy_(w)
        if old.bias is not None:
            new.bias.copy_(old.bias.detach()[rows] if rows is not None else old.bias.detach())
    return new


def shrink_mlp(model: MLP, ratio: float) -> MLP:
    cfg = model.config
    keep = max(1, round(cfg.hidden_units * (1 - ratio)))
    new = MLP(replace(cfg, hidden_units=keep))
    old_lin = [m for m in model.net if isinstance(m, nn.Linear)]
    new_idx = [i for i, m in enumerate(new.net) if isinstance(m, nn.Linear)]
    cols = None
    for j, (old, i) in enumerate(zip(old_lin, new_idx, strict=True)):
        rows = None
        if j < len(old_lin) - 1:  # hidden layer: rank neurons by their weights and bias
            score = old.weight.detach().norm(dim=1) + old.bias.detach().abs()
            rows = _keep(score, keep)
        new.net[i] = _linear(old, rows, cols)
        cols = rows
    return new.eval()


def shrink_cnn(model: CNN, ratio: float) -> CNN:
    cfg = model.config
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    bns = [m for m in model.features if isinstance(m, nn.BatchNorm2d)]
    widths = tuple(max(1, round(c.out_channels * (1 - ratio))) for c in convs)
    new = CNN(replace(cfg, channels=widths))
    new_convs = [m for m in new.features if isinstance(m, nn.Conv2d)]
    new_bns = [m for m in new.features if isinstance(m, nn.BatchNorm2d)]
    cols = None
    with torch.no_grad():
        for conv, bn, nconv, nbn, width in zip(
            convs, bns, new_convs, new_bns, widths, strict=True
        ):
            # A filter matters by its own size and by how much its BatchNorm scales it.
            score = conv.weight.detach().abs().sum(dim=(1, 2, 3)) * bn.weight.detach().abs()
            score = score + bn.bias.detach().abs()
            rows = _keep(score, width)
            w = conv.weight.detach()[rows]
            nconv.weight.copy_(w[:, cols] if cols is not None else w)
            for attr in ("weight", "bias", "running_mean", "running_var"):
                getattr(nbn, attr).copy_(getattr(bn, attr).detach()[rows])
            nbn.num_batches_tracked.copy_(bn.num_batches_tracked)
            cols = rows
        new.head = _linear(model.head, None, cols)
    return new.eval()


def shrink(module: nn.Module, spec: dict, ratio: float) -> tuple[nn.Module, dict]:
    """A physically smaller copy of module and its spec; ratio of neurons/channels removed."""
    from workers.models.kinds import kind_of

    return kind_of(spec).shrink(module, spec, ratio)
