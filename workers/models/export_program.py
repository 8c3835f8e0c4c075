"""Imported torch.export programs (`.pt2`, kind "pt2"): checked as data, then loaded.

`torch.export.load` unpickles some of what an archive may hold: weights and constants
marked `use_pickle` (with weights_only=False), custom objects, and the sample inputs,
retried with weights_only=False when the safe load fails; it also loads AOTInductor
shared libraries. So the archive is read first as a zip: only the records a plain
`torch.export.save` of one program writes are allowed (its JSON graph, raw weight and
tensor-constant bytes, their JSON configs, and sample inputs that the restricted
weights-only unpickler reads), nothing marked for pickling, and the parameters the
configs declare within the caller's budget. Only then is torch.export.load called.

The program takes one float tensor, N x n_features, with a dynamic batch dimension, and
answers like the platform's torch models: N x classes logits, or N (x 1) values.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np

from workers.models.imported import ImportedPredictor

MODEL = "model"  # the program's name inside the archive (torch.export.save writes it)
# Records (below the archive's one root folder) a plain torch.export.save writes.
ALLOWED_RECORDS = re.compile(
    r"archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id"
    r"|models/model\.json|data/weights/model_weights_config\.json"
    r"|data/constants/model_constants_config\.json|data/sample_inputs/model\.pt"
    r"|data/weights/weight_\d+|data/constants/tensor_\d+"
)


class ProgramError(ValueError):
    """A .pt2 file the platform refuses to load, and why."""


def _records(archive: zipfile.ZipFile, max_bytes: int | None) -> dict[str, zipfile.ZipInfo]:
    members = [m for m in archive.infolist() if not m.is_dir()]
    roots = {m.filename.split("/", 1)[0] for m in members}
    if len(roots) != 1 or any("/" not in m.filename for m in members):
        raise ProgramError("not a torch.export archive: its files are not under one folder")
    records = {m.filename.split("/", 1)[1]: m for m in members}
    if unexpected := sorted(r for r in records if not ALLOWED_RECORDS.fullmatch(r)):
        raise ProgramError(
            "the archive holds files torch.export.save of one program does not write "
            f"(custom objects, compiled libraries, extra files): {', '.join(unexpected[:5])}"
        )
    if max_bytes is not None and sum(m.file_size for m in members) > max_bytes:
        raise ProgramError(f"the archive unpacks to more than {max_bytes} bytes")
    return records


def _payloads(archive: zipfile.ZipFile, member: zipfile.ZipInfo | None) -> dict:
    if member is None:
        raise ProgramError(f"not a torch.export archive: no {MODEL} weights/constants config")
    try:
        config = json.loads(archive.read(member))["config"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ProgramError(f"{member.filename}: not a payload config ({exc})") from None
    if not isinstance(config, dict):
        raise ProgramError(f"{member.filename}: not a payload config")
    return config


def check_program(path: Path, max_parameters: int | None = None, max_bytes: int | None = None):
    """The parameter count the archive declares, after checking nothing in it is unpickled
    unsafely or runs native code.

    Raises:
        ProgramError: another file than a plain program's, a pickled payload, sample inputs
            the weights-only unpickler refuses, or more parameters than max_parameters.
    """
    import torch

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ProgramError(f"not a torch.export archive: {exc}") from None
    with archive:
        records = _records(archive, max_bytes)
        if "models/model.json" not in records:
            raise ProgramError("not a torch.export archive: no models/model.json")
        parameters = 0
        for config_name in (
            "data/weights/model_weights_config.json",
            "data/constants/model_constants_config.json",
        ):
            for fqn, payload in _payloads(archive, records.get(config_name)).items():
                if not isinstance(payload, dict) or payload.get("use_pickle"):
                    raise ProgramError(f"{fqn!r} is stored as a pickle; only raw tensors load")
                meta = payload.get("tensor_meta") or {}
                try:
                    sizes = [int(s["as_int"]) for s in meta["sizes"]]
                except (KeyError, TypeError, ValueError):
                    raise ProgramError(f"{fqn!r} declares no static shape") from None
                parameters += math.prod(sizes)
        if max_parameters is not None and parameters > max_parameters:
            raise ProgramError(
                f"the program holds {parameters} parameters, more than MODEL_MAX_PARAMETERS "
                f"({max_parameters})"
            )
        samples = records.get("data/sample_inputs/model.pt")
        if samples is not None:
            try:  # the restricted unpickler: tensors and containers, no other object
                torch.load(io.BytesIO(archive.read(samples)), weights_only=True)
            except Exception as exc:  # pickle errors come as several types
                lines = str(exc).splitlines() or [type(exc).__name__]
                why = next((ln for ln in lines if "WeightsUnpickler error" in ln), lines[0])
                raise ProgramError(
                    f"its sample inputs are not plain tensors ({why.strip()}); "
                    "nothing in the archive is unpickled beyond tensors"
                ) from None
    return parameters


class ProgramPredictor(ImportedPredictor):
    """A loaded torch.export program with a sklearn-like API (predict, predict_proba,
    classes_), answering like TorchPredictor.

    Raises:
        ProgramError: the archive fails check_program or does not take N x features rows.
    """

    error = ProgramError
    noun = "program"

    def __init__(self, path: Path, spec: dict) -> None:
        import torch

        check_program(path)
        self._read_task(spec)
        features = spec.get("features")
        if not features:
            raise ProgramError("spec.features must name the program's input columns")
        self.n_features_in_ = len(features)
        try:
            self.module = torch.export.load(str(path)).module()
        except Exception as exc:  # a graph torch cannot deserialize is the uploader's
            raise ProgramError(f"torch.export.load failed: {type(exc).__name__}: {exc}") from None
        try:  # a batch of 3: the batch dimension must be dynamic
            self._outputs(np.zeros((3, self.n_features_in_)))
        except Exception as exc:
            raise ProgramError(
                f"the program does not answer 3 rows of {self.n_features_in_} features "
                f"(export it with a dynamic batch dimension): {type(exc).__name__}: {exc}"
            ) from None

    def _raw(self, rows: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.module(torch.as_tensor(rows))
        return out.detach().float().numpy()
