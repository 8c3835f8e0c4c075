"""The compression techniques: one small class each, a registry by name, one contract.

A technique takes the previous step's model and returns a new one (never mutating its
input). Options are declared in workers/compression/config.py (no torch there), so that
submission can check them in the web process; TECHNIQUES must name the same set.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch

from workers.compression import distill as kd
from workers.compression import pruning
from workers.compression import quantize as q
from workers.compression.common import (
    Compressed,
    CompressionError,
    Splits,
    accuracy,
    train,
    weighted_layers,
)
from workers.compression.config import (
    DistillOptions,
    Finetune,
    HalfOptions,
    MixedOptions,
    PruneMagnitudeOptions,
    PruneStructuredOptions,
    QATOptions,
    StaticInt8Options,
    WeightOnlyOptions,
)
from workers.hpo.options import Options
from workers.training.stopping import StopCheck


@dataclass
class Context:
    """What a step may use besides its model: the data, fine-tuning settings, teachers,
    and where its training runs (the job's device) and is stopped (cancel)."""

    splits: Splits
    finetune: Finetune
    seed: int
    teachers: dict[int, Compressed] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)  # filled by the step: goes into its report
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    stop: StopCheck = field(default_factory=StopCheck)

    def finetune_for(self, model: Compressed, epochs: int) -> None:
        """Fine-tune model in place on the training rows with the job's settings."""
        train(
            model.module,
            self.splits.x["train"],
            self.splits.y["train"],
            epochs=epochs,
            lr=self.finetune.lr,
            batch_size=self.finetune.batch_size,
            weight_decay=self.finetune.weight_decay,
            seed=self.seed,
            device=self.device,
            stop=self.stop,
        )

    def score(self, module: torch.nn.Module) -> float:
        return accuracy(Compressed(module, {}), self.splits.x["valid"], self.splits.y["valid"])


class Technique(ABC):
    """One compression step."""

    @abstractmethod
    def apply(self, model: Compressed, step: Options, ctx: Context) -> Compressed:
        """A new model from `model` under the step's checked options (its STEP_OPTIONS)."""


def _float(model: Compressed, name: str) -> Compressed:
    if model.recipe is not None:
        raise CompressionError(
            f"{name} needs a float model; this one is already quantized "
            f"({model.recipe['method']}): put {name} earlier in the chain"
        )
    return model.copy()


class PruneMagnitude(Technique):
    def apply(self, model: Compressed, step: PruneMagnitudeOptions, ctx: Context) -> Compressed:
        model = _float(model, "prune_magnitude")
        module = model.module
        ratios: float | dict[str, float] = step.sparsity
        if step.sensitivity:
            drops = pruning.sensitivity(module, ctx.score)
            sizes = {n: m.weight.numel() for n, m in weighted_layers(module)}
            ratios = pruning.ratios_from_sensitivity(drops, sizes, step.sparsity)
            ctx.notes["sensitivity"] = {
                n: {str(s): round(d, 4) for s, d in layer.items()} for n, layer in drops.items()
            }
            ctx.notes["layer_sparsity"] = {n: round(r, 4) for n, r in ratios.items()}
        elif step.scope == "layer":
            ratios = {n: step.sparsity for n, _ in weighted_layers(module)}
        for fraction in pruning.schedule(1.0, step.steps, step.schedule):
            current = (
                ratios * fraction
                if isinstance(ratios, float | int)
                else {n: r * fraction for n, r in ratios.items()}
            )
            pruning.make_permanent(module)
            pruning.apply_masks(module, pruning.magnitude_masks(module, current))
            ctx.finetune_for(model, step.finetune_epochs)
        pruning.make_permanent(module)
        return model


class PruneStructured(Technique):
    def apply(self, model: Compressed, step: PruneStructuredOptions, ctx: Context) -> Compressed:
        model = _float(model, "prune_structured")
        done = 0.0
        shapes = [list(m.weight.shape) for _, m in weighted_layers(model.module)]
        for target in pruning.schedule(step.ratio, step.steps, step.schedule):
            # Each step removes a share of what is left so that the total reaches target.
            module, spec = pruning.shrink(model.module, model.spec, 1 - (1 - target) / (1 - done))
            model = Compressed(module, spec, None, model.history)
            done = target
            ctx.finetune_for(model, step.finetune_epochs)
        ctx.notes["shapes_before"] = shapes
        ctx.notes["shapes_after"] = [
            list(m.weight.shape) for _, m in weighted_layers(model.module)
        ]
        return model


