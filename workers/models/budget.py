"""Size checks on a torch model's spec and weights file, before anything is allocated.

A spec is a few bytes that can ask for billions of parameters (`hidden_units: 16384`
times `hidden_layers: 30` is 8 billion), so the module is first built on torch's meta
device, where tensors have shapes but no storage, and the build stops as soon as the
parameters registered so far pass the budget or the modules pass MAX_MODULES (a deep stack
of tiny layers costs Python objects, not parameters). The same shapes then check the
safetensors header (names, shapes, dtypes and the data's extent) before a byte of the
weights is read. Every model kind is measured the same way: no per-kind formula to keep.
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch
from safetensors import safe_open
from torch.nn.modules import module as torch_module

from workers.models.kinds import build_torch

MAX_MODULES = 5_000
# safetensors' dtype names, and how many bytes one element takes.
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1}
TORCH_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
}


class BudgetError(ValueError):
    """A spec asks for more than the budget, or a weights file does not fit its spec."""


_counting = threading.local()  # the registration hooks are global: count this thread only


class _Over(Exception):
    pass


def _on_parameter(module, name, param):
    tally = getattr(_counting, "tally", None)
    if tally is not None and param is not None:
        tally["parameters"] += param.numel()
        tally["modules"] += 1  # a module's tensors, counted as it is made (before a list of
        # modules is registered anywhere)
        if tally["parameters"] > tally["limit"] or tally["modules"] > MAX_MODULES:
            raise _Over


def _on_module(module, name, submodule):
    tally = getattr(_counting, "tally", None)
    if tally is not None:
        tally["modules"] += 1
        if tally["modules"] > MAX_MODULES:
            raise _Over


torch_module.register_module_parameter_registration_hook(_on_parameter)
torch_module.register_module_module_registration_hook(_on_module)


def meta_state(spec: dict, max_parameters: int) -> dict[str, tuple[tuple[int, ...], str]]:
    """The state dict's names -> (shape, safetensors dtype) of the module spec describes,
    measured without allocating it.

    Raises:
        BudgetError: it has more than max_parameters parameters or MAX_MODULES modules.
        ValueError: the spec does not describe a module (unknown kind, bad config).
    """
    _counting.tally = {"parameters": 0, "modules": 0, "limit": max_parameters}
    try:
        with torch.device("meta"):
            module = build_torch(spec)
        parameters = sum(p.numel() for p in module.parameters())
    except _Over:
        tally = _counting.tally
        if tally["modules"] > MAX_MODULES:
            raise BudgetError(
                f"the model has more than {MAX_MODULES} modules and parameter tensors"
            ) from None
        raise BudgetError(
            "the model has more parameters than "
            f"the limit, MODEL_MAX_PARAMETERS ({max_parameters})"
        ) from None
    finally:
        _counting.tally = None
    if parameters > max_parameters:  # parameters set as attributes bypass the hook
        raise BudgetError(
            f"the model has {parameters} parameters, more than "
            f"the limit, MODEL_MAX_PARAMETERS ({max_parameters})"
        )
    return {
        name: (tuple(t.shape), TORCH_DTYPES.get(t.dtype, str(t.dtype)))
        for name, t in module.state_dict().items()
    }


def check_weights(path: Path, spec: dict, max_parameters: int) -> None:
    """Refuse a safetensors file whose header does not describe the spec's module: every
    tensor named, shaped and typed as the module's, and the file no larger than they are.

    Raises:
        BudgetError: over the budget, or the header does not match.
        ValueError: the spec does not describe a module.
    """
    expected = meta_state(spec, max_parameters)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = {
                name: (tuple(f.get_slice(name).get_shape()), f.get_slice(name).get_dtype())
                for name in f.keys()
            }
    except Exception as exc:  # safetensors raises its own error types for a bad header
        raise BudgetError(f"weights: not a safetensors file ({exc})") from None
    if missing := sorted(set(expected) - set(header)):
        raise BudgetError(f"weights: tensors missing for the spec: {missing[:5]}")
    if extra := sorted(set(header) - set(expected)):
        raise BudgetError(f"weights: tensors the spec has no place for: {extra[:5]}")
    for name, (shape, dtype) in expected.items():
        if header[name][0] != shape:
            raise BudgetError(
                f"weights: {name} has shape {list(header[name][0])}, the spec needs {list(shape)}"
            )
        if header[name][1] != dtype:
            raise BudgetError(f"weights: {name} is {header[name][1]}, the spec needs {dtype}")
    data = sum(_elements(shape) * DTYPE_BYTES.get(dtype, 8) for shape, dtype in header.values())
    # 8 bytes of header length, the JSON header (at most safetensors' own 100 MB), the data.
    if path.stat().st_size > data + 8 + 100 * 2**20:
        raise BudgetError("weights: the file is larger than its tensors")


def _elements(shape: tuple[int, ...]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n
