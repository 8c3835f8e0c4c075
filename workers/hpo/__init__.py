"""Hyperparameter optimisation on tabular data with Optuna."""
