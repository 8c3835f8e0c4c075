"""The per-step report: parameters, non-zero parameters, file size, MACs, latency, metric."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from workers.compression.common import Compressed, accuracy
from workers.compression.quantize import example_input
from workers.compression.store import directory_bytes, has_quantized_weight, save_compressed
from workers.models.kinds import build_torch
from workers.training.measure import forward_ms


def count(module: torch.nn.Module) -> tuple[int, int]:
    """(parameters, non-zero parameters), quantized weights included."""
    total = nonzero = 0
    for m in module.modules():
        if has_quantized_weight(m):
            for t in m._weight_bias():
                if t is not None:
                    values = t.dequantize() if t.is_quantized else t
                    total, nonzero = total + values.numel(), nonzero + int((values != 0).sum())
    for p in module.parameters():
        total, nonzero = total + p.numel(), nonzero + int((p != 0).sum())
    return total, nonzero


def macs(spec: dict) -> int:
    """Multiply-accumulates of one row through the float skeleton (quantized models do the
    same arithmetic in int8); FlopCounterMode counts 2 FLOPs per MAC."""
    module = build_torch(spec).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(example_input(spec, 1))
    return counter.get_total_flops() // 2


def latency_ms(model: Compressed, x: torch.Tensor, batch: int, repeats: int) -> float:
    """Median milliseconds of one forward pass of `batch` rows (after a warm-up)."""
    xb = x[:batch]
    if len(xb) < batch:
        xb = xb.repeat((batch + len(xb) - 1) // len(xb), *[1] * (x.dim() - 1))[:batch]
    return forward_ms(model.module, xb.to(model.input_dtype), repeats=repeats)


def measure(
    model: Compressed,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    repeats: int,
    directory: Path | None = None,
) -> dict:
    """The report of one model; file size from directory (written now if None)."""
    params, nonzero = count(model.module)
    if directory is None:
        with tempfile.TemporaryDirectory() as tmp:
            save_compressed(model, Path(tmp), family="report")
            size = directory_bytes(Path(tmp))
    else:
        size = directory_bytes(directory)
    return {
        "params": params,
        "nonzero_params": nonzero,
        "file_bytes": size,
        "macs": int(macs(model.spec)),
        "latency_ms_b1": latency_ms(model, x_test, 1, repeats),
        "latency_ms_b64": latency_ms(model, x_test, 64, repeats),
        "accuracy": accuracy(model, x_test, y_test),
    }


def relative(report: dict, original: dict) -> dict:
    """Ratios to the original model: size and latency as original / now, accuracy delta."""

    def ratio(key: str) -> float | None:
        return round(original[key] / report[key], 4) if report[key] else None

    return {
        "size_ratio": ratio("file_bytes"),
        "params_ratio": ratio("params"),
        "nonzero_ratio": ratio("nonzero_params"),
        "macs_ratio": ratio("macs"),
        "speedup_b1": ratio("latency_ms_b1"),
        "speedup_b64": ratio("latency_ms_b64"),
        "accuracy_delta": round(report["accuracy"] - original["accuracy"], 6),
    }
