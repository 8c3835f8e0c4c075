import numpy as np

from workers.data.builtin import load_builtin
from workers.data.splits import holdout_split
from workers.training.mlp import MLP, MLPConfig, train_mlp


def fit(data, task, epochs, seed=0, on_epoch=None):
    split = holdout_split(data, 0.25, seed=0)
    n_out = 3 if task == "classification" else 1
    model = MLP(MLPConfig(split.X_train.shape[1], n_out, hidden_layers=1, hidden_units=32,
                          dropout=0.0))
    pred = train_mlp(model, split.X_train, split.y_train, split.X_valid, split.y_valid,
                     task=task, epochs=epochs, lr=0.01, batch_size=16, weight_decay=0.0,
                     seed=seed, on_epoch=on_epoch)
    return split, pred


def test_mlp_learns_iris_and_reports_each_epoch():
    seen = []
    split, pred = fit(load_builtin("iris"), "classification", 15,
                      on_epoch=lambda epoch, p: seen.append(epoch))
    assert seen == list(range(15))
    assert np.mean(pred == split.y_valid) > 0.9


def test_mlp_is_deterministic():
    data = load_builtin("iris")
    assert np.array_equal(fit(data, "classification", 3)[1], fit(data, "classification", 3)[1])


def test_mlp_regression_predicts_in_target_units():
    split, pred = fit(load_builtin("diabetes"), "regression", 5)
    assert pred.dtype == np.float64
    assert abs(pred.mean() - split.y_train.mean()) < split.y_train.std()
