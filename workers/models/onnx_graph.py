"""Imported ONNX graphs (kind "onnx"): checked as data, then served through onnxruntime.

An ONNX file is a protobuf message: parsing it runs nothing. What could still hurt is
checked before a session is created: tensors stored outside the file (onnxruntime would
read whatever path the graph names), operators from custom domains (only the standard
ones run), and the number of parameters against the caller's budget, counted from the
initializers' declared shapes (an absurd shape is refused without allocating it).

The graph takes one float tensor, N x n_features. Its first output is, for
classification, N x len(classes) scores (spec["scores"]: "logits", the default, go
through a softmax; "probabilities" are used as they are), for regression N or N x 1 values.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from workers.models.imported import ImportedPredictor

# The operator domains onnxruntime's CPU provider runs ("" is the standard ai.onnx).
ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
SCORES = ("logits", "probabilities")


class GraphError(ValueError):
    """An ONNX file the platform refuses to run, and why."""


def _subgraphs(graph):
    """graph and every graph nested in its nodes' attributes (If, Loop, Scan bodies)."""
    import onnx

    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _subgraphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _subgraphs(g)


def _tensors(graph):
    """Every stored tensor of one graph: initializers and Constant nodes' values."""
    import onnx

    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                yield attr.t
            elif attr.type == onnx.AttributeProto.SPARSE_TENSOR:
                yield attr.sparse_tensor.values


def check_graph(path: Path, max_parameters: int | None = None) -> int:
    """The graph's parameter count, after checking it holds nothing a session must not run.

    Raises:
        GraphError: not an ONNX model, external tensor data, a custom operator domain,
            or more parameters than max_parameters.
    """
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise GraphError(f"not an ONNX model: {exc}") from None
    if not model.graph.node:
        raise GraphError("not an ONNX model: the graph has no operators")
    if custom := sorted({o.domain for o in model.opset_import} - ALLOWED_DOMAINS):
        raise GraphError(f"operators from custom domains are not run: {', '.join(custom)}")
    parameters = 0
    for graph in _subgraphs(model.graph):
        if custom := sorted({n.domain for n in graph.node} - ALLOWED_DOMAINS):
            raise GraphError(f"operators from custom domains are not run: {', '.join(custom)}")
        for tensor in _tensors(graph):
            if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
                raise GraphError(
                    f"tensor {tensor.name!r} keeps its data outside the file; "
                    "save the model with its tensors inside "
                    "(onnx.save with save_as_external_data=False)"
                )
            if any(d < 0 for d in tensor.dims):
                raise GraphError(f"tensor {tensor.name!r} has a negative dimension")
            parameters += math.prod(tensor.dims)
    if max_parameters is not None and parameters > max_parameters:
        raise GraphError(
            f"the graph holds {parameters} parameters, more than MODEL_MAX_PARAMETERS "
            f"({max_parameters})"
        )
    return parameters


class OnnxPredictor(ImportedPredictor):
    """An onnxruntime session with a sklearn-like API (predict, predict_proba, classes_).

    Args:
        path: the model.onnx file (its hash already verified).
        spec: the model spec: task, classes, scores (see the module docstring).

    Raises:
        GraphError: the graph fails check_graph, or does not take one N x features tensor.
    """

    error = GraphError
    noun = "graph"
    answers = "class scores"

    def __init__(self, path: Path, spec: dict) -> None:
        import onnxruntime as ort

        check_graph(path)
        self._read_task(spec)
        self.scores = spec.get("scores", "logits")
        if self.scores not in SCORES:
            raise GraphError(f"spec.scores must be one of {list(SCORES)}, not {self.scores!r}")
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise GraphError(f"onnxruntime cannot run the graph: {exc}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 2:
            shapes = [i.shape for i in inputs]
            raise GraphError(f"the graph must take one N x features tensor; it takes {shapes}")
        self.input_name = inputs[0].name
        answers = self.session.get_outputs()[0].shape
        if self.task == "classification" and len(answers) == 2 and isinstance(answers[1], int):
            if answers[1] != len(self.classes_):
                raise GraphError(
                    f"the graph answers {answers[1]} class scores, "
                    f"spec.classes names {len(self.classes_)}"
                )
        width = inputs[0].shape[1]
        features = spec.get("features")
        self.n_features_in_ = width if isinstance(width, int) else len(features or []) or None

    def _raw(self, rows: np.ndarray) -> np.ndarray:
        (out, *_) = self.session.run(None, {self.input_name: rows})
        return out
