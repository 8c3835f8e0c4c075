"""The strategy base classes, the registry, and what a strategy exchanges with the engine."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workers.hpo.options import Options
from workers.nas.spaces import SearchSpace
from workers.trial_log import TrialLog, log_context


@dataclass
class Candidate:
    """One evaluated architecture: a trial of the job.

    state is "complete" (trained, scored), "pruned" (rejected by a constraint, not trained)
    or "failed" (training raised).
    """

    number: int
    choices: list[int]
    genotype: dict
    state: str
    score: float | None = None  # validation accuracy after the proxy training
    cost: dict = field(default_factory=dict)  # {"params": n, "latency_ms": x}
    error: str = ""
    # DARTS: the epoch's softmax(α) per cell and its axes ({"epoch", "normal", "reduce",
    # "ops", "edges"}), kept with its trial so a running job's page draws them per epoch.
    alphas: dict = field(default_factory=dict)


@dataclass
class SearchOutcome:
    """What a search found; JSON-able through dataclasses.asdict."""

    genotype: dict | None
    score: float | None
    number: int | None  # the trial the genotype comes from
    n_complete: int = 0
    n_rejected: int = 0
    n_failed: int = 0
    alpha_history: list[dict] = field(default_factory=list)  # DARTS: softmax(α) per epoch
    alpha_axes: dict = field(default_factory=dict)  # DARTS: the ops and edges α indexes
    notes: dict = field(default_factory=dict)


class SearchContext:
    """What the engine gives a strategy: the space, the data, and trial bookkeeping."""

    space: SearchSpace
    seed: int
    history: list[Candidate]  # trials stored by an earlier run of this job (resume)
    next_number: int  # the first free trial number
    # Where a strategy that trains one long run (DARTS) keeps its checkpoint; None: nowhere.
    checkpoint_dir: Path | None = None

    def evaluate(self, number: int, choices: list[int]) -> Candidate:
        """Check the constraints, proxy-train, score; stored as trial `number`."""
        raise NotImplementedError

    def should_stop(self) -> bool:
        """True once the user cancelled or the job's time is up."""
        raise NotImplementedError

    def should_pause(self) -> bool:
        """True once the user paused the job: start no new candidate (or epoch); the
        job resumes later from the stored trials (or the checkpoint)."""
        return False

    def progress(self, fraction: float) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def capture(self, number: int) -> Iterator[TrialLog]:
        """What trial `number` prints and logs while the block runs (its log: `.text`
        after the block), with the trial's number in the worker's log records."""
        output = TrialLog()
        with log_context(trial=number), output.capture():
            yield output


class Strategy:
    """A named way to search a space; `search` runs it to the end of its budget."""

    name: str = ""
    options: type[Options] = Options  # its declared options
    spaces: tuple[str, ...] = ("cell", "macro", "mlp")
    # True if candidates may be proposed by several workers at once (`propose`).
    parallel: bool = False
    # The option counting the candidates it trains, which extending a job raises; None if
    # a started search cannot take more (`not_extendable` says why, to the user).
    budget_option: str | None = None
    not_extendable: str = ""

    def __init__(self, options: Options | None, space: SearchSpace, seed: int) -> None:
        self.opts = self.options() if options is None else options
        self.space = space
        self.seed = seed

    def search(self, ctx: Any) -> SearchOutcome:
        raise NotImplementedError


class SamplingStrategy(Strategy):
    """Proposes one encoded architecture at a time and learns from its proxy score.

    Subclasses implement budget, ask and tell. A job that resumes after its worker died
    replays its stored trials through tell, so the strategy continues where it was.
    Constraint-rejected and failed candidates are told with score None and do not count
    against the budget; at most 10 x budget + 50 are proposed in all.
    """

    budget_option = "candidates"

    def __init__(self, options: Options | None, space: SearchSpace, seed: int) -> None:
        super().__init__(options, space, seed)
        self.rng = random.Random(seed)

    def budget(self) -> int:
        """How many candidates to train."""
        raise NotImplementedError

    def ask(self) -> list[int]:
        raise NotImplementedError

    def tell(self, choices: list[int], score: float | None) -> None:
        """The proxy score of a candidate this strategy (or its earlier run) proposed."""

    def propose(self, finished: list[Candidate], position: int, rng: random.Random) -> list[int]:
        """One candidate for a worker of a parallel search (strategies with `parallel`).

        Args:
            finished: the complete candidates of every worker, in the order they finished.
            position: how many counted candidates (complete or still training) come
                before this one.
            rng: this candidate's own random stream.
        """
        raise NotImplementedError

    def search(self, ctx: SearchContext) -> SearchOutcome:
        seen = list(ctx.history)
        for candidate in seen:
            self.tell(candidate.choices, candidate.score)
        budget = self.budget()
        done = sum(c.state == "complete" for c in seen)
        number, proposals = ctx.next_number, 0
        while (
            done < budget
            and proposals < 10 * budget + 50
            and not ctx.should_stop()
            and not ctx.should_pause()
        ):
            choices = self.ask()
            candidate = ctx.evaluate(number, choices)
            self.tell(choices, candidate.score)
            seen.append(candidate)
            number, proposals = number + 1, proposals + 1
            done += candidate.state == "complete"
            ctx.progress(done / budget)
        return outcome_of(seen)


def outcome_of(candidates: list[Candidate]) -> SearchOutcome:
    """The best complete candidate (the first of equals) and the counts."""
    complete = [c for c in candidates if c.state == "complete" and c.score is not None]
    best = max(complete, key=lambda c: c.score, default=None)
    return SearchOutcome(
        genotype=best.genotype if best else None,
        score=best.score if best else None,
        number=best.number if best else None,
        n_complete=len(complete),
        n_rejected=sum(c.state == "pruned" for c in candidates),
        n_failed=sum(c.state == "failed" for c in candidates),
    )


STRATEGIES: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    STRATEGIES[cls.name] = cls
    return cls
