"""Runs a NAS job: search, then retrain the found architecture from scratch and save it.

Before any search a seeded, stratified test split (`test_size`) is held out; the rest is
split into training and validation rows (`valid_size`). Candidates train on the training
rows and are scored on the validation rows; DARTS trains weights on the first and α on the
second. The found genotype is retrained from scratch on training + validation rows and
scored once on the test rows, through the same predictor that load_model returns, so the
stored test accuracy is what the saved model gives.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from workers import failures
from workers.config import to_json
from workers.data.splits import held_out_rows
from workers.data.tabular import TabularData
from workers.models.artifacts import data_spec
from workers.nas.config import Constraints, NASConfig
from workers.nas.spaces import make_space
from workers.nas.strategies import STRATEGIES, Candidate, SearchContext, SearchOutcome
from workers.reporter import Reporter, TrialRecord
from workers.training.genotype import GenotypeConfig, GenotypeNetwork, train_classifier
from workers.training.loop import Hooks
from workers.training.measure import count_params, forward_ms, outputs, resolve_device
from workers.training.stopping import StopCheck, Stopped

LATENCY_RUNS = 10
log = logging.getLogger(__name__)


class NasError(Exception):
    """The job cannot produce a result (e.g. no candidate could be trained)."""


# --- data


@dataclass
class Prepared:
    """The job's rows: float32 inputs shaped for the space, class indices, three splits."""

    X: dict[str, np.ndarray]  # "train", "valid", "test", and "search" (train + valid)
    y: dict[str, np.ndarray]
    input_shape: list[int]  # [C, H, W] or [n_features]
    classes: list
    raw_test: np.ndarray  # the test rows as the data set stores them (what predict gets)
    raw_search: np.ndarray | None = None  # the rows trained on, as stored (drift reference)
    data_spec: dict = field(default_factory=dict)  # features and class labels of the data
    # An uploaded table's preprocessing, fitted on the rows searched: raw rows -> numbers.
    transformer: Any = None

    def model_rows(self, raw: np.ndarray) -> np.ndarray:
        """Rows as stored -> what the network's predictor takes (after the preprocessing)."""
        return raw if self.transformer is None else self.transformer.transform(raw)

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def image_shape(config: NASConfig, X: np.ndarray) -> list[int]:
    """[C, H, W]: the config's, the array's own, or 1 x k x k for rows of k*k values."""
    if config.image_shape:
        return list(config.image_shape)
    if X.ndim == 4:
        return list(X.shape[1:])
    if X.ndim == 3:
        return [1, *X.shape[1:]]
    side = math.isqrt(X.shape[1])
    if side * side != X.shape[1]:
        raise NasError(f"rows of {X.shape[1]} values are not square images; give image_shape")
    return [1, side, side]


def prepare(config: NASConfig, data: TabularData) -> Prepared:
    classes, y = np.unique(np.asarray(data.y), return_inverse=True)
    raw = np.asarray(data.X)
    seed = config.seed
    search, test = held_out_rows(y, config.test_size, seed, stratify=True)
    train, valid = held_out_rows(y, config.valid_size, seed, stratify=True, rows=search)
    transformer = None
    numbers = raw
    if config.space.name == "mlp" and data.make_transformer is not None:
        # An uploaded table (categories, gaps, dates): its preprocessing with the default
        # options, fitted on the rows searched (never the test rows), as HPO's refit does.
        transformer = data.make_transformer({}).fit(raw[search], np.asarray(data.y)[search])
        numbers = transformer.transform(raw)
    if config.space.name == "mlp":
        shape = [int(np.prod(numbers.shape[1:]))]
    else:
        shape = image_shape(config, raw)
    X = np.asarray(numbers, dtype=np.float32).reshape(len(raw), *shape)
    parts = {"train": train, "valid": valid, "test": test, "search": search}
    return Prepared(
        X={k: X[v] for k, v in parts.items()},
        y={k: y[v].astype(np.int64) for k, v in parts.items()},
        input_shape=[int(s) for s in shape],
        classes=classes.tolist(),
        raw_test=raw[test],
        raw_search=raw[search],
        data_spec=data_spec(
            list(data.feature_names),
            data.classes,
            target=getattr(data, "target_name", None),
            dropped=(data.preprocessing or {}).get("drop"),
        ),
        transformer=transformer,
    )


