"""scikit-learn estimators (every HPO family but mlp and cnn, and imported skops files)."""

from __future__ import annotations

from workers.models.kinds._base import ModelKind

_NO_TORCHSCRIPT = "TorchScript holds torch networks; export a scikit-learn model to ONNX"
# HPO families skl2onnx 1.20 does not convert here, and why (spec["family"] -> reason).
NO_ONNX = {
    "hist_gradient_boosting": "skl2onnx 1.20 writes an invalid tree ensemble for scikit-learn "
    "1.9's HistGradientBoosting; serve it from its skops file",
    "lightgbm": "LightGBM boosters convert to ONNX with onnxmltools, which is not installed; "
    "serve it from its skops file",
    "xgboost": "XGBoost boosters convert to ONNX with onnxmltools, which is not installed; "
    "serve it from its skops file",
}


class SklearnKind(ModelKind):
    name = "sklearn"
    label = "scikit-learn (each HPO family)"
    framework = "sklearn"
    exports = ("onnx",)
    onnx_exporter = "workers.models.sklearn_onnx.sklearn_to_onnx"  # skl2onnx, preprocessing too
    techniques = ()
    explanation = "occlusion"
    refusals = {
        "export_torchscript": _NO_TORCHSCRIPT,
        "compress": "compression works on torch networks, not scikit-learn models",
    }

    def refusal(self, action: str, spec: dict | None = None) -> str | None:
        if action == "export_onnx" and (spec or {}).get("family") in NO_ONNX:
            return NO_ONNX[spec["family"]]
        return super().refusal(action, spec)

    def input_shape(self, spec: dict) -> list[int]:
        n = spec.get("n_features")
        if n is None:
            raise ValueError("a scikit-learn spec does not record its input shape")
        return [int(n)]

    def model_input(self, spec, x):
        return x  # an estimator (or its Pipeline) takes the preprocessed rows as they are

    def n_inputs(self, spec: dict) -> int | None:
        return None  # the estimator's n_features_in_ says it
