"""Model files: one directory per model, a JSON spec beside safetensors or skops data.

Nothing here unpickles. ``workers.models.builders`` (imports torch) rebuilds torch modules;
``workers.models.artifacts`` (imports torch only when a torch model is saved or loaded)
writes and reads the directories.
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
]
