"""Job files: a job's submission as YAML (or JSON, which YAML reads too).

    kind: hpo                 # any kind the server has
    name: iris forest
    dataset: iris             # an id, or a data set's name (external jobs: optional)
    config: {...}             # the kind's config, exactly as POST /api/v1/jobs/ takes it
    resources: {device: cpu}
    priority: 5               # optional, -10 to 10: orders your own queued jobs

The file is checked by the server, with the same validation as every submission (nothing
is validated twice here, so the two can never disagree); only the file's own shape (a
mapping of these keys) is checked on reading.
"""

from pathlib import Path
from typing import Any

import yaml

from automl_client.errors import ConfigurationError

KEYS = ("kind", "name", "dataset", "config", "resources", "priority")


def load(path: str | Path, overrides: list[str] = ()) -> dict:
    """The submission in the file, with `dotted.path=value` overrides applied (values
    read as YAML: `config.n_trials=5` is a number)."""
    path = Path(path)
    try:
        definition = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigurationError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML or JSON ({exc})") from None
    if not isinstance(definition, dict):
        raise ConfigurationError(f"{path}: a job file is a mapping of {', '.join(KEYS)}")
    for override in overrides:
        apply_override(definition, override)
    if unknown := sorted(set(definition) - set(KEYS)):
        raise ConfigurationError(
            f"{path}: {unknown[0]}: not a job file key (use {', '.join(KEYS)})"
        )
    if "kind" not in definition:
        raise ConfigurationError(f"{path}: kind: required")
    return definition


def apply_override(definition: dict, override: str) -> None:
    dotted, sep, text = override.partition("=")
    if not sep or not dotted:
        raise ConfigurationError(f"--set {override!r}: write it as dotted.path=value")
    value: Any = yaml.safe_load(text) if text else ""
    *parents, last = dotted.split(".")
    node = definition
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigurationError(f"--set {dotted}: {part} is not a mapping")
        node = child
    node[last] = value
