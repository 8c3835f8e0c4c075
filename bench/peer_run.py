"""One peer AutoML tool on one table: run by bench/peers.py in the peers' own venv.

    /tmp/bench-venv/bin/python bench/peer_run.py TOOL TABLE.npz BUDGET_S

TABLE.npz holds X_train, y_train, X_test, y_test and task ("classification" or
"regression"). Prints one JSON line: {"score", "seconds"} (accuracy or r2 on the test
rows; seconds from the start of fit to the end of predict), or {"skipped": why} when the
tool is not installed. Standard library, numpy, pandas and scikit-learn only, besides the
tool itself.
"""

import json
import sys
import tempfile
import time

import numpy as np


def flaml_fit(task, X, y, X_test, budget):
    from flaml import AutoML

    automl = AutoML()
    metric = "accuracy" if task == "classification" else "r2"
    automl.fit(X, y, task=task, time_budget=budget, metric=metric, verbose=0, seed=0)
    return automl.predict(X_test)


def autogluon_fit(task, X, y, X_test, budget):
    import pandas as pd
    from autogluon.tabular import TabularPredictor

    columns = [f"f{i}" for i in range(X.shape[1])]
    train = pd.DataFrame(X, columns=columns).assign(target=y)
    problem = (
        ("multiclass" if len(np.unique(y)) > 2 else "binary")
        if task == "classification"
        else "regression"
    )
    metric = "accuracy" if task == "classification" else "r2"
    with tempfile.TemporaryDirectory() as path:
        predictor = TabularPredictor(
            label="target", problem_type=problem, eval_metric=metric, path=path, verbosity=0
        )
        predictor.fit(train, time_limit=budget, presets="medium_quality")
        return predictor.predict(pd.DataFrame(X_test, columns=columns)).to_numpy()


TOOLS = {"flaml": (flaml_fit, "flaml"), "autogluon": (autogluon_fit, "autogluon.tabular")}


def main() -> None:
    tool, path, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
    fit, module = TOOLS[tool]
    try:
        __import__(module)
    except ImportError as exc:
        print(json.dumps({"skipped": f"{module} is not installed ({exc})"}))
        return
    table = np.load(path, allow_pickle=False)
    task = str(table["task"])
    started = time.monotonic()
    predicted = fit(task, table["X_train"], table["y_train"], table["X_test"], budget)
    seconds = time.monotonic() - started
    y_test = table["y_test"]
    if task == "classification":
        score = float(np.mean(np.asarray(predicted) == y_test))
    else:
        from sklearn.metrics import r2_score

        score = float(r2_score(y_test, np.asarray(predicted, dtype=np.float64)))
    print(json.dumps({"score": score, "seconds": seconds}))


if __name__ == "__main__":
    main()
