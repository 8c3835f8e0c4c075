"""Rebuild a torch module from the JSON spec stored beside its weights."""

from __future__ import annotations

from dataclasses import fields

from torch import nn

from workers.training.cnn import CNN, CNNConfig
from workers.training.genotype import GenotypeConfig, GenotypeNetwork
from workers.training.mlp import MLP, MLPConfig

# kind -> (config dataclass, module class); a spec is {"kind": ..., "config": asdict(cfg)}
TORCH_KINDS: dict[str, tuple[type, type[nn.Module]]] = {
    "mlp": (MLPConfig, MLP),
    "cnn": (CNNConfig, CNN),
    "genotype": (GenotypeConfig, GenotypeNetwork),  # architectures found by workers/nas
}


def build_torch(spec: dict) -> nn.Module:
    """A freshly initialised module of spec["kind"] built from spec["config"].

    Raises:
        ValueError: the kind is unknown, or the config misses or adds fields.
    """
    kind = spec.get("kind")
    if kind not in TORCH_KINDS:
        raise ValueError(f"unknown torch model kind {kind!r}; expected one of {list(TORCH_KINDS)}")
    config_cls, module_cls = TORCH_KINDS[kind]
    config = dict(spec.get("config") or {})
    names = {f.name for f in fields(config_cls)}
    if unexpected := sorted(set(config) - names):
        raise ValueError(f"{kind} config has unknown fields {unexpected}")
    if "channels" in config:  # JSON turned the tuple into a list
        config["channels"] = tuple(config["channels"])
    try:
        return module_cls(config_cls(**config))
    except TypeError as exc:  # a required field is missing
        raise ValueError(f"invalid {kind} config: {exc}") from exc
