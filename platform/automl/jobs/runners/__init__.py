"""One module per job kind: its JobKind (automl.jobs.kinds) and what a worker does with it.

Engines are imported inside the runners, so neither the web process nor the worker's
parent imports torch.
"""
