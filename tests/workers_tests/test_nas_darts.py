"""DARTS: derivation, the skip-connection collapse guard, the architects, the supernet."""

import pytest
import torch
from torch.nn import functional as F

from workers.nas.darts import Architect, SuperNet, count_skips, derive_cell, edges_of
from workers.training.genotype import GenotypeConfig, GenotypeNetwork

OPS = ["none", "max_pool_3x3", "skip_connect", "sep_conv_3x3"]


def rows(nodes, weights_for):
    """One α row per edge (node, input), from weights_for(node, input) -> [w per op]."""
    return [weights_for(node, inp) for node, inp in edges_of(nodes)]


def test_derivation_keeps_the_two_strongest_edges_and_never_none():
    # Node 0: inputs 0 and 1. Node 1: inputs 0, 1, 2; input 1 is strongest through `none`
    # only, so it must lose to inputs 2 and 0.
    weights = [
        [0.1, 0.2, 0.3, 0.4],  # node 0 <- 0: sep_conv
        [0.1, 0.6, 0.2, 0.1],  # node 0 <- 1: max_pool
        [0.4, 0.1, 0.2, 0.3],  # node 1 <- 0: sep_conv (0.3)
        [0.9, 0.03, 0.03, 0.04],  # node 1 <- 1: `none` dominates; best real op 0.04
        [0.2, 0.1, 0.5, 0.2],  # node 1 <- 2: skip (0.5)
    ]
    cell = derive_cell(weights, OPS, nodes=2)
    assert cell == [
        [["sep_conv_3x3", 0], ["max_pool_3x3", 1]],
        [["sep_conv_3x3", 0], ["skip_connect", 2]],
    ]


def test_derivation_is_stable_under_ties():
    weights = rows(3, lambda node, inp: [0.25, 0.25, 0.25, 0.25])
    assert derive_cell(weights, OPS, 3) == derive_cell(weights, OPS, 3)
    assert all([inp for _, inp in edges] == [0, 1] for edges in derive_cell(weights, OPS, 3))


def collapsed(node, inp):
    """α after a skip collapse: skip wins every edge; sep_conv is the runner-up."""
    return [0.05, 0.1, 0.6 + 0.01 * (node + inp), 0.25]


def test_without_the_guard_a_collapsed_search_derives_only_skips():
    cell = derive_cell(rows(4, collapsed), OPS, 4)
    assert count_skips(cell) == 8


@pytest.mark.parametrize("max_skips", [0, 1, 2])
def test_the_guard_caps_skips_and_replaces_the_weakest_with_their_best_other_op(max_skips):
    cell = derive_cell(rows(4, collapsed), OPS, 4, max_skips=max_skips)
    assert count_skips(cell) == max_skips
    replaced = [edge for edges in cell for edge in edges if edge[0] != "skip_connect"]
    assert all(op == "sep_conv_3x3" for op, _ in replaced)
    # The skips kept are those with the strongest skip weights (node + input, above).
    strengths = sorted(
        (node + inp for node, edges in enumerate(cell) for _, inp in edges), reverse=True
    )
    kept = sorted(
        (
            node + inp
            for node, edges in enumerate(cell)
            for op, inp in edges
            if op == "skip_connect"
        ),
        reverse=True,
    )
    assert kept == strengths[:max_skips]


def test_the_guard_leaves_a_healthy_cell_alone():
    healthy = rows(2, lambda node, inp: [0.1, 0.2, 0.1, 0.6])
    assert derive_cell(healthy, OPS, 2, max_skips=0) == derive_cell(healthy, OPS, 2)


def tiny_net(cells=2):
    torch.manual_seed(0)
    return SuperNet(
        OPS,
        in_channels=1,
        n_outputs=3,
        channels=4,
        cells=cells,
        nodes=2,
        reduce_at=[1] if cells > 1 else [],
    )


@pytest.mark.parametrize("size", [8, 7])
def test_the_supernet_handles_even_and_odd_images(size):
    net = SuperNet(OPS, 1, 3, 4, cells=3, nodes=2, reduce_at=[1, 2])  # 7 -> 4 -> 2
    assert net(torch.randn(2, 1, size, size)).shape == (2, 3)
    snapshot = net.alpha_snapshot()
    assert len(snapshot["normal"]) == len(edges_of(2)) == 5
    assert all(abs(sum(row) - 1) < 1e-3 for row in snapshot["normal"])


@pytest.mark.parametrize("order", [1, 2])
def test_an_architect_step_moves_alpha_and_leaves_the_weights_where_they_were(order):
    net = tiny_net()
    architect = Architect(net, order=order, lr=0.1, weight_decay=0.0, w_weight_decay=3e-4)
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,))
    net.eval()  # BatchNorm statistics stay put, so weights compare exactly
    before_w = {n: p.detach().clone() for n, p in net.weight_items()}
    before_a = [a.detach().clone() for a in net.arch_parameters()]
    architect.step(x, y, x.flip(0), y.flip(0), xi=0.05)
    assert any(not torch.equal(a, b) for a, b in zip(net.arch_parameters(), before_a, strict=True))
    for name, p in net.weight_items():
        assert torch.allclose(p, before_w[name], atol=1e-5), name
        assert p.grad is None


def test_second_order_differs_from_first_order():
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,))
    moved = []
    for order in (1, 2):
        net = tiny_net()
        net.eval()
        Architect(net, order=order, lr=0.1, weight_decay=0.0, w_weight_decay=0.0).step(
            x, y, x.flip(0), y.flip(0), xi=0.5
        )
        moved.append(net.alphas_normal.detach().clone())
    assert not torch.allclose(moved[0], moved[1])


def test_a_derived_genotype_builds_a_network_that_takes_flat_rows():
    cell = derive_cell(rows(2, collapsed), OPS, 2, max_skips=1)
    genotype = {
        "space": "cell",
        "channels": 4,
        "cells": 2,
        "nodes": 2,
        "reduce_at": [1],
        "normal": cell,
        "reduce": cell,
    }
    net = GenotypeNetwork(GenotypeConfig(genotype, [1, 8, 8], 10)).eval()
    images = torch.randn(3, 1, 8, 8)
    assert torch.allclose(net(images), net(images.reshape(3, 64)))
    loss = F.cross_entropy(net(images), torch.tensor([0, 1, 2]))
    loss.backward()  # trainable end to end
