"""Small ONNX graphs built with onnx.helper, as a user's own exporter would write them."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression

from tests.support.factories import FEATURES, iris_xy

IRIS_SPEC = {
    "task": "classification",
    "features": FEATURES,
    "classes": ["setosa", "versicolor", "virginica"],
}


def gemm_graph(*tensors, width: int = 4, outputs: int = 3) -> bytes:
    """logits = X W^T + b, with the given initializers named W and b."""
    X = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, width])
    Y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, outputs])
    node = helper.make_node("Gemm", ["X", "W", "b"], ["logits"], transB=1)
    graph = helper.make_graph([node], "byom", [X], [Y], initializer=list(tensors))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def iris_logistic() -> tuple[LogisticRegression, bytes]:
    """A logistic regression fitted on iris, and the same model as an ONNX graph of logits."""
    X, y = iris_xy()
    model = LogisticRegression(max_iter=500).fit(X, y)
    W = numpy_helper.from_array(model.coef_.astype(np.float32), "W")
    b = numpy_helper.from_array(model.intercept_.astype(np.float32), "b")
    return model, gemm_graph(W, b)
