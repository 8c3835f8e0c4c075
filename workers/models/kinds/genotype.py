"""Architectures found by workers/nas: a DARTS cell or macro genotype over images, or the
tabular (evolution/random) `mlp` space over standardised rows; GenotypeNetwork builds both."""

from __future__ import annotations

from workers.models.kinds._base import ModelKind

_CELL_OPS = (
    "static int8 and QAT need fusable Conv-BN-ReLU groups and quantizable adds, "
    "which a searched cell does not declare"
)


class GenotypeKind(ModelKind):
    name = "genotype"
    label = "NAS genotype"
    config_class = "workers.training.genotype.GenotypeConfig"
    module_class = "workers.training.genotype.GenotypeNetwork"
    # Structured pruning and a shrunk student need to know the architecture's widths;
    # a genotype's are the search's, so those two are refused (give a student config).
    techniques = ("prune_magnitude", "distill", "dynamic_int8", "half", "weight_only", "mixed")

    def input_shape(self, spec: dict) -> list[int]:
        return [int(s) for s in spec["config"]["input_shape"]]

    def technique_refusal(self, technique: str) -> str | None:
        if technique in ("static_int8", "qat"):
            return f"{technique} does not apply to NAS genotypes: {_CELL_OPS}"
        if technique == "prune_structured":
            return (
                "prune_structured does not apply to NAS genotypes (their widths are the "
                "search's); use prune_magnitude"
            )
        return super().technique_refusal(technique)
