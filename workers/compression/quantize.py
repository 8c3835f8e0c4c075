"""Quantization: torch.ao int8 (dynamic, static with calibration, QAT), fp16/bf16, and our
own weight-only quantizers (linear 2-8 bits, sym/asym, per tensor/channel; log2).

Every quantized model carries a JSON ``recipe``; ``structure(float_module, recipe, spec)``
rebuilds the same module tree from the float skeleton, so a saved model is the skeleton's
spec, the recipe and tensors (workers/compression/store.py), never a pickle.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.ao.nn.quantized as nnq  # noqa: F401  (registers the quantized modules)
from torch import nn
from torch.ao import quantization as tq

from workers.compression.common import weighted_layers
from workers.models.kinds import kind_of

# The x86 kernels need 7-bit activations on CPUs without VNNI (reduce_range).
OBSERVERS = {
    "minmax": tq.MinMaxObserver.with_args(reduce_range=True),
    "moving_average": tq.MovingAverageMinMaxObserver.with_args(reduce_range=True),
    "histogram": tq.HistogramObserver.with_args(reduce_range=True),
}

if TYPE_CHECKING:  # the export bundle carries this module without the configs
    from workers.compression.config import MixedOptions, WeightOnlyOptions


def dynamic_int8(module: nn.Module) -> nn.Module:
    """Linear (and LSTM) weights in int8, activations quantized on the fly."""
    module = module.float().eval()
    return tq.quantize_dynamic(module, {nn.Linear, nn.LSTM}, dtype=torch.qint8)


def _qconfig(recipe: dict, qat: bool) -> tq.QConfig:
    weight = (
        tq.default_per_channel_weight_observer
        if recipe.get("per_channel", True)
        else tq.default_weight_observer
    )
    if qat:
        fake = tq.FakeQuantize.with_args(
            observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=127, reduce_range=False
        )
        wfake = (
            tq.default_per_channel_weight_fake_quant
            if recipe.get("per_channel", True)
            else tq.default_weight_fake_quant
        )
        return tq.QConfig(activation=fake, weight=wfake)
    return tq.QConfig(activation=OBSERVERS[recipe.get("observer", "histogram")], weight=weight)


def example_input(spec: dict, n: int = 2) -> torch.Tensor:
    """Random rows shaped like the model's inputs (observers need values to convert)."""
    return torch.randn_like(kind_of(spec).example_input(spec, n))


def prepare_static(module: nn.Module, spec: dict, recipe: dict) -> nn.Module:
    """Wrapped, fused, observed (static) or fake-quantized (QAT) copy of module."""
    qat = recipe["method"] == "qat"
    wrapped = tq.QuantWrapper(module.float())
    groups = kind_of(spec).fusions(module)
    wrapped.qconfig = _qconfig(recipe, qat)
    if qat:
        wrapped.train()
        if groups:
            wrapped = tq.fuse_modules_qat(wrapped, groups)
        return tq.prepare_qat(wrapped)
    wrapped.eval()
    if groups:
        wrapped = tq.fuse_modules(wrapped, groups)
    return tq.prepare(wrapped)


def convert(prepared: nn.Module) -> nn.Module:
    return tq.convert(prepared.eval())


def static_int8(
    module: nn.Module,
    spec: dict,
    recipe: dict,
    calibration: torch.Tensor,
) -> nn.Module:
    """Post-training int8: observers see the calibration rows, then everything is int8."""
    prepared = prepare_static(module, spec, recipe)
    with torch.no_grad():
        for i in range(0, len(calibration), 256):
            prepared(calibration[i : i + 256])
    return convert(prepared)


def half(module: nn.Module, dtype: str) -> nn.Module:
    return module.to(getattr(torch, dtype)).eval()


# --- our own weight-only quantizers


