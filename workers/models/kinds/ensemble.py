"""Ensembles of an HPO job's best trials (workers/models/ensemble.py): one skops file."""

from __future__ import annotations

from workers.models.kinds.sklearn import SklearnKind

_MIXED = (
    "an ensemble averages models of several families (trees, boosters, linear models) and "
    "ONNX and TorchScript export one pipeline or network: it is served, bundled and "
    "downloaded from its skops file"
)


class EnsembleKind(SklearnKind):
    name = "ensemble"
    label = "ensemble of HPO trials"
    one_trial = False  # its evaluation reports the held-out rows, not a per-fold refit
    refusals = {
        "export_onnx": _MIXED,
        "export_torchscript": _MIXED,
        "compress": "compression works on one torch network, not an ensemble of models",
    }
