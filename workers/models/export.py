"""Export a saved torch model to TorchScript or ONNX, and lay out a Triton repository.

The exported graph holds everything TorchPredictor does around the module: the input
standardisation recorded in the spec, and the output transform (softmax probabilities for
classification, targets in their own units for regression). A model saved with a fitted
sklearn preprocessing (preprocessing.skops) still needs that applied to its inputs first:
the graph takes the model's own inputs, which `input_description` spells out.
scikit-learn versions export to ONNX too, preprocessing included (workers.models.sklearn_onnx).
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from workers.models.artifacts import SPEC_FILE, TorchPredictor, load_model, read_json
from workers.models.kinds import UnknownKindError, refusal

INPUT_NAME = "input"
OUTPUT_NAME = "output"
# torch.export and the tracer keep global state (the ONNX logger's level too): one export
# at a time per process; a second request waits for the first.
_EXPORTING = threading.Lock()


class ExportError(Exception):
    """The model cannot be exported in the asked format."""


class InferenceModule(nn.Module):
    """TorchPredictor's arithmetic as one module: standardise -> network -> output."""

    def __init__(self, predictor: TorchPredictor) -> None:
        super().__init__()
        spec = predictor.spec
        self.network = predictor.module
        self.classification = predictor.task == "classification"
        mean = spec.get("input_mean")
        self.standardise = mean is not None
        self.register_buffer(
            "mean",
            torch.as_tensor(np.asarray(mean if mean is not None else 0.0), dtype=torch.float32),
        )
        std = spec.get("input_std") if mean is not None else 1.0
        self.register_buffer("std", torch.as_tensor(np.asarray(std), dtype=torch.float32))
        self.y_mean = float(spec.get("target_mean", 0.0))
        self.y_std = float(spec.get("target_std", 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.standardise:
            x = (x - self.mean) / self.std
        out = self.network(x)
        if self.classification:
            return torch.softmax(out, dim=1)  # N x classes
        return out.squeeze(-1) * self.y_std + self.y_mean  # N


def _refuse(spec: dict, fmt: str) -> None:
    """ExportError with the registry's reason when the spec's kind does not export to fmt."""
    try:
        reason = refusal(spec, f"export_{fmt}")
    except UnknownKindError as exc:
        raise ExportError(str(exc)) from exc
    if reason is not None:
        raise ExportError(reason)


def _predictor(directory: Path, fmt: str) -> TorchPredictor:
    """The torch model in directory, once the registry says its kind exports to fmt."""
    _refuse(read_json(Path(directory) / SPEC_FILE), fmt)
    model = load_model(directory)
    if not isinstance(model, TorchPredictor):  # a Triton repository, asked of sklearn
        raise ExportError("this is laid out for torch networks; export ONNX instead")
    return model


def example_input(predictor: TorchPredictor, batch: int = 2) -> torch.Tensor:
    """A zero batch shaped like the model's inputs (N x features, or N x C x H x W)."""
    try:
        return predictor.kind.example_input(predictor.spec, batch)
    except (KeyError, TypeError) as exc:
        raise ExportError(f"the spec does not say what inputs the model takes: {exc}") from exc


def input_description(directory: Path) -> dict:
    """What the exported graph takes and returns, for a config or a README."""
    predictor = _predictor(Path(directory), "onnx")
    shape = list(example_input(predictor).shape[1:])
    classes = predictor.spec.get("classes")
    out = [len(classes)] if classes is not None else []
    if predictor.task == "classification" and classes is None:
        out = [int((predictor.spec.get("config") or {}).get("n_outputs", 1))]
    return {
        "input": INPUT_NAME,
        "input_dims": shape,
        "output": OUTPUT_NAME,
        "output_dims": out,
        "task": predictor.task,
        "classes": classes,
    }


def to_torchscript(directory: Path, target: Path) -> Path:
    """Trace the inference module into a TorchScript file (torch.jit.load reads it)."""
    predictor = _predictor(Path(directory), "torchscript")
    module = InferenceModule(predictor).eval()
    with _EXPORTING, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated upstream, still supported
        traced = torch.jit.trace(module, example_input(predictor))
    target = Path(target)
    tmp = target.with_name(target.name + ".tmp")
    traced.save(str(tmp))
    os.replace(tmp, target)
    return target


def to_onnx(directory: Path, target: Path) -> Path:
    """Export the version in directory to ONNX, with the exporter its kind names."""
    from workers.models.kinds import kind_of, load_object

    spec = read_json(Path(directory) / SPEC_FILE)
    _refuse(spec, "onnx")
    try:
        return load_object(kind_of(spec).onnx_exporter)(Path(directory), Path(target))
    except ValueError as exc:  # what the exporter cannot express, said by it
        raise ExportError(str(exc)) from exc


def torch_to_onnx(directory: Path, target: Path) -> Path:
    """Export the inference module to ONNX with a dynamic batch dimension."""
    predictor = _predictor(Path(directory), "onnx")
    module = InferenceModule(predictor).eval()
    example = example_input(predictor)
    batch = torch.export.Dim("batch", min=1)
    target = Path(target)
    tmp = target.with_name(target.name + ".tmp.onnx")
    # The exporter reports every pass at INFO and warns about its own internals.
    quiet = logging.getLogger("torch.onnx")
    with _EXPORTING:
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            _export_onnx(module, example, batch, tmp)
        except ImportError as exc:  # onnx / onnxscript missing from the environment
            raise ExportError(f"ONNX export needs onnx and onnxscript: {exc}") from exc
        finally:
            quiet.setLevel(level)
    os.replace(tmp, target)
    return target


def _export_onnx(module: nn.Module, example: torch.Tensor, batch, tmp: Path) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter warns about its own internals
        program = torch.onnx.export(
            module,
            (example,),
            dynamo=True,
            verbose=False,
            dynamic_shapes=({0: batch},),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
        )
        program.save(str(tmp))


_TRITON_TYPES = {"classification": "TYPE_FP32", "regression": "TYPE_FP32"}


def triton_config(name: str, description: dict, max_batch_size: int = 64) -> str:
    """A config.pbtxt for the ONNX Runtime backend; batch is Triton's implicit first dim."""
    out_dims = description["output_dims"] or [1]
    if not description["output_dims"]:
        out_dims = []  # regression: one value per row, [batch]
    dims = ", ".join(str(d) for d in description["input_dims"])
    out = ", ".join(str(d) for d in out_dims)
    output_block = (
        f"    dims: [ {out} ]" if out_dims else "    dims: [ 1 ]\n    reshape: { shape: [ ] }"
    )
    return f"""name: "{name}"
backend: "onnxruntime"
max_batch_size: {max_batch_size}
input [
  {{
    name: "{description["input"]}"
    data_type: TYPE_FP32
    dims: [ {dims} ]
  }}
]
output [
  {{
    name: "{description["output"]}"
    data_type: {_TRITON_TYPES[description["task"]]}
{output_block}
  }}
]
dynamic_batching {{ }}
instance_group [ {{ kind: KIND_AUTO }} ]
"""


def triton_repository(directory: Path, root: Path, name: str) -> list[Path]:
    """Write root/<name>/config.pbtxt and root/<name>/1/model.onnx; return the files."""
    description = input_description(directory)
    model_dir = Path(root) / name
    (model_dir / "1").mkdir(parents=True, exist_ok=True)
    onnx_path = to_onnx(directory, model_dir / "1" / "model.onnx")
    config = model_dir / "config.pbtxt"
    config.write_text(triton_config(name, description))
    return [config, onnx_path]
