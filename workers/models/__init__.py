"""Models: the kind registry (`kinds`) and the one model format (`artifacts`).

A model is a directory: a JSON spec beside safetensors or skops data, its fitted
preprocessing and its drift reference (file names in `layout`). Nothing here pickles or
unpickles. Importing this package imports nothing heavy: the web process reads `layout`
and the registry's labels without torch.
"""
