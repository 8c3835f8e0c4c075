"""Evaluation of a saved model on held-out rows: metrics with bootstrap intervals, curves,
significance tests between two models, permutation importances and per-row explanations.

Pure numpy/sklearn/scipy (torch only for integrated gradients); nothing here imports Django.
"""
