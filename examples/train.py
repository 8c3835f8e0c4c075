"""Your own training script, tuned by `automl tune examples/external.yaml -- python train.py`.

It reads its trial's parameters from the environment, reports the validation accuracy
after each epoch (the platform's pruner may stop it early), attaches the trained weights
and tells the final accuracy; the best trial's file becomes the job's model version. Run
alone (no AUTOML_PARAMS) it trains once with the defaults below.
"""

import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

import automl_client

params = {"alpha": 1e-4, "loss": "hinge", **automl_client.params()}
X, y = load_digits(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X / 16.0, y, random_state=0)
model = SGDClassifier(alpha=params["alpha"], loss=params["loss"], random_state=0)

for epoch in range(8):
    model.partial_fit(X_train, y_train, classes=np.unique(y))
    accuracy = model.score(X_valid, y_valid)
    if automl_client.report(epoch, accuracy):  # the pruner says this trial is not promising
        automl_client.tell(pruned=True)
        break
else:
    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / "weights.npz"
        np.savez(weights, coef=model.coef_, intercept=model.intercept_)
        automl_client.attach(weights)
    print(accuracy)  # the last line is the trial's value (or: automl_client.tell(accuracy))
