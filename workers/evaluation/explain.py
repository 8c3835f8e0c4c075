"""Per-row explanations: how much each input moved one answer, against a baseline row.

- integrated gradients for torch models fed numbers directly: the attributions add up to
  output(row) - output(baseline), up to the integral's discretisation error;
- occlusion for every other model (sklearn, or torch behind preprocessing): each feature
  in turn is set to its baseline value, and the attribution is how much the output fell.

The output is the probability of the class predicted for the row (classifiers) or the
predicted value (regressors). The baseline row is the training rows' mean (numbers) or
most frequent value (categories), from the reference statistics saved beside the model.
"""

from __future__ import annotations

import numpy as np

from workers.evaluation.report import Predictor

IG_STEPS = 64


def baseline_row(reference: dict | None, feature_names: list[str]) -> tuple[list, str]:
    """The baseline values in feature order, and where they come from."""
    features = (reference or {}).get("features") or {}
    if not all(name in features for name in feature_names):
        return [0.0] * len(feature_names), "zeros (no training statistics saved)"
    row = []
    for name in feature_names:
        stats = features[name]
        column_kind = stats.get("kind")  # the column's kind in the drift reference
        if column_kind == "categorical":
            frequencies = stats.get("frequencies") or {}
            row.append(max(frequencies, key=frequencies.get) if frequencies else None)
        else:
            row.append(stats.get("mean") if stats.get("mean") is not None else 0.0)
    return row, "training rows: mean of each number, most frequent category"


def _targets(predictor: Predictor, X: np.ndarray, task: str) -> tuple[np.ndarray | None, list]:
    """Per row: the index of the predicted class (None for regressors), and its label."""
    if task != "classification" or not predictor.has_proba:
        return None, predictor.predict(X).tolist()
    index = predictor.predict_proba(X).argmax(axis=1)
    return index, predictor.classes[index].tolist()


def _output(
    predictor: Predictor, X: np.ndarray, targets: np.ndarray | None, task: str
) -> np.ndarray:
    """Per row: the predicted value, or the probability of the row's target class (targets
    repeat over the stacked copies of the rows)."""
    if targets is None:
        return predictor.predict(X).astype(np.float64)
    return predictor.predict_proba(X)[np.arange(len(X)), np.resize(targets, len(X))]


def occlusion(
    predictor: Predictor, X: np.ndarray, baseline: list, task: str, targets: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(attributions N x D, outputs N, baseline outputs N), all features in one predict.

    A classifier without probabilities has no output to fall: its attribution is 1 where
    replacing the feature changes the predicted label, else 0.
    """
    X = np.asarray(X)
    n, d = X.shape
    stacked = np.concatenate([X] + [X.copy() for _ in range(d)] + [X.copy()])
    for j in range(d):
        stacked[n * (j + 1) : n * (j + 2), j] = baseline[j]
    tail = stacked[n * (d + 1) :]
    for j in range(d):
        tail[:, j] = baseline[j]
    if task == "classification" and targets is None:
        labels = predictor.predict(stacked).reshape(d + 2, n)
        changed = (labels[1 : d + 1] != labels[0]).astype(np.float64).T
        return changed, np.ones(n), (labels[-1] == labels[0]).astype(np.float64)
    out = _output(predictor, stacked, targets, task).reshape(d + 2, n)
    return (out[0] - out[1 : d + 1]).T, out[0], out[-1]


def integrated_gradients(
    predictor: Predictor,
    X: np.ndarray,
    baseline: list,
    task: str,
    targets: np.ndarray | None,
    steps: int = IG_STEPS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(attributions N x D, outputs N, baseline outputs N) of a TorchPredictor, in double
    precision along the straight path from the baseline (trapezoid rule)."""
    import torch

    model, spec = predictor.model, predictor.spec
    module = _double(model.module)
    x = torch.as_tensor(np.asarray(X, dtype=np.float64))
    base = torch.as_tensor(np.asarray(baseline, dtype=np.float64)).expand_as(x)

    def forward(rows: torch.Tensor) -> torch.Tensor:  # rows: N x D raw -> N outputs
        out = module(model.kind.model_input(spec, rows))
        if targets is None:  # regression, in the target's units
            return out.squeeze(-1) * spec.get("target_std", 1.0) + spec.get("target_mean", 0.0)
        return torch.softmax(out, dim=1)[torch.arange(len(rows)), torch.as_tensor(targets)]

    alphas = torch.linspace(0, 1, steps + 1, dtype=torch.float64)
    grads = []
    for alpha in alphas:
        point = (base + alpha * (x - base)).requires_grad_(True)
        (grad,) = torch.autograd.grad(forward(point).sum(), point)
        grads.append(grad)
    stacked = torch.stack(grads)  # (steps + 1) x N x D
    average = ((stacked[:-1] + stacked[1:]) / 2).mean(dim=0)
    with torch.no_grad():
        outputs, base_outputs = forward(x), forward(base)
    return ((x - base) * average).numpy(), outputs.numpy(), base_outputs.numpy()


def _double(module):
    import copy

    return copy.deepcopy(module).double().eval()


def uses_gradients(predictor: Predictor) -> bool:
    """Integrated gradients where the registry says gradients flow through the model and
    no fitted preprocessing (not differentiable) stands in front of it."""
    from workers.models.kinds import explanation

    spec = predictor.spec or getattr(predictor.model, "spec", None)
    if predictor.transformer is not None or not spec:
        return False
    return explanation(spec) == "integrated_gradients"


def explain(
    predictor: Predictor,
    X: np.ndarray,
    feature_names: list[str],
    task: str,
    reference: dict | None,
) -> dict:
    """Attributions of every feature for every row of X (raw rows, as served)."""
    baseline, source = baseline_row(reference, feature_names)
    targets, labels = _targets(predictor, X, task)
    if uses_gradients(predictor):
        method = "integrated_gradients"
        attributions, outputs, base_outputs = integrated_gradients(
            predictor, X, baseline, task, targets
        )
    else:
        method = "occlusion"
        attributions, outputs, base_outputs = occlusion(predictor, X, baseline, task, targets)
    output = (
        "probability of the predicted class"
        if targets is not None
        else "predicted value"
        if task != "classification"
        else "1 if the label changes when the feature is replaced"
    )
    rows = [
        {
            "prediction": label,
            "output": float(out),
            "baseline_output": float(base),
            "attributions": dict(zip(feature_names, map(float, att), strict=True)),
        }
        for label, out, base, att in zip(labels, outputs, base_outputs, attributions, strict=True)
    ]
    return {
        "method": method,
        "output": output,
        "baseline": dict(zip(feature_names, baseline, strict=True)),
        "baseline_source": source,
        "rows": rows,
    }
