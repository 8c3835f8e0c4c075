"""Measuring a model: where it runs, its size, its outputs in chunks, its latency.

Torch is imported inside the functions that need it: the web process imports
workers.hpo.metrics (through config validation) and must not load torch.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda")
CHUNK_ROWS = 1024


def resolve_device(requested: str = "auto") -> torch.device:
    """The device a job or trainer option asks for: "auto" takes CUDA when this process sees
    a GPU, else the CPU. Asking for CUDA without a GPU is an error, not a silent fall back
    to a CPU run that would take hours."""
    import torch

    if requested not in DEVICES:
        raise ValueError(f"unknown device {requested!r}; expected one of {list(DEVICES)}")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but this process sees no GPU")
    return torch.device(requested)


def count_params(model: Any) -> int:
    """Weights of a network (a torch module or a TorchPredictor) or linear model, stored
    values of SVMs and k-NN, tree nodes."""
    if hasattr(model, "module"):  # a TorchPredictor
        model = model.module
    if hasattr(model, "named_parameters"):  # a torch module
        return sum(p.numel() for p in model.parameters())
    if hasattr(model, "steps"):  # a Pipeline: the estimator is the last step
        return count_params(model.steps[-1][1])
    if hasattr(model, "weights_") and hasattr(model, "members"):  # an HPO job's ensemble
        stack = 0 if model.stack is None else count_params(model.stack)
        return stack + sum(count_params(m) for m in model.members)
    if hasattr(model, "calibrated_classifiers_"):  # the model and 2 numbers per calibrator
        return sum(
            count_params(c.estimator) + 2 * len(c.calibrators)
            for c in model.calibrated_classifiers_
        )
    if hasattr(model, "estimators_"):  # forests
        return sum(int(tree.tree_.node_count) for tree in model.estimators_)
    if hasattr(model, "_predictors"):  # HistGradientBoosting
        return sum(len(p.nodes) for iteration in model._predictors for p in iteration)
    if hasattr(model, "booster_"):  # LightGBM: a tree of L leaves has 2L - 1 nodes
        trees = model.booster_.dump_model()["tree_info"]
        return sum(2 * tree["num_leaves"] - 1 for tree in trees)
    if hasattr(model, "get_booster"):  # XGBoost: its text dump has one line per node
        return sum(len(tree.splitlines()) for tree in model.get_booster().get_dump())
    if hasattr(model, "support_vectors_"):
        return int(model.support_vectors_.size + model.dual_coef_.size + model.intercept_.size)
    if hasattr(model, "n_samples_fit_"):  # k-NN keeps its training rows
        return int(model.n_samples_fit_ * model.n_features_in_)
    if hasattr(model, "coef_"):
        return int(np.size(model.coef_) + np.size(model.intercept_))
    raise TypeError(f"cannot count the parameters of a {type(model).__name__}")


def outputs(
    module: torch.nn.Module,
    x: torch.Tensor,
    *,
    dtype: torch.dtype | None = None,
    batch_size: int = CHUNK_ROWS,
) -> torch.Tensor:
    """The module's float32 outputs in eval mode, computed in chunks so that large inputs
    fit in memory; dtype: what the inputs are cast to first (a half-precision model)."""
    import torch

    module.eval()
    chunks = (x[i : i + batch_size] for i in range(0, len(x), batch_size))
    with torch.no_grad():
        return torch.cat([module(c if dtype is None else c.to(dtype)).float() for c in chunks])


def median_ms(
    run: Callable[[], object],
    *,
    repeats: int,
    warmup: int = 0,
    device: torch.device | None = None,
) -> float:
    """Median milliseconds of run() over `repeats` timed calls after `warmup` untimed ones
    (the first calls pay for allocation and kernel selection). On a CUDA device the clock
    waits for the queued kernels, which would otherwise return before they ran."""
    sync: Callable[[], None] = lambda: None  # noqa: E731
    if device is not None and device.type == "cuda":
        import torch

        sync = lambda: torch.cuda.synchronize(device)  # noqa: E731
    times = []
    for i in range(warmup + repeats):
        sync()
        start = time.perf_counter()
        run()
        sync()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 4)


def forward_ms(
    module: torch.nn.Module, x: torch.Tensor, *, repeats: int, warmup: int = 2
) -> float:
    """Median milliseconds of one eval-mode forward pass of x, on x's device."""
    import torch

    module.eval()
    with torch.no_grad():
        return median_ms(lambda: module(x), repeats=repeats, warmup=warmup, device=x.device)
