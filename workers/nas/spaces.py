"""Search spaces as fixed lists of categorical decisions.

Every space encodes an architecture as a list of choice indices, one per decision, and
decodes it into a genotype (JSON, see workers/training/genotype.py). One encoding serves
every sample-based strategy: random search draws each decision, evolution changes one
decision that matters (an operation or an input edge of the cell space; a layer's width,
kernel, activation or the depth of the macro and MLP spaces), and the RL controller emits
one decision per step. Decisions of layers beyond the sampled depth are kept but ignored.

Nothing here imports torch: config validation uses these classes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers.hpo.options import Option, Options, integer, option

if TYPE_CHECKING:
    from workers.nas.config import NASConfig

CELL_OPS = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
ACTIVATIONS = ("relu", "tanh", "gelu", "silu", "elu")
KERNELS = (1, 3, 5, 7)
# The largest network a search may build (the DARTS supernet holds every operation of every
# edge at once): 50M float32 weights are 200 MB, about 800 MB with gradients and Adam.
MAX_NETWORK_PARAMS = 50_000_000


def _op_params(op: str, c: int, stride: int) -> int:
    """Weights of one cell operation on c channels (BatchNorm's few left out)."""
    kernel = int(op[-1]) if op[-1].isdigit() else 0
    if op.startswith("sep_conv"):
        return 2 * (c * kernel * kernel + c * c)  # depthwise + pointwise, twice
    if op.startswith("dil_conv"):
        return c * kernel * kernel + c * c
    if op == "skip_connect" and stride == 2:
        return c * c  # FactorizedReduce: two 1x1 convolutions to c/2 channels each
    return 0


def _int_list(allowed: tuple | None, low: int = 1, high: int = 4096) -> Option:
    def check(v: object) -> bool:
        if not isinstance(v, list) or not v or len(set(map(repr, v))) != len(v):
            return False
        if allowed is not None:
            return all(x in allowed for x in v)
        return all(isinstance(x, int) and not isinstance(x, bool) and low <= x <= high for x in v)

    what = f"one of {allowed}" if allowed else f"integers from {low} to {high}"
    return Option(None, check, f"a non-empty list without repeats of {what}")


def _choice_list(default: list, allowed: tuple | None) -> Option:
    """A list option (see _int_list; allowed None: integers) with a default."""
    declared = _int_list(allowed)
    return Option(default, declared.check, declared.expected)


def reduction_cells(cells: int) -> list[int]:
    """Where DARTS puts its reduction cells (kept equal to workers.training.genotype's)."""
    if cells < 2:
        return []
    if cells == 2:
        return [1]
    return sorted({cells // 3, 2 * cells // 3})


@dataclass(frozen=True)
class Decision:
    name: str
    n: int  # number of choices


class SearchSpace:
    """A named space: declared options, its decisions, and how they decode to a genotype."""

    name: str = ""
    inputs: str = "image"  # "image" or "tabular"
    options: type[Options] = Options  # its declared options

    def __init__(self, options: Options | None = None) -> None:
        self.opts = self.options() if options is None else options

    def decisions(self) -> list[Decision]:
        raise NotImplementedError

    def decode(self, choices: list[int]) -> dict:
        """The genotype (JSON) of an encoded architecture."""
        raise NotImplementedError

    def active(self, choices: list[int]) -> list[int]:
        """Indices of the decisions that change the architecture (all, unless overridden)."""
        return list(range(len(self.decisions())))

    def largest_params(self, in_features: int) -> int:
        """About how many weights the largest network this search builds holds (for the
        cell space, the supernet), computed without building it; in_features: the input's
        channels (images) or columns (tables)."""
        raise NotImplementedError

    def fewest_blocks(self) -> int:
        """Blocks of the smallest network this space builds: model-parallel stages
        (trainer.stages) cut between blocks, so at most this many stages fit every one."""
        raise NotImplementedError

    # --- shared by the strategies

    def sample(self, rng: random.Random) -> list[int]:
        return [rng.randrange(d.n) for d in self.decisions()]

    def mutate(self, choices: list[int], rng: random.Random) -> list[int]:
        """Change one decision that matters to another of its values."""
        decisions = self.decisions()
        movable = [i for i in self.active(choices) if decisions[i].n > 1]
        child = list(choices)
        if not movable:
            return child
        i = rng.choice(movable)
        child[i] = rng.choice([v for v in range(decisions[i].n) if v != choices[i]])
        return child

    def key(self, choices: list[int]) -> str:
        """Equal for encodings of the same architecture."""
        return repr(self.decode(choices))


@dataclass(frozen=True)
class CellOptions(Options):
    ops: list[str] = option(_choice_list(list(CELL_OPS), CELL_OPS))
    nodes: int = option(integer(4, 1, 8))
    cells: int = option(integer(8, 1, 20))
    channels: int = option(integer(16, 2, 256))

    def check(self, add):
        if isinstance(self.ops, list) and len([op for op in self.ops if op != "none"]) < 2:
            add("ops", "needs at least two operations besides 'none'")


class CellSpace(SearchSpace):
    """The DARTS cell space: normal and reduction cells of `nodes` intermediate nodes."""

    name = "cell"
    options = CellOptions
    opts: CellOptions

    @property
    def ops(self) -> list[str]:
        """The operations a derived or sampled edge may use (never 'none')."""
        return [op for op in self.opts.ops if op != "none"]

    def largest_params(self, in_features: int) -> int:
        """The supernet's weights: stem, and per cell its two input convolutions and every
        operation on every edge (as workers.nas.darts.SuperNet builds them)."""
        nodes, stem_c = self.opts.nodes, 3 * self.opts.channels
        c, c_pp, c_p = self.opts.channels, stem_c, stem_c
        total = in_features * stem_c * 9
        reduce_at = reduction_cells(self.opts.cells)
        for i in range(self.opts.cells):
            reduction = i in reduce_at
            c *= 2 if reduction else 1
            total += (c_pp + c_p) * c
            for node in range(nodes):
                for inp in range(node + 2):
                    stride = 2 if reduction and inp < 2 else 1
                    total += sum(_op_params(op, c, stride) for op in self.opts.ops)
            c_pp, c_p = c_p, nodes * c
        return total

    def fewest_blocks(self) -> int:
        return self.opts.cells + 2  # the stem, each cell, the head

    def cell_types(self) -> list[str]:
        return ["normal", "reduce"] if reduction_cells(self.opts.cells) else ["normal"]

    def decisions(self):
        out = []
        for kind in self.cell_types():
            for node in range(self.opts.nodes):
                for edge in range(2):
                    out.append(Decision(f"{kind}.{node}.{edge}.input", node + 2))
                    out.append(Decision(f"{kind}.{node}.{edge}.op", len(self.ops)))
        return out

    def decode(self, choices):
        genotype = self.frame()
        it = iter(choices)
        for kind in self.cell_types():
            cell = []
            for _ in range(self.opts.nodes):
                edges = []
                for _ in range(2):
                    inp = next(it)
                    edges.append([self.ops[next(it)], inp])
                cell.append(edges)
            genotype[kind] = cell
        if "reduce" not in genotype:
            genotype["reduce"] = []
        return genotype

    def frame(self) -> dict:
        """The genotype without its cells (what derivation fills in)."""
        cells = self.opts.cells
        return {
            "space": "cell",
            "channels": self.opts.channels,
            "cells": cells,
            "nodes": self.opts.nodes,
            "reduce_at": reduction_cells(cells),
        }


@dataclass(frozen=True)
class _LayeredOptions(Options):
    """A layered space's options: each subclass declares min_layers and max_layers."""

    def check(self, add):
        low, high = self.min_layers, self.max_layers
        if isinstance(low, int) and isinstance(high, int) and low > high:
            add("min_layers", "must not exceed max_layers")


class _LayeredSpace(SearchSpace):
    """A depth decision, then the same per-layer decisions for each of max_layers layers."""

    fields: tuple[str, ...] = ()

    def largest_params(self, in_features: int) -> int:
        """Every layer at the widest width and largest kernel, max_layers deep."""
        width = max(self.opts.widths)
        area = max(getattr(self.opts, "kernels", [1])) ** 2
        layers = self.opts.max_layers
        return in_features * width * area + (layers - 1) * width * width * area

    def fewest_blocks(self) -> int:
        return self.opts.min_layers + 1  # each layer, the head

    def _values(self, field: str) -> list:
        return getattr(
            self.opts, {"width": "widths", "kernel": "kernels", "activation": "activations"}[field]
        )

    def decisions(self):
        depth = self.opts.max_layers - self.opts.min_layers + 1
        out = [Decision("depth", depth)]
        for layer in range(self.opts.max_layers):
            out += [Decision(f"{layer}.{f}", len(self._values(f))) for f in self.fields]
        return out

    def depth(self, choices: list[int]) -> int:
        return self.opts.min_layers + choices[0]

    def active(self, choices):
        return list(range(1 + len(self.fields) * self.depth(choices)))

    def decode(self, choices):
        layers = []
        per = len(self.fields)
        for layer in range(self.depth(choices)):
            picks = choices[1 + per * layer : 1 + per * (layer + 1)]
            layers.append({f: self._values(f)[c] for f, c in zip(self.fields, picks, strict=True)})
        return {"space": self.name, "layers": layers}


@dataclass(frozen=True)
class MacroOptions(_LayeredOptions):
    widths: list[int] = option(_choice_list([8, 16, 32], None))
    kernels: list[int] = option(_choice_list([3, 5], KERNELS))
    activations: list[str] = option(_choice_list(["relu", "gelu"], ACTIVATIONS))
    min_layers: int = option(integer(1, 1, 8))
    max_layers: int = option(integer(3, 1, 8))


class MacroSpace(_LayeredSpace):
    """Plain CNNs: depth, and per layer its width, kernel size and activation."""

    name = "macro"
    fields = ("width", "kernel", "activation")
    options = MacroOptions


@dataclass(frozen=True)
class MLPOptions(_LayeredOptions):
    widths: list[int] = option(_choice_list([16, 32, 64, 128], None))
    activations: list[str] = option(_choice_list(["relu", "tanh", "gelu"], ACTIVATIONS))
    min_layers: int = option(integer(1, 0, 8))
    max_layers: int = option(integer(3, 1, 8))


class MLPSpace(_LayeredSpace):
    """Multilayer perceptrons for tabular data: depth, and per layer width and activation."""

    name = "mlp"
    inputs = "tabular"
    fields = ("width", "activation")
    options = MLPOptions


SPACES: dict[str, type[SearchSpace]] = {s.name: s for s in (CellSpace, MacroSpace, MLPSpace)}


def make_space(config: NASConfig) -> SearchSpace:
    """The space a checked config names, with its options."""
    return SPACES[config.space.name](config.space.options)
