"""DARTS (Liu et al., 2019): a differentiable supernet, its architect, and derivation.

Every edge of a cell is a mixed operation: the softmax(α)-weighted sum of every candidate
operation. Network weights w are trained on the training split and α on the validation
split, in alternation. The first-order architect takes ∇α L_val(w, α); the second-order
one differentiates through one unrolled weight step, w' = w − ξ ∇w L_train(w, α):

    ∇α L_val(w', α) − ξ ∇²α,w L_train(w, α) ∇w' L_val(w', α)

with the Hessian-vector product taken by central finite differences at w ± ε ∇w' L_val.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from workers.training.genotype import Stem, cell_preprocess, make_op

SKIP = "skip_connect"


class MixedOp(nn.Module):
    def __init__(self, ops: list[str], c: int, stride: int) -> None:
        super().__init__()
        # affine=False as in DARTS: learned BN scales would blur the α comparison.
        self.ops = nn.ModuleList(make_op(op, c, stride, affine=False) for op in ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op(x) for w, op in zip(weights, self.ops, strict=True))


def edges_of(nodes: int) -> list[tuple[int, int]]:
    """(node, input) for every edge of a cell, in α's row order."""
    return [(node, inp) for node in range(nodes) for inp in range(node + 2)]


class SearchCell(nn.Module):
    def __init__(
        self,
        ops: list[str],
        nodes: int,
        c_pp: int,
        c_p: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.pre0, self.pre1 = cell_preprocess(c_pp, c_p, c, reduction_prev, affine=False)
        self.edges = edges_of(nodes)
        self.mixed = nn.ModuleList(
            MixedOp(ops, c, 2 if reduction and inp < 2 else 1) for _, inp in self.edges
        )
        self.nodes = nodes

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        k = 0
        for node in range(self.nodes):
            n_in = node + 2
            states.append(sum(self.mixed[k + j](states[j], weights[k + j]) for j in range(n_in)))
            k += n_in
        return torch.cat(states[2:], dim=1)  # (N, nodes * C, H', W')


class SuperNet(nn.Module):
    """Stem, search cells sharing α per cell type, global average pool, linear head."""

    def __init__(
        self,
        ops: list[str],
        in_channels: int,
        n_outputs: int,
        channels: int,
        cells: int,
        nodes: int,
        reduce_at: list[int],
        stem_multiplier: int = 3,
    ) -> None:
        super().__init__()
        self.op_names, self.nodes = list(ops), nodes
        c = channels
        self.stem = Stem(in_channels, stem_multiplier * c)
        c_pp, c_p = stem_multiplier * c, stem_multiplier * c
        self.cells = nn.ModuleList()
        self.reductions: list[bool] = []
        reduction_prev = False
        for i in range(cells):
            reduction = i in reduce_at
            if reduction:
                c *= 2
            self.cells.append(SearchCell(ops, nodes, c_pp, c_p, c, reduction, reduction_prev))
            self.reductions.append(reduction)
            c_pp, c_p = c_p, nodes * c
            reduction_prev = reduction
        self.head = nn.Linear(c_p, n_outputs)
        n_edges = len(edges_of(nodes))
        # Small random α: every operation starts almost equally weighted.
        self.alphas_normal = nn.Parameter(1e-3 * torch.randn(n_edges, len(ops)))
        self.alphas_reduce = nn.Parameter(1e-3 * torch.randn(n_edges, len(ops)))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alphas_normal, self.alphas_reduce]

    def weight_items(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.named_parameters() if not n.startswith("alphas_")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        normal = F.softmax(self.alphas_normal, dim=-1)
        reduce = F.softmax(self.alphas_reduce, dim=-1)
        for cell, reduction in zip(self.cells, self.reductions, strict=True):
            s0, s1 = s1, cell(s0, s1, reduce if reduction else normal)
        return self.head(s1.mean(dim=(2, 3)))  # -> (N, n_outputs)

    def alpha_snapshot(self) -> dict:
        """softmax(α) per cell type: edges x ops, rounded for JSON."""
        snap = {"normal": F.softmax(self.alphas_normal.detach(), -1).cpu()}
        if any(self.reductions):
            snap["reduce"] = F.softmax(self.alphas_reduce.detach(), -1).cpu()
        return {k: [[round(float(v), 5) for v in row] for row in w] for k, w in snap.items()}


class Architect:
    """Updates α on validation batches, first or second order (see the module docstring)."""

    def __init__(
        self, net: SuperNet, *, order: int, lr: float, weight_decay: float, w_weight_decay: float
    ) -> None:
        self.net, self.order, self.w_weight_decay = net, order, w_weight_decay
        self.optimizer = torch.optim.Adam(
            net.arch_parameters(), lr=lr, betas=(0.5, 0.999), weight_decay=weight_decay
        )

    def step(
        self, xt: torch.Tensor, yt: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor, xi: float
    ) -> tuple[torch.Tensor, ...] | None:
        """One α step. Second order returns ∇w L_train(w, α) on (xt, yt), taken for the
        unrolled step before α moved: the caller's weight step on the same batch may reuse
        it instead of a forward and backward pass of its own (None for first order)."""
        alphas = self.net.arch_parameters()
        train_grads = None
        if self.order == 1:
            grads = torch.autograd.grad(F.cross_entropy(self.net(xv), yv), alphas)
        else:
            grads, train_grads = self._unrolled_grads(xt, yt, xv, yv, xi)
        for alpha, grad in zip(alphas, grads, strict=True):
            alpha.grad = grad
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return train_grads

    def _unrolled_grads(self, xt, yt, xv, yv, xi: float):
        net, alphas = self.net, self.net.arch_parameters()
        names, weights = zip(*net.weight_items(), strict=True)
        # w' = w − ξ (∇w L_train + λ w): one plain SGD step, not kept.
        train_grads = torch.autograd.grad(F.cross_entropy(net(xt), yt), weights)
        unrolled = {
            name: (w - xi * (g + self.w_weight_decay * w)).detach().requires_grad_()
            for name, w, g in zip(names, weights, train_grads, strict=True)
        }
        val_loss = F.cross_entropy(functional_call(net, unrolled, (xv,)), yv)
        grads = torch.autograd.grad(val_loss, [*alphas, *unrolled.values()])
        d_alpha, d_w = grads[: len(alphas)], grads[len(alphas) :]

        # Finite-difference Hessian-vector product at w ± ε ∇w' L_val(w', α).
        eps = 0.01 / (torch.cat([g.flatten() for g in d_w]).norm() + 1e-12)

        def alpha_grads(sign: float) -> tuple[torch.Tensor, ...]:
            with torch.no_grad():
                for w, d in zip(weights, d_w, strict=True):
                    w.add_(d, alpha=float(sign * eps))
            return torch.autograd.grad(F.cross_entropy(net(xt), yt), alphas)

        g_pos = alpha_grads(+1.0)  # at w + ε d
        g_neg = alpha_grads(-2.0)  # at w − ε d
        with torch.no_grad():
            for w, d in zip(weights, d_w, strict=True):
                w.add_(d, alpha=float(eps))  # back to w
        alpha_grads = [
            da - xi * (gp - gn) / (2 * eps)
            for da, gp, gn in zip(d_alpha, g_pos, g_neg, strict=True)
        ]
        return alpha_grads, train_grads


def derive_cell(
    weights: list[list[float]], ops: list[str], nodes: int, max_skips: int | None = None
) -> list[list[list]]:
    """The discrete cell: per node, the two strongest incoming edges, each with its best op.

    An edge's strength is its largest non-`none` weight and its op that argmax: `none` is
    never chosen. The skip-connection collapse guard (max_skips, None = off) then caps the
    skips in the cell: while more than max_skips edges chose `skip_connect`, the one whose
    skip weight is lowest takes its best operation other than skip and none (P-DARTS,
    Chen et al., 2019, caps skips the same way).
    """
    usable = [i for i, op in enumerate(ops) if op != "none"]
    rows = iter(weights)
    cell: list[list[list]] = []
    skip_weight: dict[tuple[int, int], float] = {}
    alternatives: dict[tuple[int, int], str | None] = {}
    for node in range(nodes):
        edges = []
        for inp in range(node + 2):
            row = next(rows)
            best = max(usable, key=lambda i: row[i])
            edges.append((row[best], inp, ops[best]))
            if ops[best] == SKIP:
                others = [i for i in usable if ops[i] != SKIP]
                alternatives[(node, inp)] = (
                    ops[max(others, key=lambda i: row[i])] if others else None
                )
                skip_weight[(node, inp)] = row[best]
        # Sort by strength, then by input, so equal strengths derive the same cell every time.
        top = sorted(edges, key=lambda e: (-e[0], e[1]))[:2]
        cell.append([[op, inp] for _, inp, op in sorted(top, key=lambda e: e[1])])
    if max_skips is not None:
        _cap_skips(cell, max_skips, skip_weight, alternatives)
    return cell


def _cap_skips(cell: list, max_skips: int, skip_weight: dict, alternatives: dict) -> None:
    chosen = [
        (skip_weight[(node, edge[1])], node, edge)
        for node, edges in enumerate(cell)
        for edge in edges
        if edge[0] == SKIP and alternatives.get((node, edge[1]))
    ]
    excess = sum(edge[0] == SKIP for edges in cell for edge in edges) - max_skips
    for _, node, edge in sorted(chosen, key=lambda c: (c[0], c[1]))[: max(excess, 0)]:
        edge[0] = alternatives[(node, edge[1])]


def count_skips(cell: list) -> int:
    return sum(op == SKIP for edges in cell for op, _ in edges)
