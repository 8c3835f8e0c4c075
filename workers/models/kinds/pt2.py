"""torch.export programs a user trained elsewhere and imported (kind "pt2").

The platform loads them after checking their archive (workers.models.export_program) and
serves them like its own torch models. A program is a fixed graph, not a module the
platform's spec rebuilds, so what rebuilds or re-traces a module is refused with why.
"""

from __future__ import annotations

from workers.models.kinds._base import ModelKind


class Pt2Kind(ModelKind):
    name = "pt2"
    label = "imported torch.export program"
    framework = "torch-export"
    exports = ()
    techniques = ()
    explanation = "occlusion"  # the program is run, not differentiated through
    refusals = {
        "export_onnx": "exporting an imported program to ONNX (torch.onnx from an "
        "ExportedProgram) is not built: export it to ONNX where you trained it",
        "export_torchscript": "a torch.export program is not scriptable",
        "bundle": "a bundle rebuilds models from the platform's spec; an imported program "
        "has none: download it and load it with torch.export.load",
        "compress": "compression rebuilds modules from the platform's spec (kind and "
        "config); an imported torch.export program is a fixed graph without one",
    }

    def input_shape(self, spec: dict) -> list[int]:
        features = spec.get("features")
        if not features:
            raise ValueError("a .pt2 spec names its input columns in spec.features")
        return [len(features)]

    def model_input(self, spec, x):
        return x  # the program takes the rows as they are

    def n_inputs(self, spec: dict) -> int | None:
        return None  # its predictor's n_features_in_ says it
