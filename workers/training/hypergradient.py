"""Adam that tunes its own learning rate by hypergradient descent (Adam-HD).

Baydin, Cornish, Martinez Rubio, Schmidt and Wood (2018), "Online Learning Rate Adaptation
with Hypergradient Descent", ICLR 2018 (arXiv:1703.04782).

Write one step as ``theta_t = theta_{t-1} + alpha * u_{t-1}``, where u is the update
direction before scaling by the learning rate alpha (for Adam
``u = -m_hat / (sqrt(v_hat) + eps)``). Since ``d f(theta_t) / d alpha = g_t . u_{t-1}``,
each step first moves alpha against that derivative, then takes the step with the new alpha:

    h_t     = g_t . u_{t-1}             (dot product over every parameter of the group)
    alpha_t = alpha_{t-1} - beta * h_t  (beta is ``hypergrad_lr``)

alpha grows while successive steps agree with the gradient and shrinks when they point
against it (overshooting). alpha is kept non-negative, a guard the paper does not need in
its experiments. Each parameter group adapts its own
alpha, readable (and settable) as ``param_groups[i]["lr"]``.

Weight decay is decoupled (as in AdamW): ``-weight_decay * theta`` joins the direction u,
so the hypergradient also sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.optim import Optimizer


class HypergradientAdam(Optimizer):
    """Adam-HD: Adam whose lr follows ``alpha_t = alpha_{t-1} - beta * g_t . u_{t-1}``.

    with ``u = -m_hat / (sqrt(v_hat) + eps)`` the bias-corrected Adam direction.

    Args:
        params: parameters (or parameter groups) to optimize.
        lr: initial learning rate alpha_0.
        betas: decay rates of the first and second moment estimates.
        eps: added to sqrt(v_hat) for numerical stability.
        hypergrad_lr: beta, the learning rate of the learning rate (paper: 1e-7 for Adam-HD;
            the hypergradient sums over every parameter, so larger models want smaller beta).
        weight_decay: decoupled weight decay coefficient (AdamW-style).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        hypergrad_lr: float = 1e-7,
        weight_decay: float = 0.0,
    ) -> None:
        if lr < 0 or hypergrad_lr < 0 or weight_decay < 0 or eps < 0:
            raise ValueError("lr, eps, hypergrad_lr and weight_decay must be non-negative")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "hypergrad_lr": hypergrad_lr,
            "weight_decay": weight_decay,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]

            # --- hypergradient of the loss with respect to lr: g_t . u_{t-1}
            h = 0.0
            for p in params:
                prev = self.state[p].get("prev_direction")
                if prev is not None:
                    h += float(torch.sum(p.grad * prev))
            group["lr"] = max(0.0, group["lr"] - group["hypergrad_lr"] * h)

            # --- parameter step with the adapted lr
            for p in params:
                direction = self._direction(p, group)
                if group["weight_decay"]:
                    direction = direction - group["weight_decay"] * p
                p.add_(direction, alpha=group["lr"])
                self.state[p]["prev_direction"] = direction
        return loss

    def _direction(self, p: torch.Tensor, group: dict) -> torch.Tensor:
        """The unscaled update direction u for p (the step is lr * u)."""
        state = self.state[p]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        beta1, beta2 = group["betas"]
        state["step"] += 1
        state["exp_avg"].mul_(beta1).add_(p.grad, alpha=1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
        m_hat = state["exp_avg"] / (1 - beta1 ** state["step"])
        v_hat = state["exp_avg_sq"] / (1 - beta2 ** state["step"])
        return -m_hat / (v_hat.sqrt() + group["eps"])
