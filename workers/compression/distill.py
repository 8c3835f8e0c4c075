"""Knowledge distillation: response (softened outputs), feature (a hint layer through a
learned projection) and relation (distances and angles between samples) losses, from one
teacher or several averaged, into a student given as a spec or as the teacher shrunk."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from workers.compression.common import Compressed, CompressionError, Splits, train
from workers.models.kinds import build_torch, kind_of
from workers.training.stopping import StopCheck

if TYPE_CHECKING:  # the export bundle carries this module without the configs
    from workers.compression.config import DistillOptions


def student_spec(teacher: dict, student: dict) -> dict:
    """The student's spec: the teacher's kind at `shrink` times its width, or a config."""
    if "config" in student:
        return {**teacher, "config": student["config"]}
    kind = kind_of(teacher)
    try:
        cfg = kind.shrunk_config(teacher["config"], student["shrink"])
    except NotImplementedError:
        raise CompressionError(
            f"a shrunk student needs a teacher whose width is known, not a {kind.label}; "
            "give the student's config instead"
        ) from None
    return {**teacher, "config": cfg}


class Penultimate:
    """Records the input of a module's last Linear (the features its head sees)."""

    def __init__(self, module: nn.Module) -> None:
        head = [m for m in module.modules() if isinstance(m, nn.Linear)]
        if not head:
            raise CompressionError("feature and relation distillation need a Linear head")
        self.value: torch.Tensor | None = None
        self.dim = head[-1].in_features
        head[-1].register_forward_pre_hook(self._hook)

    def _hook(self, module: nn.Module, args: tuple) -> None:
        self.value = args[0]


def _pairwise(e: torch.Tensor) -> torch.Tensor:
    d = torch.cdist(e, e)
    return d / d[d > 0].mean().clamp_min(1e-8)


def _angles(e: torch.Tensor) -> torch.Tensor:
    diff = F.normalize(e[None, :, :] - e[:, None, :], p=2, dim=2)  # (N, N, D)
    return torch.bmm(diff, diff.transpose(1, 2)).reshape(-1)


def relation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """RKD (Park et al., 2019): distance-wise plus angle-wise, Huber on each."""
    distance = F.smooth_l1_loss(_pairwise(student), _pairwise(teacher))
    angle = F.smooth_l1_loss(_angles(student), _angles(teacher))
    return distance + 2.0 * angle


def distill(
    teachers: list[Compressed],
    splits: Splits,
    step: DistillOptions,
    seed: int,
    *,
    device: torch.device | None = None,
    stop: StopCheck | None = None,
) -> Compressed:
    """Train a fresh student against the teachers' averaged outputs (and features), on
    `device` (the CPU by default)."""
    device = device or torch.device("cpu")
    base = teachers[0]
    spec = student_spec(base.spec, step.student)
    torch.manual_seed(seed)
    try:
        student = build_torch(spec)
    except ValueError as exc:
        raise CompressionError(f"student: {exc}") from exc
    x, y = splits.x["train"], splits.y["train"]
    T, alpha, mode = step.temperature, step.alpha, step.mode

    # Teachers are fixed: their soft targets and features are computed once.
    hooks = [Penultimate(t.module) if mode != "response" else None for t in teachers]
    with torch.no_grad():
        probs, feats = [], []
        for t, hook in zip(teachers, hooks, strict=True):
            probs.append(F.softmax(t.logits(x) / T, dim=1))
            if hook is not None:
                feats.append(
                    torch.cat(
                        [_features(t, hook, x[i : i + 1024]) for i in range(0, len(x), 1024)]
                    )
                )
    # The loss indexes these by the batch's rows, on the device the student trains on.
    soft = torch.stack(probs).mean(0).to(device)
    feats = [f.to(device) for f in feats]

    # One learned projection per teacher: teachers may differ in width (a pruned one).
    s_hook = Penultimate(student) if mode != "response" else None
    projections = (
        [nn.Linear(s_hook.dim, f.shape[1]).to(device) for f in feats] if mode == "feature" else []
    )
    extra = [p for proj in projections for p in proj.parameters()]

    def loss_fn(module: nn.Module, xb: torch.Tensor, yb: torch.Tensor, idx: torch.Tensor):
        out = module(xb)
        hard = F.cross_entropy(out, yb)
        kd = F.kl_div(F.log_softmax(out / T, dim=1), soft[idx], reduction="batchmean") * T * T
        loss = alpha * kd + (1 - alpha) * hard
        if mode == "feature":
            loss = loss + sum(
                F.mse_loss(proj(s_hook.value), f[idx])
                for proj, f in zip(projections, feats, strict=True)
            ) / len(feats)
        elif mode == "relation" and len(idx) > 2:
            loss = loss + sum(relation_loss(s_hook.value, f[idx]) for f in feats) / len(feats)
        return loss

    train(
        student,
        x,
        y,
        epochs=step.epochs,
        lr=step.lr,
        batch_size=step.batch_size,
        seed=seed,
        loss=loss_fn,
        extra_params=extra,
        device=device,
        stop=stop,
    )
    return Compressed(student.eval(), spec)


def _features(model: Compressed, hook: Penultimate, x: torch.Tensor) -> torch.Tensor:
    model.logits(x)
    return hook.value.float()
