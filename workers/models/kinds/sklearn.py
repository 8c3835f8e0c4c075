"""scikit-learn estimators (every HPO family but mlp and cnn, and imported skops files)."""

from __future__ import annotations

from workers.models.kinds._base import ModelKind

_TORCH_ONLY = "scikit-learn models are served from their skops file; only torch models export"


class SklearnKind(ModelKind):
    name = "sklearn"
    label = "scikit-learn (each HPO family)"
    framework = "sklearn"
    exports = ()
    techniques = ()
    explanation = "occlusion"
    refusals = {
        "export_onnx": _TORCH_ONLY,
        "export_torchscript": _TORCH_ONLY,
        "compress": "compression works on torch networks, not scikit-learn models",
    }

    def input_shape(self, spec: dict) -> list[int]:
        n = spec.get("n_features")
        if n is None:
            raise ValueError("a scikit-learn spec does not record its input shape")
        return [int(n)]

    def model_input(self, spec, x):
        return x  # an estimator (or its Pipeline) takes the preprocessed rows as they are

    def n_inputs(self, spec: dict) -> int | None:
        return None  # the estimator's n_features_in_ says it
