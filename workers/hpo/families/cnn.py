"""A small torch CNN for images (X shaped N x C x H x W); reports every epoch."""

from __future__ import annotations

from dataclasses import asdict

from workers.hpo.families._base import (
    ModelFamily,
    categorical,
    fixed,
    float_,
    int_,
    lowest,
    register,
)
from workers.hpo.families.mlp import class_indices, fit_module


@register
class CNNFamily(ModelFamily):
    name = "cnn"
    framework = "torch"
    cost = 5
    fidelity = ("epochs",)
    tasks = ("classification",)
    inputs = "image"
    params = (
        "width",
        "blocks",
        "kernel_size",
        "dropout",
        "lr",
        "batch_size",
        "weight_decay",
        "epochs",
        "lr_schedule",
    )
    limits = {"width": 128, "blocks": 4, "kernel_size": 9, "batch_size": 8192, "epochs": 1000}
    blocks = "blocks conv blocks and the head"

    def default_space(self, task):
        return {
            "width": int_(8, 32, log=True),  # channels of the first block, doubled per block
            "blocks": int_(1, 2),
            "lr": float_(1e-3, 1e-1, log=True),
            "batch_size": categorical([32, 64]),
            "kernel_size": fixed(3),
            "epochs": fixed(10),
        }

    def fewest_blocks(self, space):
        return lowest(space.get("blocks"), 2) + 1  # each conv block, the head

    def fit(self, params, X, y, ctx):
        from workers.training.cnn import CNN, CNNConfig, as_images, train_cnn

        X = as_images(X)
        targets, classes = class_indices(y, ctx.task)
        width, blocks = int(params.get("width", 16)), int(params.get("blocks", 2))
        config = CNNConfig(
            in_channels=X.shape[1],
            height=X.shape[2],
            width=X.shape[3],
            n_outputs=len(classes),
            channels=tuple(width * 2**i for i in range(blocks)),
            kernel_size=int(params.get("kernel_size", 3)),
            dropout=float(params.get("dropout", 0.0)),
        )
        module = CNN(config)
        spec = {
            "kind": "cnn",
            "config": asdict(config),
            "task": ctx.task,
            "classes": classes.tolist(),
        }
        return fit_module(
            module,
            spec,
            params,
            X,
            targets,
            ctx,
            # train_cnn wants validation rows; the caller scores in on_step, so one will do.
            lambda **settings: train_cnn(module, X, targets, X[:1], targets[:1], **settings),
            epochs=10,
            lr=1e-2,
            batch_size=64,
        )
