"""Saving and loading compressed models without pickles.

Float results (pruned, distilled) are ordinary model directories (workers.models.save_model).
Quantized ones keep the same layout, spec.json beside weights.safetensors, with
``framework: "torch-compressed"`` and ``compression`` (the recipe) in the spec, and tensors in
compact form: int8 codes and scales of torch.ao modules, fp16/bf16 tensors, or bit-packed
weight-only codes. load_compressed rebuilds the float skeleton from the spec, replays the
recipe's structure and loads the tensors, so the reloaded model computes what was scored.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from workers.compression import quantize as q
from workers.compression.common import Compressed, weighted_layers
from workers.models.artifacts import (
    SPEC_FILE,
    WEIGHTS_FILE,
    file_record,
    load_model,
    read_json,
    save_model,
    verify_file,
    write_json,
)
from workers.models.kinds import build_torch

FRAMEWORK = "torch-compressed"
_PER_TENSOR = (torch.per_tensor_affine, torch.per_tensor_symmetric)


def has_quantized_weight(m: nn.Module) -> bool:
    """A torch.ao module holding int8 weights (not its inner packed-params holder)."""
    return hasattr(m, "_weight_bias") and not type(m).__name__.endswith("PackedParams")


def _quantized_tensors(module: nn.Module) -> tuple[dict[str, torch.Tensor], dict]:
    """torch.ao modules -> int8 codes, scales, zero points, float leftovers; and metadata."""
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, dict] = {}
    for name, m in module.named_modules():
        if not has_quantized_weight(m):
            continue
        w, b = m._weight_bias()
        entry: dict = {}
        tensors[f"q.{name}.codes"] = w.int_repr().contiguous()
        if w.qscheme() in _PER_TENSOR:
            entry.update(scale=w.q_scale(), zero_point=w.q_zero_point())
        else:
            tensors[f"q.{name}.scales"] = w.q_per_channel_scales().float()
            tensors[f"q.{name}.zero_points"] = w.q_per_channel_zero_points()
            entry["axis"] = w.q_per_channel_axis()
        if b is not None:
            tensors[f"q.{name}.bias"] = b.detach().float().contiguous()
        if isinstance(getattr(m, "scale", None), float):  # static modules' output qparams
            entry.update(out_scale=m.scale, out_zero_point=int(m.zero_point))
        meta[name] = entry
    for key, value in [*module.named_parameters(), *module.named_buffers()]:
        if not value.is_quantized:
            tensors[f"f.{key}"] = value.detach().contiguous()
    return tensors, meta


def _load_quantized(module: nn.Module, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    for name, entry in meta.items():
        m = module.get_submodule(name)
        codes = tensors[f"q.{name}.codes"]
        if "axis" in entry:
            w = torch._make_per_channel_quantized_tensor(
                codes,
                tensors[f"q.{name}.scales"].double(),
                tensors[f"q.{name}.zero_points"],
                entry["axis"],
            )
        else:
            w = torch._make_per_tensor_quantized_tensor(codes, entry["scale"], entry["zero_point"])
        m.set_weight_bias(w, tensors.get(f"q.{name}.bias"))
        if "out_scale" in entry:
            m.scale, m.zero_point = entry["out_scale"], entry["out_zero_point"]
    named = dict([*module.named_parameters(), *module.named_buffers()])
    for key, value in tensors.items():
        if key.startswith("f."):
            with torch.no_grad():
                named[key[2:]].copy_(value)


def structure(spec: dict, recipe: dict) -> nn.Module:
    """A module shaped like the saved one (its values still to be loaded)."""
    module = build_torch(spec).eval()
    method = recipe["method"]
    if method == "dynamic_int8":
        return q.dynamic_int8(module)
    if method in ("static_int8", "qat"):
        prepared = q.prepare_static(module, spec, recipe)
        with torch.no_grad():
            prepared.eval()(q.example_input(spec))  # observers need one batch to convert
        return q.convert(prepared)
    if method == "half":
        return q.half(module, recipe["dtype"])
    return module  # weight-only: dequantized into the float skeleton


def _tensors(model: Compressed) -> tuple[dict[str, torch.Tensor], dict]:
    method = model.recipe["method"]
    if method in ("dynamic_int8", "static_int8", "qat"):
        return _quantized_tensors(model.module)
    if method == "half":
        return {k: v.contiguous() for k, v in model.module.state_dict().items()}, {}
    tensors, meta = {}, {}
    layers = model.recipe["layers"]
    for name, layer in weighted_layers(model.module):
        if (opts := layers.get(name)) is None:
            continue
        codes, params = q.quantize_tensor(layer.weight, **opts)
        tensors[f"w.{name}.packed"] = q.pack_bits(codes, opts["bits"])
        tensors.update({f"w.{name}.{k}": v.float() for k, v in params.items()})
        meta[name] = list(codes.shape)
    prefixes = tuple(f"{name}.weight" for name in meta)
    for key, value in model.module.state_dict().items():
        if key not in prefixes:
            tensors[f"f.{key}"] = value.contiguous()
    return tensors, meta


def save_compressed(
    model: Compressed, directory: Path, *, family: str, extra: dict | None = None
) -> list[str]:
    """Write model into directory; returns the file names (data file first)."""
    directory = Path(directory)
    spec = {
        k: v
        for k, v in model.spec.items()
        if k not in ("file", "sha256", "size", "framework", "family", "compression")
    }
    spec.update(extra or {})
    if model.recipe is None:
        return save_model(model.module, directory, family=family, spec=spec)
    directory.mkdir(parents=True, exist_ok=True)
    tensors, meta = _tensors(model)
    path = directory / WEIGHTS_FILE
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, tmp)
    os.replace(tmp, path)
    spec.update(
        framework=FRAMEWORK,
        family=family,
        format_version=1,
        compression={**model.recipe, "tensors": meta},
        **file_record(path),
    )
    write_json(directory / SPEC_FILE, spec)
    return [path.name, SPEC_FILE]


def load_compressed(directory: Path) -> Compressed:
    """Any model directory (float or quantized) as a Compressed, checked against its sha256."""
    directory = Path(directory)
    spec = read_json(directory / SPEC_FILE)
    if spec.get("framework") != FRAMEWORK:
        predictor = load_model(directory)
        module = getattr(predictor, "module", None)
        if module is None:
            raise ValueError("only torch models can be compressed")
        return Compressed(module.eval(), spec)
    stored = spec["compression"]
    recipe = {k: v for k, v in stored.items() if k != "tensors"}
    tensors = load_file(verify_file(directory, spec))
    module = structure(spec, recipe)
    if recipe["method"] in ("dynamic_int8", "static_int8", "qat"):
        _load_quantized(module, tensors, stored["tensors"])
    elif recipe["method"] == "half":
        module.load_state_dict(tensors, strict=True)
    else:
        state = {k[2:]: v for k, v in tensors.items() if k.startswith("f.")}
        for name, shape in stored["tensors"].items():
            opts = recipe["layers"][name]
            codes = q.unpack_bits(tensors[f"w.{name}.packed"], opts["bits"], tuple(shape))
            params = {
                k.rsplit(".", 1)[1]: v
                for k, v in tensors.items()
                if k.startswith(f"w.{name}.") and not k.endswith(".packed")
            }
            state[f"{name}.weight"] = q.dequantize_tensor(
                codes,
                params,
                scheme=opts["scheme"],
                bits=opts["bits"],
                per_channel=opts["per_channel"],
            )
        module.load_state_dict(state, strict=True)
    return Compressed(module.eval(), spec, recipe)


def directory_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in Path(directory).iterdir() if p.is_file())


class _CastInputs(nn.Module):
    """Feeds a half-precision module float32 rows and hands back float32 outputs."""

    def __init__(self, module: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.module, self.dtype = module, dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x.to(self.dtype)).float()


def load_predictor(directory: Path):
    """A TorchPredictor (predict, predict_proba) over any model directory, quantized ones
    included: what the registry measures and what serving can call."""
    from workers.models.artifacts import TorchPredictor

    model = load_compressed(directory)
    module = model.module
    if model.input_dtype != torch.float32:
        module = _CastInputs(module, model.input_dtype)
    return TorchPredictor(module, model.spec)