def quantize_tensor(
    w: torch.Tensor, *, scheme: str, bits: int, symmetric: bool, per_channel: bool
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Integer codes in [0, 2**bits) and what dequantize_tensor needs to undo them.

    linear: w ~ scale * (code - zero); symmetric keeps zero at the middle code.
    log2: one sign bit, the rest an exponent e (code 0 is an exact zero), w ~ sign * max *
    2**-(e - 1); power-of-two levels spend the bits where small weights crowd.
    """
    flat = w.detach().float().reshape(w.shape[0], -1) if per_channel else w.detach().float()
    dims = 1 if per_channel else None
    levels = 2**bits - 1

    def reduce(t: torch.Tensor, op: str) -> torch.Tensor:
        if dims is None:
            return getattr(t, op)().reshape(1)
        return getattr(t, op)(dim=1).values if op in ("max", "min") else t.sum(dim=1)

    if scheme == "log2":
        top = reduce(flat.abs(), "max").clamp_min(1e-12)
        top_b = top[:, None] if per_channel else top
        n_exp = 2 ** (bits - 1) - 1  # exponent codes 1..n_exp, 0 is zero
        ratio = (flat.abs() / top_b).clamp_min(1e-30)
        e = torch.round(-torch.log2(ratio)) + 1
        e = torch.where(e > n_exp, torch.zeros_like(e), e)  # too small: zero
        sign = (flat < 0).to(torch.int64)
        codes = (sign << (bits - 1)) | e.to(torch.int64)
        return codes.reshape(w.shape).to(torch.uint8), {"max": top}
    if symmetric:
        half_range = 2 ** (bits - 1) - 1
        scale = (reduce(flat.abs(), "max") / half_range).clamp_min(1e-12)
        zero = torch.full_like(scale, float(half_range))
    else:
        lo = torch.minimum(reduce(flat, "min"), torch.zeros(1))
        hi = torch.maximum(reduce(flat, "max"), torch.zeros(1))
        scale = ((hi - lo) / levels).clamp_min(1e-12)
        zero = torch.round(-lo / scale)
    s, z = (scale[:, None], zero[:, None]) if per_channel else (scale, zero)
    codes = torch.clamp(torch.round(flat / s) + z, 0, levels)
    return codes.reshape(w.shape).to(torch.uint8), {"scale": scale, "zero": zero}


def dequantize_tensor(
    codes: torch.Tensor,
    params: dict[str, torch.Tensor],
    *,
    scheme: str,
    bits: int,
    per_channel: bool,
) -> torch.Tensor:
    shape = codes.shape
    c = codes.to(torch.int64).reshape(shape[0], -1) if per_channel else codes.to(torch.int64)
    if scheme == "log2":
        top = params["max"][:, None] if per_channel else params["max"]
        e = c & (2 ** (bits - 1) - 1)
        sign = 1.0 - 2.0 * ((c >> (bits - 1)) & 1).float()
        level = sign * top * 2.0 ** (1 - e.float())
        values = torch.where(e == 0, torch.zeros_like(level), level)
    else:
        s, z = params["scale"], params["zero"]
        if per_channel:
            s, z = s[:, None], z[:, None]
        values = (c.float() - z) * s
    return values.reshape(shape)


def pack_bits(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Codes below 2**bits, packed bits-per-value into bytes (8 bits: as they are)."""
    flat = codes.reshape(-1).to(torch.uint8)
    if bits == 8:
        return flat.clone()
    shifts = torch.arange(bits - 1, -1, -1, dtype=torch.uint8)
    planes = ((flat[:, None] >> shifts) & 1).reshape(-1)  # MSB first, bits per code
    planes = torch.cat([planes, planes.new_zeros((-len(planes)) % 8)])
    weights = (2 ** torch.arange(7, -1, -1)).to(torch.uint8)
    return (planes.reshape(-1, 8) * weights).sum(dim=1).to(torch.uint8)


def unpack_bits(packed: torch.Tensor, bits: int, shape: tuple[int, ...]) -> torch.Tensor:
    n = math.prod(shape)
    if bits == 8:
        return packed[:n].reshape(shape)
    shifts = torch.arange(7, -1, -1, dtype=torch.uint8)
    planes = ((packed[:, None] >> shifts) & 1).reshape(-1)[: n * bits].reshape(n, bits)
    weights = (2 ** torch.arange(bits - 1, -1, -1)).to(torch.int64)
    return (planes.to(torch.int64) * weights).sum(dim=1).to(torch.uint8).reshape(shape)


def weight_only(module: nn.Module, recipe: dict) -> nn.Module:
    """Round-trip each chosen layer's weight through the quantizer, in place.

    recipe["layers"] maps layer name -> {"scheme", "bits", ...}; the module then computes
    exactly what the stored codes dequantize to.
    """
    for name, layer in weighted_layers(module):
        opts = recipe["layers"].get(name)
        if opts is None:
            continue
        codes, params = quantize_tensor(layer.weight, **opts)
        with torch.no_grad():
            layer.weight.copy_(
                dequantize_tensor(
                    codes,
                    params,
                    scheme=opts["scheme"],
                    bits=opts["bits"],
                    per_channel=opts["per_channel"],
                )
            )
    return module


def layer_options(step: WeightOnlyOptions | MixedOptions) -> dict:
    """One layer's entry of a weight-only recipe (what quantize_tensor takes)."""
    return {
        "scheme": step.scheme,
        "bits": step.bits,
        "symmetric": step.symmetric,
        "per_channel": step.per_channel,
    }
