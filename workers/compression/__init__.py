"""Compression of registered torch models: pruning, distillation, quantization, chained.

workers.compression.config validates job configs without torch; engine.run_compression runs
them; store saves and reloads every result without pickles.
"""
