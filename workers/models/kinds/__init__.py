"""The model-kind registry: every kind of model the platform produces or imports.

Entries are (label, dotted path) and import on first use, as healthchecks' TRANSPORTS:
the web process reads labels and capabilities without importing torch. Adding a kind is
one module (a `ModelKind` subclass) and one line here; tests/workers_tests/
test_model_kinds.py runs the contract over every entry. Compressed forms narrow their
kind's capabilities (an int8 graph does not export to ONNX) and are registered likewise.

Everything that varies by kind is asked here (`kind_of(spec)`, `refusal(spec, action)`);
nothing else branches on spec["kind"].
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from workers.models.kinds._base import ACTIONS, TECHNIQUES, Form, ModelKind

# kind -> (label, dotted path of its ModelKind)
MODEL_KINDS: dict[str, tuple[str, str]] = {
    "sklearn": ("scikit-learn estimator", "workers.models.kinds.sklearn.SklearnKind"),
    "mlp": ("multilayer perceptron", "workers.models.kinds.mlp.MLPKind"),
    "cnn": ("convolutional network", "workers.models.kinds.cnn.CNNKind"),
    "genotype": ("NAS genotype", "workers.models.kinds.genotype.GenotypeKind"),
    "external": ("your own files", "workers.models.kinds.external.ExternalKind"),
    "ensemble": ("ensemble of HPO trials", "workers.models.kinds.ensemble.EnsembleKind"),
    "onnx": ("imported ONNX graph", "workers.models.kinds.onnx.OnnxKind"),
    "pt2": ("imported torch.export program", "workers.models.kinds.pt2.Pt2Kind"),
}

# form -> (label, dotted path of its Form); "float" is an uncompressed model
FORMS: dict[str, tuple[str, str]] = {
    "float": ("float weights", "workers.models.kinds.compressed.Float"),
    "pruned": ("pruned", "workers.models.kinds.compressed.Pruned"),
    "distilled": ("distilled", "workers.models.kinds.compressed.Distilled"),
    "dynamic_int8": ("dynamic int8", "workers.models.kinds.compressed.DynamicInt8"),
    "static_int8": ("static int8", "workers.models.kinds.compressed.StaticInt8"),
    "qat": ("int8 (QAT)", "workers.models.kinds.compressed.QAT"),
    "half": ("fp16 / bf16", "workers.models.kinds.compressed.Half"),
    "weight_only": ("weight-only quantized", "workers.models.kinds.compressed.WeightOnly"),
    "mixed": ("mixed precision", "workers.models.kinds.compressed.Mixed"),
}

# the form a float compression step leaves (quantizing steps name theirs in the recipe)
_FLOAT_FORMS = {"prune_magnitude": "pruned", "prune_structured": "pruned", "distill": "distilled"}


class UnknownKindError(ValueError):
    """A spec names a kind (or form) the registry does not hold."""


def load_object(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


@cache
def get_kind(name: str) -> ModelKind:
    if name not in MODEL_KINDS:
        raise UnknownKindError(f"unknown model kind {name!r}; expected one of {list(MODEL_KINDS)}")
    return load_object(MODEL_KINDS[name][1])()


@cache
def get_form(name: str) -> Form:
    if name not in FORMS:
        raise UnknownKindError(f"unknown compressed form {name!r}; expected one of {list(FORMS)}")
    return load_object(FORMS[name][1])()


def kind_name(spec: dict) -> str:
    """The registry key of a spec: its "kind", or "sklearn" for a skops estimator that
    names none (an ensemble is a skops estimator that names its kind)."""
    kind = spec.get("kind")
    if spec.get("framework") == "sklearn" and kind not in MODEL_KINDS:
        return "sklearn"
    if not isinstance(kind, str):
        raise UnknownKindError("the spec names no model kind (spec.kind)")
    return kind


def kind_of(spec: dict) -> ModelKind:
    return get_kind(kind_name(spec))


def form_name(spec: dict) -> str:
    """What compression made of the model: its recipe's method, else its last float step."""
    recipe = spec.get("compression")
    if isinstance(recipe, dict) and recipe.get("method"):
        return str(recipe["method"])
    for step in reversed(spec.get("compression_chain") or []):
        if (form := _FLOAT_FORMS.get(step.get("technique"))) is not None:
            return form
    return "float"


