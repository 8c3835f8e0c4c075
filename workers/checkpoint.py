"""A checkpoint a long search or compression step rewrites as it goes, so that a paused job,
or one whose worker died, resumes where it was instead of starting over.

One file per engine: torch.save of plain data only (tensors, numbers, strings, lists,
dicts: state_dicts, optimizer and scheduler states, RNG states, small JSON-able records),
read back with torch.load(weights_only=True), so it never unpickles anything. A save writes
a temporary file beside it and renames it over the old one: a worker killed mid-write
leaves the previous checkpoint whole. The platform deletes the job's checkpoints once the
job has finished.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch


class Checkpoint:
    """The file at `path`: load() what was saved last (None when nothing was), save()."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> dict | None:
        if not self.path.exists():
            return None
        return torch.load(self.path, map_location="cpu", weights_only=True)

    def save(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        torch.save(state, partial)
        os.replace(partial, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def at(directory: Path | None, name: str) -> Checkpoint | None:
    """The checkpoint `name` under the job's checkpoint directory (None: not kept)."""
    return None if directory is None else Checkpoint(Path(directory) / name)
