"""XGBoost gradient boosting (the CPU wheel, xgboost-cpu), with its native early stopping
and a per-round callback that lets the trial's pruner stop it (see _boosters)."""

from __future__ import annotations

from workers.hpo.families._base import GROWTH, ModelFamily, float_, int_, register
from workers.hpo.families._boosters import (
    DEFAULT_EARLY_STOPPING_ROUNDS,
    BoosterView,
    early_stopping_rows,
)


@register
class XGBoostFamily(ModelFamily):
    name = "xgboost"
    cost = 3
    fidelity = ("n_estimators",)
    tasks = ("classification", "regression")
    params = (
        "n_estimators",
        "learning_rate",
        "max_depth",
        "min_child_weight",
        "subsample",
        "colsample_bytree",
        "reg_lambda",
        "early_stopping_rounds",
    )
    limits = {"n_estimators": 5000, "max_depth": 16}

    def default_space(self, task):
        return {
            "n_estimators": int_(50, 400, log=True),
            "learning_rate": float_(0.01, 0.3, log=True),
            "max_depth": int_(2, 10),
            "min_child_weight": float_(0.5, 10.0, log=True),
            "subsample": float_(0.6, 1.0),
            "colsample_bytree": float_(0.6, 1.0),
        }

    def fit(self, params, X, y, ctx):
        import xgboost

        class Report(xgboost.callback.TrainingCallback):
            def after_iteration(self, booster, epoch, evals_log) -> bool:
                rounds = epoch + 1
                if rounds % GROWTH == 0:
                    view = BoosterView(
                        lambda X: booster.inplace_predict(X, iteration_range=(0, rounds)),
                        ctx.task,
                        y_fit,
                    )
                    ctx.on_step(rounds // GROWTH - 1, view)
                return False  # early stopping is the library's own callback's to decide

        cls = xgboost.XGBClassifier if ctx.task == "classification" else xgboost.XGBRegressor
        X_fit, y_fit, X_stop, y_stop = early_stopping_rows(X, y, ctx)
        model = cls(
            n_estimators=params.get("n_estimators", 100),
            learning_rate=params.get("learning_rate", 0.3),
            max_depth=params.get("max_depth", 6),
            min_child_weight=params.get("min_child_weight", 1.0),
            subsample=params.get("subsample", 1.0),
            colsample_bytree=params.get("colsample_bytree", 1.0),
            reg_lambda=params.get("reg_lambda", 1.0),
            early_stopping_rounds=params.get(
                "early_stopping_rounds", DEFAULT_EARLY_STOPPING_ROUNDS
            ),
            tree_method="hist",
            random_state=ctx.seed,
            callbacks=[Report()],
        )
        model.fit(X_fit, y_fit, eval_set=[(X_stop, y_stop)], verbose=False)
        model.set_params(callbacks=None)  # a callback is code: never saved with the model
        return model
