"""Files a user's own code made in an external job's best trial (kind "external").

The registry keeps them, lists them in spec["files"] (name -> sha256 and size) and serves
them for download; the platform does not read them, so every other action is refused with
the reason. Files in the platform's own format (spec.json beside its weights) are
registered as their own kind instead, and can do what that kind does.
"""

from __future__ import annotations

from workers.models.kinds._base import ACTIONS, ModelKind
from workers.models.layout import SPEC_FILE

UNREAD = (
    "the files came from your own code in a format the platform does not read: download "
    "them (attach spec.json and weights in the platform's format to get a servable model)"
)


class ExternalKind(ModelKind):
    name = "external"
    label = "your own files (external job)"
    framework = "external"
    exports = ()
    techniques = ()
    explanation = "occlusion"
    loadable = False
    refusals = {action: UNREAD for action in ACTIONS if action not in ("register", "download")}

    def files(self, spec: dict) -> set[str]:
        return {SPEC_FILE, *(spec.get("files") or {})}

    def n_inputs(self, spec: dict) -> int | None:
        return None
