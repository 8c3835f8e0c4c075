import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from workers.training.cnn import CNN, CNNConfig, train_cnn


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 8, 8).astype(np.float32)  # N x H x W
    return X[:1200], y[:1200], X[1200:], y[1200:]


def fit(X_tr, y_tr, X_va, y_va, epochs=4, seed=0, **kwargs):
    model = CNN(CNNConfig(in_channels=1, height=8, width=8, n_outputs=10))
    pred = train_cnn(
        model,
        X_tr,
        y_tr,
        X_va,
        y_va,
        epochs=epochs,
        lr=0.01,
        batch_size=32,
        weight_decay=0.0,
        seed=seed,
        **kwargs,
    )
    return model, pred


def test_it_learns_digits_and_reports_each_epoch(digits):
    X_tr, y_tr, X_va, y_va = digits
    seen = []
    _, pred = fit(
        X_tr[:, None],
        y_tr,
        X_va[:, None],
        y_va,
        on_epoch=lambda epoch, p: seen.append((epoch, len(p))),
    )
    assert seen == [(e, len(y_va)) for e in range(4)]
    assert np.mean(pred == y_va) > 0.8


def test_it_accepts_images_without_channel_axis(digits):
    X_tr, y_tr, X_va, y_va = digits
    _, with_axis = fit(X_tr[:, None], y_tr, X_va[:, None], y_va, epochs=1)
    _, without = fit(X_tr, y_tr, X_va, y_va, epochs=1)
    assert np.array_equal(with_axis, without)


def test_it_learns_with_hypergradient_schedule(digits):
    X_tr, y_tr, X_va, y_va = digits
    _, pred = fit(X_tr, y_tr, X_va, y_va, lr_schedule="hypergradient")
    assert np.mean(pred == y_va) > 0.8


def test_on_epoch_may_raise_to_stop(digits):
    X_tr, y_tr, X_va, y_va = digits

    def prune(epoch, pred):
        raise RuntimeError("pruned")

    with pytest.raises(RuntimeError, match="pruned"):
        fit(X_tr, y_tr, X_va, y_va, on_epoch=prune)


def test_shapes_and_bad_inputs():
    model = CNN(CNNConfig(in_channels=3, height=5, width=7, n_outputs=4, channels=(4, 8, 8)))
    assert model(torch.zeros(2, 3, 5, 7)).shape == (2, 4)
    X = np.zeros((4, 3), dtype=np.float32)  # not images
    y = np.zeros(4)
    settings = dict(epochs=1, lr=0.01, batch_size=2, weight_decay=0.0, seed=0)
    with pytest.raises(ValueError, match="N x C x H x W"):
        train_cnn(model, X, y, X, y, **settings)
    with pytest.raises(ValueError, match="lr_schedule"):
        train_cnn(model, X, y, X, y, **settings, lr_schedule="cosine")
