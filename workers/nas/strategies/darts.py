"""DARTS over the cell space: one supernet, α and weights trained in alternation.

Each epoch is stored as a trial: the cell derived from α at that epoch, the supernet's
validation accuracy, and its training curve. The α history (softmax per edge and operation,
per cell type and epoch) goes into the job's result for the heatmap.

Skip-connection collapse guard: `skip_guard: "cap"` (the default) derives at most
`max_skips` skip connections per cell (see workers/nas/darts.py derive_cell); "none" turns
it off. Constraints are not enforced during the search (the supernet has every operation):
the derived cell's parameters and latency are measured and reported against them.

Checkpoints: with a checkpoint (ctx.checkpoint), every finished epoch is saved there
after its trial is stored: the supernet's weights and α, both optimizers' states, the
learning-rate schedule, the batch-order generator and torch's RNG, the α history and the
epochs' candidates. A paused job (the pause is seen between epochs) or one whose worker
died resumes at the epoch after the last one saved, on any worker, and numbers its trials
on from there; a worker lost mid-epoch loses only that epoch. A checkpoint of other
options or seed (none should exist) is ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

from workers.hpo.options import Options, integer, number, one_of, option
from workers.nas.strategies._base import Candidate, SearchOutcome, Strategy, register

CHECKPOINT = "darts.pt"


@dataclass(frozen=True)
class DartsOptions(Options):
    order: int = option(one_of(1, 1, 2))
    epochs: int = option(integer(10, 1, 1000))
    w_lr: float = option(number(0.025, 1e-5, 1.0))
    w_lr_min: float = option(number(0.001, 0.0, 1.0))
    w_momentum: float = option(number(0.9, 0.0, 0.999))
    w_weight_decay: float = option(number(3e-4, 0.0, 1.0))
    arch_lr: float = option(number(3e-3, 1e-6, 1.0))
    arch_weight_decay: float = option(number(1e-3, 0.0, 1.0))
    batch_size: int = option(integer(64, 2, 4096))
    skip_guard: str = option(one_of("cap", "cap", "none"))
    max_skips: int = option(integer(2, 0, 32))
    grad_clip: float = option(number(5.0, 0.0, 1e6))


@register
class Darts(Strategy):
    name = "darts"
    spaces = ("cell",)
    options = DartsOptions
    # Its checkpoint's learning-rate schedule anneals to w_lr_min at the last of `epochs`:
    # epochs added after it would train on a schedule that no longer fits (the cosine
    # climbs again), so a checkpoint cannot be extended cleanly.
    not_extendable = (
        "a DARTS search anneals its learning rate over the epochs it was given, so it "
        "cannot take more from its checkpoint; submit a new job with more epochs"
    )

    def search(self, ctx) -> SearchOutcome:
        import torch
        from torch import nn
        from torch.nn import functional as F

        from workers.checkpoint import at
        from workers.nas.darts import Architect, SuperNet, count_skips, edges_of
        from workers.training.loop import PROGRESS_PER_EPOCH

        o, space, data = self.opts, self.space, ctx.data
        torch.manual_seed(self.seed)
        net = SuperNet(
            space.opts.ops,
            data.input_shape[0],
            data.n_classes,
            space.opts.channels,
            space.opts.cells,
            space.opts.nodes,
            space.frame()["reduce_at"],
        ).to(ctx.device)
        weights = [p for _, p in net.weight_items()]
        w_opt = torch.optim.SGD(
            weights, lr=o.w_lr, momentum=o.w_momentum, weight_decay=o.w_weight_decay
        )
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(w_opt, o.epochs, eta_min=o.w_lr_min)
        architect = Architect(
            net,
            order=o.order,
            lr=o.arch_lr,
            weight_decay=o.arch_weight_decay,
            w_weight_decay=o.w_weight_decay,
        )
        xt, yt = ctx.tensors("train")
        xv, yv = ctx.tensors("valid")
        gen = torch.Generator().manual_seed(self.seed)
        max_skips = o.max_skips if o.skip_guard == "cap" else None
        ops = space.opts.ops
        history, candidates, curve = [], [], {}
        first, base, resumes = 0, ctx.next_number, []
        checkpoint = at(ctx.checkpoint_dir, CHECKPOINT)
        key = {**o.to_json(), "seed": self.seed, "space": space.opts.to_json()}
        saved = checkpoint.load() if checkpoint is not None else None
        if saved is not None and saved["key"] == key:
            net.load_state_dict(saved["net"])
            w_opt.load_state_dict(saved["w_opt"])
            architect.optimizer.load_state_dict(saved["arch_opt"])
            schedule.load_state_dict(saved["schedule"])
            gen.set_state(saved["generator"])
            torch.set_rng_state(saved["torch_rng"])
            records = json.loads(saved["records"])
            history, candidates = records["history"], [Candidate(**c) for c in records["trials"]]
            curve = {int(epoch): value for epoch, value in records["curve"].items()}
            first, base = saved["epoch"] + 1, saved["base_number"]
            resumes = [*saved["resumes"], first]
        axes = {
            "ops": list(ops),
            "edges": [f"{inp}->{node + 2}" for node, inp in edges_of(space.opts.nodes)],
        }
        batch = o.batch_size
        steps = max(1, math.ceil(len(xt) / batch))
        for epoch in range(first, o.epochs):
            # A pause takes effect here, between epochs: the last one is checkpointed.
            if ctx.should_stop() or ctx.should_pause():
                break
            # --- one pass: an α step on a validation batch, then a w step on a train batch
            with ctx.capture(base + epoch) as output:  # the epoch's trial log
                net.train()
                order_t = torch.randperm(len(xt), generator=gen).to(ctx.device)
                order_v = torch.randperm(len(xv), generator=gen).to(ctx.device)
                lr = schedule.get_last_lr()[0]
                stopped = False
                for step in range(steps):
                    # A second-order epoch can take minutes on a loaded CPU: cancel and the
                    # job's timeout are checked, and progress shown, inside it.
                    if stopped := ctx.should_stop():
                        break
                    if (step + 1) % max(1, steps // PROGRESS_PER_EPOCH) == 0:
                        ctx.progress((epoch + step / steps) / o.epochs)
                    it = order_t[step * batch : (step + 1) * batch]
                    start_v = (step * batch) % len(xv)
                    iv = order_v[start_v : start_v + batch]
                    reused = architect.step(xt[it], yt[it], xv[iv], yv[iv], xi=lr)
                    w_opt.zero_grad(set_to_none=True)
                    if reused is None:
                        F.cross_entropy(net(xt[it]), yt[it]).backward()
                    else:
                        # Second order: the gradient the unrolled step took on this batch,
                        # one α step old; it saves a fifth forward/backward pass per step.
                        for w, g in zip(weights, reused, strict=True):
                            w.grad = g
                    if o.grad_clip > 0:
                        nn.utils.clip_grad_norm_(weights, o.grad_clip)
                    w_opt.step()
                if stopped:  # a partial epoch is not stored as a trial
                    break
            schedule.step()

            # --- score the supernet, derive the cell, store the epoch as a trial
            accuracy = ctx.accuracy(net, xv, yv)
            curve[epoch] = accuracy
            snapshot = net.alpha_snapshot()
            history.append({"epoch": epoch, **snapshot})
            genotype = self.derive(snapshot, ops, max_skips)
            candidate = Candidate(
                number=base + epoch,
                choices=[],
                genotype=genotype,
                state="complete",
                score=accuracy,
                alphas={"epoch": epoch, **snapshot, **axes},
            )
            ctx.store(candidate, dict(curve), output.text)
            candidates.append(candidate)
            if checkpoint is not None:
                # After the trial is stored: an epoch replayed after a crash between the
                # two rewrites its own trial, while one saved but not stored would be lost.
                checkpoint.save(
                    {
                        "key": key,
                        "epoch": epoch,
                        "base_number": base,
                        "resumes": resumes,
                        "net": net.state_dict(),
                        "w_opt": w_opt.state_dict(),
                        "arch_opt": architect.optimizer.state_dict(),
                        "schedule": schedule.state_dict(),
                        "generator": gen.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        # JSON text: the epochs' records need not be types torch loads.
                        "records": json.dumps(
                            {
                                "history": history,
                                "curve": curve,
                                "trials": [dataclasses.asdict(c) for c in candidates],
                            }
                        ),
                    }
                )
            ctx.progress((epoch + 1) / o.epochs)

        if not candidates:
            return SearchOutcome(genotype=None, score=None, number=None)
        last = candidates[-1]  # DARTS derives from the final α, not the best epoch
        unguarded = self.derive(history[-1], ops, None)
        return SearchOutcome(
            genotype=last.genotype,
            score=last.score,
            number=last.number,
            n_complete=len(candidates),
            alpha_history=history,
            alpha_axes=axes,
            notes={
                "order": o.order,
                "skip_guard": o.skip_guard,
                "skips": count_skips(last.genotype["normal"]),
                "skips_unguarded": count_skips(unguarded["normal"]),
                # The epochs each resumed run started at (from its checkpoint).
                "resumed_at_epochs": resumes,
            },
        )

    def derive(self, snapshot: dict, ops: list[str], max_skips: int | None) -> dict:
        from workers.nas.darts import derive_cell

        genotype = self.space.frame()
        nodes = genotype["nodes"]
        genotype["normal"] = derive_cell(snapshot["normal"], ops, nodes, max_skips)
        genotype["reduce"] = (
            derive_cell(snapshot["reduce"], ops, nodes, max_skips) if "reduce" in snapshot else []
        )
        return genotype
