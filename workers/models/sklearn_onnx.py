"""ONNX export of a scikit-learn version: its fitted preprocessing and estimator as one
Pipeline, converted by skl2onnx.

The graph takes one input per typed column the preprocessing reads (named as in
preprocessing.json's input.columns): float32 N x 1 for numbers, 0/1 and datetime parts,
string N x 1 for categories ("" where missing); a version without that preprocessing
takes one float32 N x features input named "input". Classifiers answer `label` and
`probabilities` (N x classes), regressors `variable`. numpy.clip, the one function our
preprocessing's FunctionTransformer calls, gets a small converter of its own here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ROLES_AS_STRING = frozenset({"categorical"})


def sklearn_to_onnx(directory: Path, target: Path) -> Path:
    """Write directory's sklearn version (preprocessing + estimator) as an ONNX file.

    Raises:
        ValueError: the version cannot be expressed in ONNX (the message says why).
    """
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from skl2onnx.common.exceptions import MissingShapeCalculator
    from sklearn.pipeline import Pipeline

    from workers.data.preprocess import Preprocessing, TablePreprocessor
    from workers.models.artifacts import load_model, load_preprocessing

    estimator, pre = load_model(directory), load_preprocessing(directory)
    if isinstance(pre, TablePreprocessor) or getattr(pre, "roles_", False) is None:
        raise ValueError("this version's preprocessing predates the ONNX export; retrain it")
    if isinstance(pre, Preprocessing):
        pipeline = Pipeline([("preprocessing", pre.features_), ("model", estimator)])
        inputs = [
            (
                name,
                StringTensorType([None, 1])
                if role in ROLES_AS_STRING
                else FloatTensorType([None, 1]),
            )
            for name, role in zip(pre.columns_, pre.roles_, strict=True)
        ]
    else:  # rows of numbers, maybe through a plain scikit-learn transformer first
        pipeline = (
            estimator if pre is None else Pipeline([("preprocessing", pre), ("model", estimator)])
        )
        width = int((estimator if pre is None else pre).n_features_in_)
        inputs = [("input", FloatTensorType([None, width]))]
    _register_clip()
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    try:
        onnx_model = to_onnx(
            pipeline, initial_types=inputs, options=options, target_opset={"": 17, "ai.onnx.ml": 3}
        )
    except (MissingShapeCalculator, RuntimeError, NotImplementedError) as exc:
        raise ValueError(f"skl2onnx cannot convert this model: {exc}") from exc
    target = Path(target)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(onnx_model.SerializeToString())
    os.replace(tmp, target)
    return target


def typed_feeds(pre, X: np.ndarray) -> dict[str, np.ndarray]:
    """Raw rows as the exported graph's inputs (what a caller of the ONNX file sends)."""
    table = pre.typed(X)
    return {
        name: table[:, [j]].astype(str if role in ROLES_AS_STRING else np.float32)
        for j, (name, role) in enumerate(zip(pre.columns_, pre.roles_, strict=True))
    }


_CLIP_REGISTERED = False


def _register_clip() -> None:
    """skl2onnx converts FunctionTransformer only as the identity: add numpy.clip between
    per-column bounds (Max(Min(x, a_max), a_min)), keeping the identity for the rest."""
    global _CLIP_REGISTERED
    if _CLIP_REGISTERED:
        return
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import FloatTensorType
    from skl2onnx.operator_converters.function_transformer import (
        convert_sklearn_function_transformer,
    )
    from skl2onnx.shape_calculators.function_transformer import (
        calculate_sklearn_function_transformer_output_shapes,
    )
    from sklearn.preprocessing import FunctionTransformer

    def convert(scope, operator, container):
        op = operator.raw_operator
        if op.func is not np.clip:
            return convert_sklearn_function_transformer(scope, operator, container)
        low, high = (
            np.asarray(op.kw_args[k], dtype=np.float32).reshape(1, -1) for k in ("a_min", "a_max")
        )
        low_name = scope.get_unique_variable_name("clip_low")
        high_name = scope.get_unique_variable_name("clip_high")
        container.add_initializer(low_name, 1, low.shape, low.ravel().tolist())
        container.add_initializer(high_name, 1, high.shape, high.ravel().tolist())
        capped = scope.get_unique_variable_name("clip_capped")
        container.add_node(
            "Min",
            [operator.inputs[0].full_name, high_name],
            capped,
            name=scope.get_unique_operator_name("ClipMin"),
        )
        container.add_node(
            "Max",
            [capped, low_name],
            operator.outputs[0].full_name,
            name=scope.get_unique_operator_name("ClipMax"),
        )

    def shape(operator):
        op = operator.raw_operator
        if op.func is not np.clip:
            return calculate_sklearn_function_transformer_output_shapes(operator)
        width = np.asarray(op.kw_args["a_min"]).size
        rows = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = FloatTensorType([rows, width])

    update_registered_converter(FunctionTransformer, "SklearnFunctionTransformer", shape, convert)
    _CLIP_REGISTERED = True
