"""Model files: one directory per model, a JSON spec beside safetensors or skops data.

Nothing here pickles or unpickles. ``workers.models.kinds`` rebuilds torch modules from
their spec; ``workers.models.artifacts`` writes and reads the directories.
"""

from workers.models.artifacts import (
    ALLOWED_SKOPS_TYPES,
    ArtifactError,
    IntegrityError,
    TorchPredictor,
    UntrustedTypesError,
    load_model,
    load_transformer,
    save_model,
    save_transformer,
    scaling_spec,
)

__all__ = [
    "ALLOWED_SKOPS_TYPES",
    "ArtifactError",
    "IntegrityError",
    "TorchPredictor",
    "UntrustedTypesError",
    "load_model",
    "load_transformer",
    "save_model",
    "save_transformer",
    "scaling_spec",
]
