"""Model parallel (trainer.stages): a network's blocks in stages, one device each, trained
through the one training loop. On the CPU every stage is on "cpu", and a split run must
train to the same weights as the unsplit one from the same seed."""

import copy

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from torch import nn

from workers.training import pipeline
from workers.training.cnn import CNN, CNNConfig, train_cnn
from workers.training.genotype import GenotypeConfig, GenotypeNetwork, train_classifier
from workers.training.mlp import MLP, MLPConfig, train_mlp
from workers.training.options import TrainerOptions, option_errors

CELL_GENOTYPE = {
    "space": "cell",
    "channels": 4,
    "cells": 2,
    "nodes": 2,
    "reduce_at": [1],
    "normal": [
        [["sep_conv_3x3", 0], ["skip_connect", 1]],
        [["max_pool_3x3", 0], ["dil_conv_3x3", 2]],
    ],
    "reduce": [
        [["max_pool_3x3", 0], ["sep_conv_3x3", 1]],
        [["skip_connect", 2], ["avg_pool_3x3", 1]],
    ],
}


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)


def test_an_mlp_trained_in_three_stages_equals_the_unsplit_one():
    X, y = load_iris(return_X_y=True)
    fit = dict(task="classification", epochs=4, lr=0.01, batch_size=16, weight_decay=0.0, seed=0)

    def run(stages):
        torch.manual_seed(1)
        model = MLP(MLPConfig(4, 3, hidden_layers=2, hidden_units=16, dropout=0.2))
        pred = train_mlp(model, X, y, X, y, **fit, options=TrainerOptions(stages=stages))
        return pred, model

    (one, whole), (three, split) = run(1), run(3)
    assert_same_weights(whole, split)
    assert np.array_equal(one, three)  # the evaluation between epochs runs on the split model
    assert np.mean(three == y) > 0.7
    # Back in one piece: no hook left behind, every parameter on the CPU.
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in split.modules())


def test_a_cnn_and_a_darts_cell_network_train_in_stages_like_unsplit():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(24, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 2, size=24)
    fit = dict(epochs=2, lr=0.01, batch_size=8, weight_decay=0.0, seed=0)

    def cnn(stages):
        torch.manual_seed(0)
        model = CNN(CNNConfig(1, 8, 8, 2, channels=(4, 8)))
        train_cnn(
            model,
            images,
            labels,
            images[:2],
            labels[:2],
            **fit,
            options=TrainerOptions(stages=stages),
        )
        return model

    assert_same_weights(cnn(1), cnn(3))

    def cells(stages):
        torch.manual_seed(0)
        model = GenotypeNetwork(GenotypeConfig(CELL_GENOTYPE, [1, 8, 8], 2))
        x, t = torch.from_numpy(images), torch.as_tensor(labels)
        train_classifier(model, x, t, **fit, options=TrainerOptions(stages=stages))
        return model

    # A DARTS cell reads the two cells before it: each block's inputs follow it.
    assert_same_weights(cells(1), cells(4))


def test_stages_hold_whole_blocks_balanced_by_parameters():
    model = MLP(MLPConfig(4, 3, hidden_layers=3, hidden_units=64, dropout=0.0))
    blocks = pipeline.blocks_of(model)
    assert [type(b[0]) for b in blocks] == [nn.Linear] * 4  # hidden_layers + 1
    # 4*64 | 64*64 | 64*64 | 64*3 parameters (and biases): the big middle blocks part.
    with pipeline.split(model, ["cpu", "cpu"]) as cuts:
        assert cuts == [0, 2]
        assert all(m._forward_pre_hooks for b in blocks for m in b)
    assert pipeline.balanced_cuts([1, 1, 1, 1], 4) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="5 stages need at least 5 blocks; this network has 4"):
        with pipeline.split(model, ["cpu"] * 5):
            pass
    with pytest.raises(ValueError, match="Sequential cannot be split"):
        with pipeline.split(nn.Sequential(nn.Linear(2, 2)), ["cpu", "cpu"]):
            pass


def test_stages_take_one_gpu_each_and_refuse_more_stages_than_gpus(monkeypatch):
    assert pipeline.stage_devices(3, torch.device("cpu")) == [torch.device("cpu")] * 3
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert pipeline.stage_devices(2, torch.device("cuda")) == [
        torch.device("cuda", 0),
        torch.device("cuda", 1),
    ]
    with pytest.raises(RuntimeError, match="stages 4 needs 4 GPUs; this trial sees 2"):
        pipeline.stage_devices(4, torch.device("cuda"))


def test_stages_are_bounded_and_exclusive_with_processes():
    assert option_errors({"stages": 8}) == {}
    assert set(option_errors({"stages": 0})) == {"stages"}
    assert "from 1 to 8" in option_errors({"stages": 9})["stages"]
    assert "either data parallel" in option_errors({"stages": 2, "processes": 2})["stages"]
    with pytest.raises(ValueError, match="stages"):
        TrainerOptions(stages=True)
    assert copy.copy(TrainerOptions.from_dict({"stages": 2})).stages == 2
