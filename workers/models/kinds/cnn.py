"""Convolutional networks (the HPO `cnn` family): images, or their flat rows of pixels."""

from __future__ import annotations

from dataclasses import asdict

from workers.models.kinds._base import ModelKind


class CNNKind(ModelKind):
    name = "cnn"
    label = "CNN"
    config_class = "workers.training.cnn.CNNConfig"
    module_class = "workers.training.cnn.CNN"

    def config_fields(self, config: dict) -> dict:
        if "channels" in config:  # JSON turned the tuple into a list
            config["channels"] = tuple(config["channels"])
        return config

    def input_shape(self, spec: dict) -> list[int]:
        cfg = spec["config"]
        return [int(cfg["in_channels"]), int(cfg["height"]), int(cfg["width"])]

    def fusions(self, module):
        from torch import nn

        return [
            [f"module.features.{i}", f"module.features.{i + 1}", f"module.features.{i + 2}"]
            for i, m in enumerate(module.features)
            if isinstance(m, nn.Conv2d)
        ]

    def shrink(self, module, spec, ratio):
        from workers.compression.pruning import shrink_cnn

        new = shrink_cnn(module, ratio)
        return new, {**spec, "config": asdict(new.config)}

    def shrunk_config(self, config, factor):
        return {**config, "channels": [max(1, round(c * factor)) for c in config["channels"]]}
