"""What every model kind declares: the small base class the registry's entries subclass.

A *kind* is what rebuilds a model (sklearn estimator, mlp, cnn, NAS genotype); a *form* is
what compression made of a torch kind's weights (pruned, distilled, int8, fp16...). Each
declares, in one place, how rows become model input, its example input, the exports and
compression techniques that apply, how it is explained, and how its drift reference is
written; `refusal(action)` says why an action cannot be done (None when it can). The
platform asks these instead of branching on spec["kind"].
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported on first use: the web process validates without it
    import torch
    from torch import nn

# What a user can do with a model version, in the order the capability table shows them.
ACTIONS: dict[str, str] = {
    "register": "register",
    "evaluate": "evaluate",
    "explain": "explain",
    "export_onnx": "export ONNX",
    "export_torchscript": "export TorchScript",
    "download": "download + re-import",
    "bundle": "bundle",
    "deploy": "deploy + predict",
    "drift": "drift",
    "compress": "compress",
}

# Every compression technique (workers/compression/config.py declares their options).
TECHNIQUES = (
    "prune_magnitude",
    "prune_structured",
    "distill",
    "dynamic_int8",
    "static_int8",
    "qat",
    "half",
    "weight_only",
    "mixed",
)


class ModelKind:
    """One kind of model. Subclasses set the class attributes and override the hooks.

    Attributes:
        name: the registry key (spec["kind"] for torch models).
        label: what a user reads.
        framework: "torch" or "sklearn".
        exports: the export formats ("onnx", "torchscript") its graph supports.
        onnx_exporter: the function writing its ONNX file (dotted path).
        techniques: the compression techniques that apply to it.
        explanation: "integrated_gradients" (differentiable) or "occlusion".
        refusals: action -> why it cannot be done, for actions it cannot do.
        loadable: whether the platform reads its files (False: kept and downloaded only).
    """

    name: str = ""
    label: str = ""
    framework: str = "torch"
    exports: tuple[str, ...] = ("onnx", "torchscript")
    # What writes its ONNX file, (directory, target) -> target, as a dotted path.
    onnx_exporter: str = "workers.models.export.torch_to_onnx"
    techniques: tuple[str, ...] = TECHNIQUES
    explanation: str = "integrated_gradients"
    refusals: dict[str, str] = {}
    # Whether the platform can load (and so describe, serve, evaluate) its files.
    loadable: bool = True
    # Whether a job's version of this kind is one trial's params refit (so its evaluation
    # can refit them per fold); an ensemble is several trials' models, weighted.
    one_trial: bool = True

    def files(self, spec: dict) -> set[str]:
        """The file names a version's directory holds (a download zips them)."""
        from workers.models.layout import MODEL_FILES

        return set(MODEL_FILES)

    # --- torch kinds: the module and its inputs

    config_class: str = ""  # dotted path of the config dataclass
    module_class: str = ""  # dotted path of the nn.Module

    def build(self, spec: dict) -> nn.Module:
        """A freshly initialised module built from spec["config"].

        Raises:
            ValueError: the config misses or adds fields, or this kind has no module.
        """
        from workers.models.kinds import load_object

        if not self.module_class:
            raise ValueError(f"{self.label} models are not torch modules")
        config_cls, module_cls = load_object(self.config_class), load_object(self.module_class)
        config = self.config_fields(dict(spec.get("config") or {}))
        names = {f.name for f in fields(config_cls)}
        if unexpected := sorted(set(config) - names):
            raise ValueError(f"{self.name} config has unknown fields {unexpected}")
        try:
            return module_cls(config_cls(**config))
        except TypeError as exc:  # a required field is missing
            raise ValueError(f"invalid {self.name} config: {exc}") from exc

    def config_fields(self, config: dict) -> dict:
        """spec["config"] as the config dataclass takes it (JSON turned tuples into lists)."""
        return config

    def input_shape(self, spec: dict) -> list[int]:
        """The shape of one row as the module takes it."""
        raise NotImplementedError

    def model_input(self, spec: dict, x: torch.Tensor) -> torch.Tensor:
        """Rows after the preprocessing -> what the module takes: standardised with the
        spec's statistics (tabular kinds), then shaped (flat image rows become N x C x H x W).
        Keeps x's dtype, so gradients flow through it (integrated gradients)."""
        import torch

        if spec.get("input_mean") is not None:
            flat = x.reshape(len(x), -1)
            mean = torch.as_tensor(np.asarray(spec["input_mean"]), dtype=flat.dtype)
            std = torch.as_tensor(np.asarray(spec["input_std"]), dtype=flat.dtype)
            # A missing value (null in a predict request) is the training mean.
            x = (torch.where(torch.isnan(flat), mean, flat) - mean) / std
        return x.reshape(len(x), *self.input_shape(spec))

    def example_input(self, spec: dict, batch: int = 2) -> torch.Tensor:
        """A zero batch shaped like the module's inputs (what exports trace)."""
        import torch

        return torch.zeros(batch, *self.input_shape(spec))

    def n_inputs(self, spec: dict) -> int | None:
        """How many numbers one row of the model's input holds (after the preprocessing)."""
        return int(np.prod(self.input_shape(spec)))

    def row_widths(self, spec: dict) -> set[int]:
        """How many named columns a raw row may have: one per input number, or, for an
        image model, also one column holding the whole image (an uploaded .npz's "pixels",
        as its drift reference summarises it)."""
        widths = {self.n_inputs(spec)}
        return widths | {1} if len(self.input_shape(spec)) == 3 else widths

    # --- compression hooks (a technique listed in `techniques` relies on them)

    def fusions(self, module: nn.Module) -> list[list[str]]:
        """Module groups that static int8 and QAT fuse, named inside a QuantWrapper."""
        return []

    def shrink(self, module: nn.Module, spec: dict, ratio: float) -> tuple[nn.Module, dict]:
        """A physically smaller copy (ratio of neurons/channels removed) and its spec."""
        raise NotImplementedError(f"{self.name} has no structured pruning")

    def shrunk_config(self, config: dict, factor: float) -> dict:
        """The config of a student `factor` times as wide (distillation)."""
        raise NotImplementedError(f"{self.name} has no shrunk student")

    # --- monitoring

    def reference(self, X: np.ndarray, feature_names: list[str]) -> dict:
        """The drift reference of training rows X (raw, as served): reference.json."""
        from workers.data.reference import reference_stats

        return reference_stats(X, feature_names)

    # --- what can be done

    def refusal(self, action: str, spec: dict | None = None) -> str | None:
        """Why `action` cannot be done with a model of this kind; None when it can."""
        if action not in ACTIONS:
            raise KeyError(f"unknown action {action!r}; expected one of {list(ACTIONS)}")
        if action.startswith("export_") and action[len("export_") :] not in self.exports:
            return self.refusals.get(action) or f"{self.label} models do not export"
        if action == "compress" and not self.techniques:
            return self.refusals.get(action) or f"{self.label} models cannot be compressed"
        return self.refusals.get(action)

    def technique_refusal(self, technique: str) -> str | None:
        """Why a compression technique does not apply to this kind; None when it does."""
        if technique in self.techniques:
            return None
        if not self.techniques:
            return self.refusal("compress")
        return (
            f"{technique} does not apply to {self.label} models; "
            f"these do: {', '.join(self.techniques)}"
        )


class Form:
    """What compression made of a torch model: it narrows its kind's capabilities.

    Attributes:
        name: the registry key (a quantization recipe's method, or "pruned"/"distilled").
        label: what a user reads.
        exports: None keeps the kind's exports; else those still possible.
        techniques: None keeps the kind's techniques; else those still applicable.
        explanation: None keeps the kind's; "occlusion" where gradients do not flow.
        export_reason: why the exports it removes are gone.
        technique_reason: why the techniques it removes are gone.
    """

    name: str = ""
    label: str = ""
    exports: tuple[str, ...] | None = None
    techniques: tuple[str, ...] | None = None
    explanation: str | None = None  # None keeps the kind's
    export_reason: str = ""
    technique_reason: str = ""

    def input_dtype(self, recipe: dict) -> Any:
        """The dtype the module's weights compute in (its inputs are cast to it)."""
        import torch

        return torch.float32
