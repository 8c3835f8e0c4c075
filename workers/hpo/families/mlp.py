"""A torch multilayer perceptron; reports every epoch."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from workers.hpo.families._base import (
    ModelFamily,
    categorical,
    fixed,
    float_,
    int_,
    lowest,
    register,
)


def class_indices(y: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Targets as the network sees them (class indices 0..k-1) and the class labels."""
    if task != "classification":
        return y, None
    classes = np.unique(y)
    return np.searchsorted(classes, y), classes


@register
class MLPFamily(ModelFamily):
    name = "mlp"
    framework = "torch"
    cost = 4
    fidelity = ("epochs",)
    tasks = ("classification", "regression")
    params = (
        "hidden_layers",
        "hidden_units",
        "activation",
        "dropout",
        "lr",
        "batch_size",
        "weight_decay",
        "epochs",
        "lr_schedule",
        "hypergrad_lr",
    )
    limits = {"hidden_layers": 16, "hidden_units": 2048, "batch_size": 8192, "epochs": 1000}
    blocks = "hidden_layers layers and the head"

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

    def fewest_blocks(self, space):
        return lowest(space.get("hidden_layers"), 2) + 1  # each hidden layer, the head

    def fit(self, params, X, y, ctx):
        # Imported here so that validating configs (web process) never loads torch.
        from workers.models.artifacts import scaling_spec
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
        spec = {
            "kind": "mlp",
            "config": asdict(config),
            "task": ctx.task,
            **scaling_spec(X, y if classes is None else None),
        }
        if classes is not None:
            spec["classes"] = classes.tolist()
        return fit_module(
            module,
            spec,
            params,
            X,
            targets,
            ctx,
            lambda **settings: train_mlp(
                module,
                X,
                targets,
                None,
                None,
                task=ctx.task,
                hypergrad_lr=float(params.get("hypergrad_lr", 1e-5)),
                **settings,
            ),
            epochs=20,
            lr=1e-3,
            batch_size=32,
        )


def fit_module(
    module, spec: dict, params, X, targets, ctx, train, *, epochs: int, lr: float, batch_size: int
):
    """Train a family's torch module on a trial's settings (its params, else the family's
    defaults epochs, lr and batch_size) and return its predictor: in one process through
    train(**settings) (the family's trainer), reporting every epoch to ctx.on_step, or
    data parallel over ctx.trainer.processes, reporting once."""
    from workers.models.artifacts import TorchPredictor

    predictor = TorchPredictor(module, spec)  # reads the module as it trains
    settings = fit_settings(params, ctx, epochs=epochs, lr=lr, batch_size=batch_size)
    if ctx.trainer.processes > 1:
        one_data_parallel_fit(module, predictor, params, X, targets, ctx, ctx.trainer, settings)
        return predictor
    train(
        **settings,
        on_epoch=lambda epoch, _: ctx.on_step(epoch, predictor),
        lr_schedule=str(params.get("lr_schedule", "fixed")),
        options=ctx.trainer,
        stop=ctx.stop,
        on_progress=ctx.on_progress,
    )
    module.eval()
    return predictor


def fit_settings(params: dict, ctx, *, epochs: int, lr: float, batch_size: int) -> dict:
    """The training loop's settings from a trial's params (the family's defaults else)."""
    return {
        "epochs": int(params.get("epochs", epochs)),
        "lr": float(params.get("lr", lr)),
        "batch_size": int(params.get("batch_size", batch_size)),
        "weight_decay": float(params.get("weight_decay", 0.0)),
        "seed": ctx.seed,
    }


def one_data_parallel_fit(
    module, predictor, params, X, targets, ctx, options, settings: dict
) -> None:
    """Train over options.processes processes (DistributedDataParallel) on the rows the
    predictor's spec standardises, then report once: the fit has no per-epoch values to
    prune on, and rank 0's weights are the model."""
    import torch

    from workers.training.trainer import fit_distributed

    if params.get("lr_schedule", "fixed") != "fixed":
        raise ValueError(
            "a data-parallel trial (trainer.processes > 1) trains with a fixed "
            "learning rate; drop lr_schedule from the search space"
        )
    spec = predictor.spec
    x = X
    if spec.get("input_mean") is not None:
        x = (X - np.asarray(spec["input_mean"])) / np.asarray(spec["input_std"])
    if ctx.task == "classification":
        y = torch.as_tensor(targets, dtype=torch.long)
    else:
        y = torch.as_tensor(
            (targets - spec["target_mean"]) / spec["target_std"], dtype=torch.float32
        )
    fit_distributed(
        module,
        torch.as_tensor(x, dtype=torch.float32),
        y,
        task=ctx.task,
        options=options,
        stop=ctx.stop,
        **settings,
    )
    module.eval()
    ctx.on_step(settings["epochs"] - 1, predictor)