def _scaling(config: NASConfig, X: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Tabular inputs are standardised (statistics from the rows trained on); images are
    not: every image network starts with BatchNorm after its first convolution."""
    if config.space.name != "mlp":
        return None
    mean, std = X.mean(axis=0), X.std(axis=0)
    return mean, np.where(std > 0, std, 1.0).astype(np.float32)


# --- the context strategies search in


class NasContext(SearchContext):
    def __init__(
        self,
        config: NASConfig,
        prepared: Prepared,
        reporter: Reporter,
        device: torch.device,
        history: list[Candidate],
        checkpoint_dir: Path | None = None,
    ) -> None:
        self.config, self.data, self.reporter, self.device = config, prepared, reporter, device
        self.space = make_space(config)
        self.seed = config.seed
        self.history = [c for c in history if c.state != "failed"]
        self.next_number = max((c.number for c in history), default=-1) + 1
        self.checkpoint_dir = checkpoint_dir
        self.cancelled = self.timed_out = self.paused = False
        self._started = time.monotonic()
        self._completed = sum(c.state == "complete" for c in self.history)
        scaling = _scaling(config, prepared.X["train"])
        self._tensors = {}
        for part in ("train", "valid"):
            X = prepared.X[part]
            if scaling is not None:
                X = (X - scaling[0]) / scaling[1]
            self._tensors[part] = (
                torch.as_tensor(X, dtype=torch.float32, device=device),
                torch.as_tensor(prepared.y[part], device=device),
            )

    def tensors(self, part: str) -> tuple[torch.Tensor, torch.Tensor]:
        """("train" | "valid") inputs and class indices on the device, standardised if tabular."""
        return self._tensors[part]

    def accuracy(self, module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
        return float((outputs(module, x).argmax(dim=-1) == y).float().mean())

    def build(self, genotype: dict) -> GenotypeNetwork:
        return GenotypeNetwork(
            GenotypeConfig(genotype, self.data.input_shape, self.data.n_classes)
        )

    def measure(self, module: torch.nn.Module) -> dict:
        """Parameters, and the median latency of one row's forward pass on this worker."""
        return {"params": count_params(module), "latency_ms": latency_ms(module, self.device)}

    def violations(self, cost: dict) -> list[str]:
        return violations(self.config.constraints, cost)

    def evaluate(self, number: int, choices: list[int]) -> Candidate:
        genotype = self.space.decode(choices)
        torch.manual_seed(self.seed + number)
        module = self.build(genotype).to(self.device)
        cost = self.measure(module)
        params = {"genotype": genotype, "encoding": list(choices), "cost": cost}
        self.reporter.trial_started(number, params)
        if problems := self.violations(cost):
            error = "rejected: " + "; ".join(problems)
            self.reporter.trial_finished(number, "pruned", params, None, {}, error)
            return Candidate(number, list(choices), genotype, "pruned", cost=cost, error=error)
        xt, yt = self.tensors("train")
        xv, yv = self.tensors("valid")
        proxy, training = self.config.proxy, self.config.training
        if proxy.subset < 1.0:  # a seeded share of the training rows
            keep = max(2, math.ceil(proxy.subset * len(xt)))
            rows = torch.randperm(len(xt), generator=torch.Generator().manual_seed(number))[:keep]
            xt, yt = xt[rows.to(self.device)], yt[rows.to(self.device)]
        curve: dict[int, float] = {}

        def on_epoch(epoch: int) -> None:
            curve[epoch] = self.accuracy(module, xv, yv)
            self.reporter.trial_reported(number, epoch, curve[epoch])

        error, failure = "", ""
        with self.capture(number) as output:  # the trial's log
            try:
                train_classifier(
                    module,
                    xt,
                    yt,
                    epochs=proxy.epochs,
                    lr=training.lr,
                    batch_size=training.batch_size,
                    weight_decay=training.weight_decay,
                    seed=self.seed + number,
                    hooks=Hooks(on_epoch, stop=self.stop_check()),
                    options=self.config.trainer,
                )
            # One bad candidate (e.g. out of memory) ends only itself; a cancel or the job's
            # timeout inside its training (Stopped) ends it too, and the search stops after.
            except Exception as exc:
                error, failure = f"{type(exc).__name__}: {exc}", failures.classify(exc)
                log.warning("failed (%s)", failure, exc_info=True)  # ids: log_context
        self.reporter.trial_record(number, TrialRecord(failure_class=failure, log=output.text))
        if error:
            self.reporter.trial_finished(number, "failed", params, None, curve, error)
            return Candidate(number, list(choices), genotype, "failed", cost=cost, error=error)
        score = curve[max(curve)]
        self._completed += 1
        self.reporter.trial_finished(number, "complete", params, [score], curve)
        return Candidate(number, list(choices), genotype, "complete", score, cost)

    def store(self, candidate: Candidate, curve: dict[int, float], log: str = "") -> None:
        """Record a candidate a strategy evaluated itself (DARTS: one per epoch), with
        what it printed (capture)."""
        params = {
            "genotype": candidate.genotype,
            "encoding": candidate.choices,
            "cost": candidate.cost,
        }
        if candidate.alphas:
            params["alphas"] = candidate.alphas
        self.reporter.trial_started(candidate.number, params)
        self.reporter.trial_record(candidate.number, TrialRecord(log=log))
        self.reporter.trial_finished(
            candidate.number, candidate.state, params, [candidate.score], curve
        )

    def should_stop(self) -> bool:
        timeout = self.config.timeout_s
        if timeout is not None and time.monotonic() - self._started > timeout:
            self.timed_out = True
        if self.reporter.should_stop():
            self.cancelled = True
        return self.cancelled or self.timed_out

    def should_pause(self) -> bool:
        self.paused = self.paused or self.reporter.should_pause()
        return self.paused

    def stop_check(self) -> StopCheck:
        """Cancel and timeout_s, for the training inside one candidate. The timeout cuts
        a candidate only once one has completed, so that a timed-out search still has an
        architecture to retrain (as between candidates)."""
        timeout = self.config.timeout_s
        deadline = None if timeout is None or not self._completed else self._started + timeout
        return StopCheck(self.reporter.should_stop, deadline, f"timeout_s={timeout}")

    def progress(self, fraction: float) -> None:
        # The search is 90 % of the job; retraining the found architecture the rest.
        self.reporter.progress(0.9 * min(fraction, 1.0))


def violations(limits: Constraints, cost: dict) -> list[str]:
    """What `cost` ({"params", "latency_ms"}) breaks of the config's constraints."""
    out = []
    if limits.max_params is not None and cost["params"] > limits.max_params:
        out.append(f"{cost['params']} parameters > max_params {limits.max_params:g}")
    if limits.max_latency_ms is not None and cost["latency_ms"] > limits.max_latency_ms:
        out.append(
            f"latency {cost['latency_ms']:.3f} ms > max_latency_ms {limits.max_latency_ms:g}"
        )
    return out


def latency_ms(module: GenotypeNetwork, device: torch.device) -> float:
    """Median milliseconds of one row's forward pass (after a warm-up), on `device`."""
    x = torch.zeros(1, *module.config.input_shape, device=device)
    return forward_ms(module, x, repeats=LATENCY_RUNS)


def candidate_from_trial(number: int, state: str, params: dict, values: list | None) -> Candidate:
    """A stored trial as the Candidate it recorded (to resume a search)."""
    return Candidate(
        number=number,
        choices=list(params.get("encoding") or []),
        genotype=params.get("genotype") or {},
        state=state,
        score=values[0] if values and values[0] is not None else None,
        cost=params.get("cost") or {},
    )


# --- the job


def run_nas(
    config: NASConfig,
    data: TabularData,
    reporter: Reporter,
    *,
    directory: Path | None = None,
    history: list[Candidate] | None = None,
    device: str = "auto",
    checkpoint_dir: Path | None = None,
) -> dict:
    """Search, retrain the found architecture and (with a directory) save it; or, when
    the reporter asks for a pause, stop between candidates (DARTS: between epochs) and
    return {"paused": True}: run again with the stored trials as `history` (and the same
    checkpoint_dir), it goes on from there.

    Args:
        config: a config checked by validate_nas_config.
        data: the data set's rows.
        reporter: receives every candidate as a trial, and progress.
        directory: where the retrained model is saved (save_model), or None.
        history: candidates stored by an earlier run of this job: the search resumes.
        device: "auto" (CUDA when present), "cpu" or "cuda".
        checkpoint_dir: where a DARTS search checkpoints every epoch (and resumes from).

    Returns:
        The job's result (JSON-able): best, genotype, cost, alpha history, retrain.
    """
    prepared = prepare(config, data)
    dev = resolve_device(device)
    ctx = NasContext(config, prepared, reporter, dev, history or [], checkpoint_dir)
    strategy = STRATEGIES[config.strategy.name](config.strategy.options, ctx.space, config.seed)
    started = time.monotonic()
    outcome: SearchOutcome = strategy.search(ctx)
    if ctx.paused and not ctx.cancelled:
        return {"paused": True, "n_complete": outcome.n_complete}
    return conclude(
        config,
        prepared,
        outcome,
        dev,
        reporter,
        directory=directory,
        stopped=ctx.cancelled,
        timed_out=ctx.timed_out,
        search_s=time.monotonic() - started,
    )


def conclude(
    config: NASConfig,
    prepared: Prepared,
    outcome: SearchOutcome,
    device: torch.device,
    reporter: Reporter,
    *,
    directory: Path | None,
    stopped: bool,
    timed_out: bool,
    search_s: float,
) -> dict:
    """The job's result from a finished search: unless it was stopped, the found
    architecture is measured against the constraints, retrained and (with a directory)
    saved. NasError if no candidate was trained."""
    result = {
        "strategy": config.strategy.name,
        "space": config.space.name,
        "metric": "accuracy",
        "device": str(device),
        "stopped": stopped,
        "timed_out": timed_out,
        "search_seconds": round(search_s, 3),
        "n_complete": outcome.n_complete,
        "n_rejected": outcome.n_rejected,
        "n_failed": outcome.n_failed,
        "best": {"number": outcome.number, "score": outcome.score},
        "genotype": outcome.genotype,
        "alpha_history": outcome.alpha_history,
        "alpha_axes": outcome.alpha_axes,
        "notes": outcome.notes,
    }
    if stopped:
        return result
    if outcome.genotype is None:
        raise NasError(
            "no candidate architecture was trained: every one was rejected by "
            "the constraints or failed (see the trials)"
        )
    module = GenotypeNetwork(
        GenotypeConfig(outcome.genotype, prepared.input_shape, prepared.n_classes)
    )
    cost = {"params": count_params(module), "latency_ms": latency_ms(module.to(device), device)}
    limits = config.constraints
    result["cost"] = {**cost, **to_json(limits), "violations": violations(limits, cost)}
    try:
        result["retrain"] = retrain(config, prepared, outcome, device, directory, reporter)
    except Stopped:  # cancelled while retraining: nothing is saved
        result["stopped"] = True
        return result
    reporter.progress(1.0)
    return result


def retrain(
    config: NASConfig,
    prepared: Prepared,
    outcome: SearchOutcome,
    device: torch.device,
    directory: Path | None,
    reporter: Reporter,
) -> dict:
    """Train the genotype from scratch on train + valid rows; score and save it. The
    reporter sees its progress (the last tenth of the job's) and may cancel it."""
    from workers.models.artifacts import TorchPredictor, save_version

    started = time.monotonic()
    gconfig = GenotypeConfig(outcome.genotype, prepared.input_shape, prepared.n_classes)
    torch.manual_seed(config.seed)
    module = GenotypeNetwork(gconfig).to(device)
    X = prepared.X["search"]
    scaling = _scaling(config, X)
    if scaling is not None:
        X = (X - scaling[0]) / scaling[1]
    training = config.training
    train_classifier(
        module,
        torch.as_tensor(X, dtype=torch.float32, device=device),
        torch.as_tensor(prepared.y["search"], device=device),
        epochs=config.retrain.epochs,
        lr=training.lr,
        batch_size=training.batch_size,
        weight_decay=training.weight_decay,
        seed=config.seed,
        hooks=Hooks(
            on_progress=lambda f: reporter.progress(0.9 + 0.1 * f),
            stop=StopCheck(reporter.should_stop),
        ),
        options=config.trainer,
    )
    spec = {
        "kind": "genotype",
        "config": asdict(gconfig),
        "task": "classification",
        "classes": prepared.classes,
        **prepared.data_spec,
        "nas": {
            "strategy": config.strategy.to_json(),
            "space": config.space.to_json(),
            "trial": outcome.number,
            "search_score": outcome.score,
            "seed": config.seed,
        },
    }
    if scaling is not None:
        spec["input_mean"], spec["input_std"] = scaling[0].tolist(), scaling[1].tolist()
    # Scored through the predictor load_model returns, on the CPU, on the rows as stored.
    predictor = TorchPredictor(module.cpu(), spec)
    predicted = predictor.predict(prepared.model_rows(prepared.raw_test))
    truth = np.asarray(prepared.classes)[prepared.y["test"]]
    test_metrics = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
        "f1_macro": float(f1_score(truth, predicted, average="macro")),
    }
    files: list[str] = []
    if directory is not None:
        spec["test_metrics"] = test_metrics
        files = save_version(
            predictor,
            Path(directory),
            family="nas",
            spec=spec,
            transformer=prepared.transformer,
            rows=prepared.raw_search,
        )
    return {
        "test_metrics": test_metrics,
        "test_rows": int(len(truth)),
        "params": count_params(module),
        "epochs": config.retrain.epochs,
        "seconds": round(time.monotonic() - started, 3),
        "files": files,
        "directory": str(directory) if directory is not None else None,
    }
