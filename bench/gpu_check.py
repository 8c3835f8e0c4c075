"""GPU check: an HPO trial, a DARTS epoch and a compression step on the CPU (fp32) and on CUDA
with mixed precision, timed side by side.

    PYTHONPATH=platform:. .venv/bin/python bench/gpu_check.py

Without a GPU it says "no GPU", runs the CPU column only and exits 0. The compression row
is skipped (and says so) when workers.compression cannot be imported.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional as F

from workers.training import loop
from workers.training.loop import autocast, make_scaler, optimizer_step
from workers.training.measure import resolve_device
from workers.training.mlp import MLP, MLPConfig, train_mlp
from workers.training.options import TrainerOptions

# Small enough that the CPU column takes seconds on a 2-core machine.
ROWS, FEATURES, CLASSES = 4_000, 32, 10


def tabular() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, FEATURES)).astype(np.float32)
    y = (X[:, :CLASSES] + 0.5 * rng.normal(size=(ROWS, CLASSES))).argmax(axis=1)
    return X, y


def hpo_trial(options: TrainerOptions) -> None:
    """What one MLP trial of an HPO job runs: train_mlp with the trial's parameters."""
    X, y = tabular()
    model = MLP(MLPConfig(FEATURES, CLASSES, hidden_layers=2, hidden_units=256, dropout=0.1))
    train_mlp(
        model,
        X[:3_000],
        y[:3_000],
        X[3_000:],
        y[3_000:],
        task="classification",
        epochs=2,
        lr=1e-3,
        batch_size=256,
        weight_decay=0.0,
        seed=0,
        options=options,
    )


def darts_epoch(options: TrainerOptions) -> None:
    """One first-order DARTS epoch on 8x8 images: an α step, then a weight step."""
    from workers.nas.darts import Architect, SuperNet

    device = resolve_device(options.device)
    torch.manual_seed(0)
    ops = ["sep_conv_3x3", "max_pool_3x3", "skip_connect", "none"]
    net = SuperNet(ops, 3, CLASSES, channels=8, cells=2, nodes=2, reduce_at=[1]).to(device)
    weights = [p for _, p in net.weight_items()]
    w_opt = torch.optim.SGD(weights, lr=0.025, momentum=0.9)
    architect = Architect(net, order=1, lr=3e-4, weight_decay=1e-3, w_weight_decay=3e-4)
    scaler = make_scaler(options, device)
    x = torch.randn(256, 3, 8, 8, device=device)
    y = torch.randint(0, CLASSES, (128 * 2,), device=device)
    net.train()
    for start in range(0, 128, 32):
        it, iv = slice(start, start + 32), slice(128 + start, 128 + start + 32)
        # α stays in fp32: its step is small next to the weight step and stays exact.
        architect.step(x[it], y[it], x[iv], y[iv], xi=0.025)
        with autocast(options, device):
            loss = F.cross_entropy(net(x[it]).float(), y[it])
        scaler.scale(loss).backward()
        optimizer_step(net, w_opt, scaler, options)
    if device.type == "cuda":
        torch.cuda.synchronize()


def compression_step(options: TrainerOptions) -> None:
    """One step of a magnitude-pruning schedule: mask 50 % of the weights, fine-tune an epoch."""
    from workers.compression.pruning import apply_masks, magnitude_masks, make_permanent

    device = resolve_device(options.device)
    X, y = tabular()
    torch.manual_seed(0)
    model = MLP(MLPConfig(FEATURES, CLASSES, hidden_layers=2, hidden_units=256, dropout=0.0)).to(
        device
    )
    apply_masks(model, {k: v.to(device) for k, v in magnitude_masks(model, 0.5).items()})
    x, t = torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)
    loop.train(model, x, t, epochs=1, batch_size=256, lr=1e-3, seed=0, options=options)
    make_permanent(model)
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(step: Callable[[TrainerOptions], None], options: TrainerOptions) -> float:
    step(options)  # warm-up: CUDA context, kernels, allocator
    start = time.perf_counter()
    step(options)
    return time.perf_counter() - start


def main() -> None:
    gpu = torch.cuda.is_available()
    if gpu:
        print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    else:
        print("no GPU: running the CPU column only")
    cpu, cuda = TrainerOptions(device="cpu"), TrainerOptions(device="cuda", amp=True)
    rows = [
        ("HPO trial (MLP, 2 epochs)", hpo_trial),
        ("DARTS epoch (first order)", darts_epoch),
        ("compression step (50 % prune + 1 epoch)", compression_step),
    ]
    print(f"{'step':42} {'CPU fp32 s':>11} {'CUDA AMP s':>11} {'speed-up':>9}")
    for name, step in rows:
        try:
            cpu_s = timed(step, cpu)
        except ImportError as exc:
            print(f"{name:42} skipped: {exc}")
            continue
        if gpu:
            gpu_s = timed(step, cuda)
            print(f"{name:42} {cpu_s:11.3f} {gpu_s:11.3f} {cpu_s / gpu_s:8.1f}x")
        else:
            print(f"{name:42} {cpu_s:11.3f} {'-':>11} {'-':>9}")


if __name__ == "__main__":
    main()
