"""A torch multilayer perceptron; reports every epoch."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from workers.hpo.families._base import ModelFamily, categorical, fixed, float_, int_, register


def class_indices(y: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Targets as the network sees them (class indices 0..k-1) and the class labels."""
    if task != "classification":
        return y, None
    classes = np.unique(y)
    return np.searchsorted(classes, y), classes


@register
class MLPFamily(ModelFamily):
    name = "mlp"
    tasks = ("classification", "regression")
    params = (
        "hidden_layers", "hidden_units", "activation", "dropout",
        "lr", "batch_size", "weight_decay", "epochs", "lr_schedule", "hypergrad_lr",
    )  # fmt: skip

    def default_space(self, task):
        return {
            "hidden_layers": int_(1, 3),
            "hidden_units": int_(16, 128, log=True),
            "lr": float_(1e-4, 1e-1, log=True),
            "batch_size": categorical([16, 32, 64]),
            "dropout": float_(0.0, 0.5),
            "weight_decay": fixed(0.0),
            "epochs": fixed(20),
        }

    def fit(self, params, X, y, ctx):
        # Imported here so that validating configs (web process) never loads torch.
        from workers.models.artifacts import TorchPredictor, scaling_spec
        from workers.training.mlp import MLP, MLPConfig, train_mlp

        targets, classes = class_indices(y, ctx.task)
        config = MLPConfig(
            n_features=X.shape[1],
            n_outputs=1 if classes is None else len(classes),
            hidden_layers=int(params.get("hidden_layers", 2)),
            hidden_units=int(params.get("hidden_units", 64)),
            dropout=float(params.get("dropout", 0.0)),
            activation=str(params.get("activation", "relu")),
        )
        module = MLP(config)
        spec = {"kind": "mlp", "config": asdict(config), "task": ctx.task,
                **scaling_spec(X, y if classes is None else None)}  # fmt: skip
        if classes is not None:
            spec["classes"] = classes.tolist()
        predictor = TorchPredictor(module, spec)  # reads the module as it trains
        train_mlp(
            module, X, targets, None, None,
            task=ctx.task,
            epochs=int(params.get("epochs", 20)),
            lr=float(params.get("lr", 1e-3)),
            batch_size=int(params.get("batch_size", 32)),
            weight_decay=float(params.get("weight_decay", 0.0)),
            seed=ctx.seed,
            on_epoch=lambda epoch, _: ctx.on_step(epoch, predictor),
            lr_schedule=str(params.get("lr_schedule", "fixed")),
            hypergrad_lr=float(params.get("hypergrad_lr", 1e-5)),
        )  # fmt: skip
        module.eval()
        return predictor
