"""Compute-side engines of the AutoML platform (no Django imports allowed here)."""
