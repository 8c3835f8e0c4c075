"""ONNX graphs a user trained elsewhere and imported (kind "onnx").

The platform runs them through onnxruntime (workers.models.onnx_graph): registered,
downloaded, served and monitored like its own models. It has no torch module to rebuild,
so what needs one (TorchScript, the torch compression techniques) is refused with why.
"""

from __future__ import annotations

from workers.models.kinds._base import ModelKind


class OnnxKind(ModelKind):
    name = "onnx"
    label = "imported ONNX graph"
    framework = "onnx"
    exports = ()
    techniques = ()
    explanation = "occlusion"  # onnxruntime gives no gradients
    refusals = {
        "export_onnx": "the model is an ONNX graph already: download it",
        "export_torchscript": "an ONNX graph has no torch module to script",
        "bundle": "a bundle installs scikit-learn and torch, not onnxruntime: download the "
        "graph and serve it with onnxruntime",
        "compress": "compression rebuilds torch modules; an imported ONNX graph has none "
        "(quantizing it with onnxruntime.quantization is not built)",
    }

    def input_shape(self, spec: dict) -> list[int]:
        features = spec.get("features")
        if not features:
            raise ValueError("an ONNX spec names its input columns in spec.features")
        return [len(features)]

    def model_input(self, spec, x):
        return x  # the graph takes the rows as they are

    def n_inputs(self, spec: dict) -> int | None:
        return None  # the graph's input shape says it
