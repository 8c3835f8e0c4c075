"""Multilayer perceptrons (the HPO `mlp` family): standardised tabular rows."""

from __future__ import annotations

from dataclasses import asdict

from workers.models.kinds._base import ModelKind


class MLPKind(ModelKind):
    name = "mlp"
    label = "MLP"
    config_class = "workers.training.mlp.MLPConfig"
    module_class = "workers.training.mlp.MLP"

    def input_shape(self, spec: dict) -> list[int]:
        return [int(spec["config"]["n_features"])]

    def fusions(self, module):
        from torch import nn

        net = module.net
        return [
            [f"module.net.{i}", f"module.net.{i + 1}"]
            for i in range(len(net) - 1)
            if isinstance(net[i], nn.Linear) and isinstance(net[i + 1], nn.ReLU)
        ]

    def shrink(self, module, spec, ratio):
        from workers.compression.pruning import shrink_mlp

        new = shrink_mlp(module, ratio)
        return new, {**spec, "config": asdict(new.config)}

    def shrunk_config(self, config, factor):
        return {**config, "hidden_units": max(1, round(config["hidden_units"] * factor))}
