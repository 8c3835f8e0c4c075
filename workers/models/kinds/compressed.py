"""The forms compression leaves a torch model in, and what each still allows.

Pruned and distilled models are ordinary float networks: they keep every capability.
Quantized ones keep the float skeleton's spec plus a recipe (workers/compression/store.py).
"""

from __future__ import annotations

from workers.models.kinds._base import Form

_INT8_EXPORT = (
    "torch.export (and so ONNX) cannot trace torch.ao int8 modules; "
    "export TorchScript, or the float parent version to ONNX"
)
_QUANTIZED = "an already quantized model can only teach a new student (distill)"


class Float(Form):
    name, label = "float", "float weights"


class Pruned(Form):
    name, label = "pruned", "pruned"


class Distilled(Form):
    name, label = "distilled", "distilled"


class _Int8(Form):
    exports = ("torchscript",)
    explanation = "occlusion"  # int8 kernels have no gradients
    techniques = ("distill",)
    export_reason = _INT8_EXPORT
    technique_reason = _QUANTIZED


class DynamicInt8(_Int8):
    name, label = "dynamic_int8", "dynamic int8"


class StaticInt8(_Int8):
    name, label = "static_int8", "static int8"


class QAT(_Int8):
    name, label = "qat", "int8 (QAT)"


class Half(Form):
    name, label = "half", "fp16 / bf16"
    techniques = ("distill",)
    technique_reason = _QUANTIZED
    explanation = "occlusion"  # gradients in half precision are too coarse to sum

    def input_dtype(self, recipe: dict):
        import torch

        return getattr(torch, recipe["dtype"])


class WeightOnly(Form):
    """Dequantized into the float skeleton: it computes in float32 and exports as such."""

    name, label = "weight_only", "weight-only quantized"
    techniques = ("distill",)
    technique_reason = _QUANTIZED


class Mixed(WeightOnly):
    name, label = "mixed", "mixed precision"