def form_of(spec: dict) -> Form:
    return get_form(form_name(spec))


def build_torch(spec: dict):
    """A freshly initialised module of spec["kind"] built from spec["config"].

    Raises:
        ValueError: the kind is unknown or not torch, or the config misses or adds fields.
    """
    return kind_of(spec).build(spec)


def refusal(spec: dict, action: str) -> str | None:
    """Why `action` cannot be done with the model that spec describes; None when it can."""
    return _refusal(kind_of(spec), form_of(spec), action, spec)


def technique_refusal(spec: dict, technique: str) -> str | None:
    """Why compression `technique` cannot start from this model; None when it can."""
    return _technique_refusal(kind_of(spec), form_of(spec), technique)


def explanation(spec: dict) -> str:
    """How the model is explained: "integrated_gradients" or "occlusion"."""
    return form_of(spec).explanation or kind_of(spec).explanation


def _refusal(kind: ModelKind, form: Form, action: str, spec: dict | None = None) -> str | None:
    if (reason := kind.refusal(action, spec)) is not None:
        return reason
    if action.startswith("export_") and form.exports is not None:
        if action[len("export_") :] not in form.exports:
            return form.export_reason
    if action == "compress" and form.techniques is not None:
        if not set(form.techniques) & set(kind.techniques):
            return form.technique_reason
    return None


def _technique_refusal(kind: ModelKind, form: Form, technique: str) -> str | None:
    if technique not in TECHNIQUES:
        raise KeyError(f"unknown technique {technique!r}")
    if (reason := kind.technique_refusal(technique)) is not None:
        return reason
    if form.techniques is not None and technique not in form.techniques:
        allowed = ", ".join(form.techniques) or "none"
        return f"{form.technique_reason} (from a {form.label} model these apply: {allowed})"
    return None


def rows() -> list[tuple[str, ModelKind, Form]]:
    """(row label, kind, form) for every kind and, for torch kinds, every compressed form."""
    out = []
    for name in MODEL_KINDS:
        kind = get_kind(name)
        forms = FORMS if kind.framework == "torch" else ["float"]
        for form_key in forms:
            form = get_form(form_key)
            if form_key != "float" and form_key not in _reachable_forms(kind):
                continue
            label = kind.label if form_key == "float" else f"{kind.label}, {form.label}"
            out.append((label, kind, form))
    return out


def _reachable_forms(kind: ModelKind) -> set[str]:
    forms = {_FLOAT_FORMS[t] for t in kind.techniques if t in _FLOAT_FORMS}
    return forms | {t for t in kind.techniques if t in FORMS}


def capability_table() -> str:
    """The kind x action table of the README, as Markdown: yes, or the reason it is refused.

    Refusal reasons are numbered below the table so the rows stay readable.
    """
    reasons: list[str] = []
    header = ["model", *ACTIONS.values()]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for label, kind, form in rows():
        cells = []
        for action in ACTIONS:
            reason = _refusal(kind, form, action)
            if reason is None:
                cells.append("yes")
                continue
            if reason not in reasons:
                reasons.append(reason)
            cells.append(f"no ({reasons.index(reason) + 1})")
        lines.append("| " + " | ".join([label, *cells]) + " |")
    lines.append("")
    lines.extend(f"{i}. {reason}" for i, reason in enumerate(reasons, 1))
    return "\n".join(lines) + "\n"


__all__ = [
    "ACTIONS",
    "FORMS",
    "MODEL_KINDS",
    "TECHNIQUES",
    "Form",
    "ModelKind",
    "UnknownKindError",
    "build_torch",
    "capability_table",
    "explanation",
    "form_name",
    "form_of",
    "get_form",
    "get_kind",
    "kind_name",
    "kind_of",
    "refusal",
    "rows",
    "technique_refusal",
]
