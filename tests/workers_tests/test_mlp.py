import numpy as np

from workers.data.builtin import load_builtin
from workers.data.splits import holdout_split
from workers.training.mlp import MLP, MLPConfig, train_mlp


def fit(data, task, epochs, seed=0, on_epoch=None):
    split = holdout_split(data, 0.25, seed=0)
    n_out = 3 if task == "classification" else 1
    model = MLP(
        MLPConfig(split.X_train.shape[1], n_out, hidden_layers=1, hidden_units=32, dropout=0.0)
    )
    pred = train_mlp(
        model,
        split.X_train,
        split.y_train,
        split.X_valid,
        split.y_valid,
        task=task,
        epochs=epochs,
        lr=0.01,
        batch_size=16,
        weight_decay=0.0,
        seed=seed,
        on_epoch=on_epoch,
    )
    return split, pred


def test_mlp_learns_iris_and_reports_each_epoch():
    seen = []
    split, pred = fit(
        load_builtin("iris"), "classification", 15, on_epoch=lambda epoch, p: seen.append(epoch)
    )
    assert seen == list(range(15))
    assert np.mean(pred == split.y_valid) > 0.9


def test_mlp_is_deterministic():
    data = load_builtin("iris")
    assert np.array_equal(fit(data, "classification", 3)[1], fit(data, "classification", 3)[1])


def test_mlp_regression_predicts_in_target_units():
    split, pred = fit(load_builtin("diabetes"), "regression", 5)
    assert pred.dtype == np.float64
    assert abs(pred.mean() - split.y_train.mean()) < split.y_train.std()


def test_hypergradient_adapts_the_lr_while_fixed_keeps_it(monkeypatch):
    from workers.training import mlp

    lrs = []

    class Recording(mlp.HypergradientAdam):
        def step(self, closure=None):
            result = super().step(closure)
            lrs.append(self.param_groups[0]["lr"])
            return result

    monkeypatch.setattr(mlp, "HypergradientAdam", Recording)
    data = load_builtin("iris")
    split = holdout_split(data, 0.25, seed=0)
    for schedule in ("fixed", "hypergradient"):
        model = MLP(MLPConfig(4, 3, hidden_layers=1, hidden_units=16, dropout=0.0))
        pred = train_mlp(
            model,
            split.X_train,
            split.y_train,
            split.X_valid,
            split.y_valid,
            task="classification",
            epochs=15,
            lr=0.01,
            batch_size=16,
            weight_decay=0.0,
            seed=0,
            lr_schedule=schedule,
        )
        assert np.mean(pred == split.y_valid) > 0.85, schedule
    assert len(set(lrs)) > 10 and lrs[-1] != 0.01  # only the hypergradient run recorded


def test_lr_schedule_is_a_searchable_mlp_param():
    from workers.hpo.config import validate_hpo_config
    from workers.hpo.engine import run_hpo
    from workers.reporter import MemoryReporter

    space = {
        "lr_schedule": {"type": "categorical", "choices": ["fixed", "hypergradient"]},
        "epochs": {"type": "fixed", "value": 3},
        "hidden_units": {"type": "fixed", "value": 8},
    }
    config = validate_hpo_config(
        {
            "model": "mlp",
            "search_space": space,
            "n_trials": 4,
            "sampler": {"name": "random", "seed": 0},
        },
        "classification",
    )
    reporter = MemoryReporter()
    result = run_hpo(config, load_builtin("iris"), reporter)
    assert result.n_complete == 4
    assert {f["params"]["lr_schedule"] for f in reporter.finished} == {"fixed", "hypergradient"}
