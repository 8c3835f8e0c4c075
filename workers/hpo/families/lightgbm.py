"""LightGBM gradient boosting, with its native early stopping and a per-round callback
that lets the trial's pruner stop it (see _boosters)."""

from __future__ import annotations

from workers.hpo.families._base import GROWTH, ModelFamily, float_, int_, register
from workers.hpo.families._boosters import (
    DEFAULT_EARLY_STOPPING_ROUNDS,
    BoosterView,
    early_stopping_rows,
)


@register
class LightGBMFamily(ModelFamily):
    name = "lightgbm"
    cost = 2
    fidelity = ("n_estimators",)
    tasks = ("classification", "regression")
    params = (
        "n_estimators",
        "learning_rate",
        "num_leaves",
        "min_child_samples",
        "subsample",
        "colsample_bytree",
        "reg_lambda",
        "early_stopping_rounds",
    )
    limits = {"n_estimators": 5000, "num_leaves": 4096}

    def default_space(self, task):
        return {
            "n_estimators": int_(50, 400, log=True),
            "learning_rate": float_(0.01, 0.3, log=True),
            "num_leaves": int_(8, 128, log=True),
            "min_child_samples": int_(5, 50, log=True),
            "subsample": float_(0.6, 1.0),
            "colsample_bytree": float_(0.6, 1.0),
        }

    def fit(self, params, X, y, ctx):
        import lightgbm

        cls = lightgbm.LGBMClassifier if ctx.task == "classification" else lightgbm.LGBMRegressor
        subsample = params.get("subsample", 1.0)
        model = cls(
            n_estimators=params.get("n_estimators", 100),
            learning_rate=params.get("learning_rate", 0.1),
            num_leaves=params.get("num_leaves", 31),
            min_child_samples=params.get("min_child_samples", 20),
            subsample=subsample,
            subsample_freq=1 if subsample < 1.0 else 0,  # LightGBM bags only when both set
            colsample_bytree=params.get("colsample_bytree", 1.0),
            reg_lambda=params.get("reg_lambda", 0.0),
            random_state=ctx.seed,
            verbose=-1,
        )
        X_fit, y_fit, X_stop, y_stop = early_stopping_rows(X, y, ctx)

        def report(env) -> None:
            rounds = env.iteration + 1
            if rounds % GROWTH == 0:
                view = BoosterView(
                    lambda X: env.model.predict(X, num_iteration=rounds), ctx.task, y_fit
                )
                ctx.on_step(rounds // GROWTH - 1, view)

        rounds = params.get("early_stopping_rounds", DEFAULT_EARLY_STOPPING_ROUNDS)
        model.fit(
            X_fit,
            y_fit,
            eval_X=X_stop,
            eval_y=y_stop,
            callbacks=[lightgbm.early_stopping(rounds, verbose=False), report],
        )
        return model