class Distill(Technique):
    def apply(self, model: Compressed, step: DistillOptions, ctx: Context) -> Compressed:
        teachers = [model] + [ctx.teachers[t] for t in step.teachers]
        return kd.distill(teachers, ctx.splits, step, ctx.seed, device=ctx.device, stop=ctx.stop)


class DynamicInt8(Technique):
    def apply(self, model: Compressed, step: Options, ctx: Context) -> Compressed:
        model = _float(model, "dynamic_int8")
        return Compressed(q.dynamic_int8(model.module), model.spec, {"method": "dynamic_int8"})


class StaticInt8(Technique):
    def apply(self, model: Compressed, step: StaticInt8Options, ctx: Context) -> Compressed:
        model = _float(model, "static_int8")
        recipe = {
            "method": "static_int8",
            "observer": step.observer,
            "per_channel": step.per_channel,
        }
        calibration = ctx.splits.x["train"][: step.calibration_rows]
        module = q.static_int8(model.module, model.spec, recipe, calibration)
        return Compressed(module, model.spec, recipe)


class QAT(Technique):
    def apply(self, model: Compressed, step: QATOptions, ctx: Context) -> Compressed:
        model = _float(model, "qat")
        recipe = {"method": "qat", "per_channel": step.per_channel}
        prepared = q.prepare_static(model.module, model.spec, recipe)
        train(
            prepared,
            ctx.splits.x["train"],
            ctx.splits.y["train"],
            epochs=step.epochs,
            lr=step.lr,
            batch_size=ctx.finetune.batch_size,
            seed=ctx.seed,
            device=ctx.device,
            stop=ctx.stop,
        )
        return Compressed(q.convert(prepared), model.spec, recipe)


class Half(Technique):
    def apply(self, model: Compressed, step: HalfOptions, ctx: Context) -> Compressed:
        model = _float(model, "half")
        return Compressed(
            q.half(model.module, step.dtype),
            model.spec,
            {"method": "half", "dtype": step.dtype},
        )


class WeightOnly(Technique):
    def apply(self, model: Compressed, step: WeightOnlyOptions, ctx: Context) -> Compressed:
        model = _float(model, "weight_only")
        layers = {n: q.layer_options(step) for n, _ in weighted_layers(model.module)}
        recipe = {"method": "weight_only", "layers": layers}
        return Compressed(q.weight_only(model.module, recipe), model.spec, recipe)


class Mixed(Technique):
    """Weight-only at `bits`, except the layers whose own quantization hurts the most."""

    def apply(self, model: Compressed, step: MixedOptions, ctx: Context) -> Compressed:
        model = _float(model, "mixed")
        base = ctx.score(model.module)
        drops = {}
        for name, _ in weighted_layers(model.module):
            trial = model.copy()
            q.weight_only(trial.module, {"layers": {name: q.layer_options(step)}})
            drops[name] = base - ctx.score(trial.module)
        n_float = round(step.keep_float * len(drops))
        ranked = sorted(drops, key=lambda n: drops[n], reverse=True)
        kept = set(ranked[:n_float])
        layers = {n: q.layer_options(step) for n in drops if n not in kept}
        ctx.notes["sensitivity"] = {n: round(d, 4) for n, d in drops.items()}
        ctx.notes["float_layers"] = sorted(kept)
        recipe = {"method": "mixed", "layers": layers}
        return Compressed(q.weight_only(model.module, recipe), model.spec, recipe)


TECHNIQUES: dict[str, Technique] = {
    "prune_magnitude": PruneMagnitude(),
    "prune_structured": PruneStructured(),
    "distill": Distill(),
    "dynamic_int8": DynamicInt8(),
    "static_int8": StaticInt8(),
    "qat": QAT(),
    "half": Half(),
    "weight_only": WeightOnly(),
    "mixed": Mixed(),
}
