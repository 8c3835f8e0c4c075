"""Optuna samplers by name, with their options: `sampler: {"name": ..., "seed": ..., ...}`.
An `Options` dataclass's fields are named as its Optuna sampler's arguments.

Adding a sampler is one class here with `@register` (and an `Options` dataclass if it takes
options); the contract test runs every entry.
Optuna loads a sampler's heavy dependency (GP: torch, CMA-ES: `cmaes`) only when the
sampler is built, so validating a config stays light.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import optuna

from workers.hpo.options import Options, boolean, integer, number, one_of, option

if TYPE_CHECKING:
    from workers.config import Named


class Sampler:
    """A named way to propose parameters."""

    name: str = ""
    options: type[Options] = Options  # its declared options (none by default)
    multi_objective = True  # whether it may drive a study with several metrics
    finite_space = False  # whether it needs a finite space (every param a list of values)

    def build(
        self, seed: int, options: Options, grid: dict[str, list]
    ) -> optuna.samplers.BaseSampler:
        """The Optuna sampler; `grid` holds every flat param's values when finite_space."""
        raise NotImplementedError

    def exhausted(self, sampler: optuna.samplers.BaseSampler, study: optuna.Study) -> bool:
        """True once the sampler has nothing new to propose."""
        return False


SAMPLERS: dict[str, Sampler] = {}


def register(cls: type[Sampler]) -> type[Sampler]:
    SAMPLERS[cls.name] = cls()
    return cls


def build_sampler(config: Named, seed: int, grid: dict[str, list]) -> optuna.samplers.BaseSampler:
    """The configured sampler (a checked config's, its options filled in), seeded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return SAMPLERS[config.name].build(seed, config.options, grid)


@dataclass(frozen=True)
class TPEOptions(Options):
    multivariate: bool = option(boolean(False))
    n_startup_trials: int = option(integer(10, 0))


@register
class TPE(Sampler):
    name = "tpe"
    options = TPEOptions

    def build(self, seed, options: TPEOptions, grid):
        return optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=options.n_startup_trials,
            multivariate=options.multivariate,
            # group=True lets multivariate TPE handle the conditional ("auto") spaces.
            group=options.multivariate,
        )


@register
class Random(Sampler):
    name = "random"

    def build(self, seed, options, grid):
        return optuna.samplers.RandomSampler(seed=seed)


class _GridSampler(optuna.samplers.GridSampler):
    # GridSampler calls study.stop() when the grid is done, which only works inside
    # study.optimize(); run_trials asks Grid.exhausted() instead.
    def after_trial(self, study, trial, state, values) -> None:
        pass


@register
class Grid(Sampler):
    """Every point of the space once, in a seeded order; needs a finite space."""

    name = "grid"
    finite_space = True

    def build(self, seed, options, grid):
        return _GridSampler(grid, seed=seed)

    def exhausted(self, sampler, study):
        return sampler.is_exhausted(study)


@dataclass(frozen=True)
class CmaEsOptions(Options):
    n_startup_trials: int = option(integer(1, 0))
    sigma0: float | None = option(number(None, 1e-6, 1e6, nullable=True))


@register
class CmaEs(Sampler):
    """CMA-ES on the numeric params; categorical ones are sampled at random."""

    name = "cmaes"
    multi_objective = False
    options = CmaEsOptions

    def build(self, seed, options: CmaEsOptions, grid):
        return optuna.samplers.CmaEsSampler(
            seed=seed, **options.to_json(), warn_independent_sampling=False
        )


@dataclass(frozen=True)
class GPOptions(Options):
    n_startup_trials: int = option(integer(10, 0))
    deterministic_objective: bool = option(boolean(False))


@register
class GP(Sampler):
    """Gaussian-process Bayesian optimisation (optuna's GPSampler; it uses torch)."""

    name = "gp"
    options = GPOptions

    def build(self, seed, options: GPOptions, grid):
        return optuna.samplers.GPSampler(
            seed=seed, **options.to_json(), warn_independent_sampling=False
        )


@dataclass(frozen=True)
class QMCOptions(Options):
    qmc_type: str = option(one_of("sobol", "sobol", "halton"))
    scramble: bool = option(boolean(True))


@register
class QMC(Sampler):
    """Quasi-Monte Carlo: a low-discrepancy sequence that covers the space evenly."""

    name = "qmc"
    options = QMCOptions

    def build(self, seed, options: QMCOptions, grid):
        return optuna.samplers.QMCSampler(
            seed=seed,
            **options.to_json(),
            warn_asynchronous_seeding=False,
            warn_independent_sampling=False,
        )


@dataclass(frozen=True)
class NSGA2Options(Options):
    population_size: int = option(integer(20, 2))
    crossover_prob: float = option(number(0.9, 0.0, 1.0))
    mutation_prob: float | None = option(number(None, 0.0, 1.0, nullable=True))


@register
class NSGA2(Sampler):
    """NSGA-II, the genetic algorithm for multi-objective studies (works for one, too)."""

    name = "nsga2"
    options = NSGA2Options

    def build(self, seed, options: NSGA2Options, grid):
        return optuna.samplers.NSGAIISampler(seed=seed, **options.to_json())
