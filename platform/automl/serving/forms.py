"""The deployment forms: a main version, an optional canary with its share of the traffic,
and an optional shadow. They build the routes the API takes and leave every rule to
services.validate_traffic, so the errors are the API's own."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from automl.registry.models import ModelVersion


class VersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: ModelVersion) -> str:
        stage = "" if obj.stage == ModelVersion.Stage.NONE else f", {obj.stage}"
        return f"{obj.name} v{obj.version}{stage}"


class TrafficForm(forms.Form):
    main = VersionChoice(
        queryset=ModelVersion.objects.none(),
        empty_label=None,
        label="Main version",
        help_text="Takes the rest of the traffic.",
    )
    canary = VersionChoice(
        queryset=ModelVersion.objects.none(),
        required=False,
        empty_label="none",
        label="Canary version",
        help_text="Optional: a second version of the same model (A/B).",
    )
    canary_percent = forms.FloatField(
        min_value=0.1, max_value=99.9, initial=10, required=False, label="Canary share (%)"
    )
    shadow = VersionChoice(
        queryset=ModelVersion.objects.none(),
        required=False,
        empty_label="none",
        label="Shadow version",
        help_text="Optional: answers every request too; its answers are logged, not returned.",
    )
    follows = forms.ChoiceField(
        required=False,
        choices=[("", "none (fixed versions)")],
        label="Follow alias",
        help_text="Optional: when this registry alias moves to another version, the traffic "
        "of its old version goes to the new one.",
    )
    batch_rows = forms.IntegerField(
        required=False,
        label="Batch up to (rows)",
        help_text="Optional: concurrent requests share one model call of at most this many "
        "rows; empty: no batching.",
    )
    batch_wait_ms = forms.FloatField(
        required=False,
        initial=2,
        label="Batch wait (ms)",
        help_text="How long a request waits for others to join its batch.",
    )

    def __init__(self, *args: Any, versions, aliases: list[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("main", "canary", "shadow"):
            self.fields[name].queryset = versions.order_by("name", "-version")
        self.fields["follows"].choices += [(a, a) for a in aliases]

    def routes(self) -> tuple[list[dict], int | None]:
        data = self.cleaned_data
        routes = [{"version": data["main"].id, "weight": 100.0}]
        if data.get("canary") is not None:
            share = data.get("canary_percent") or 10.0
            routes = [
                {"version": data["main"].id, "weight": 100.0 - share},
                {"version": data["canary"].id, "weight": share},
            ]
        shadow = data.get("shadow")
        return routes, shadow.id if shadow else None

    def batching(self) -> dict | None:
        """The batching setting as the API takes it (services.validate_batching judges it)."""
        rows = self.cleaned_data.get("batch_rows")
        if rows is None:
            return None
        wait = self.cleaned_data.get("batch_wait_ms")
        return {"max_batch_rows": rows, "max_wait_ms": 2.0 if wait is None else wait}

    @staticmethod
    def field_of(path: str) -> str | None:
        """The form field a service error's field (e.g. "routes.1.weight") is about."""
        parts = path.split(".")
        return {
            "routes": "canary" if parts[1:2] == ["1"] else "main",
            "shadow": "shadow",
            "follows": "follows",
            "name": "name",
            "batching": "batch_wait_ms" if parts[1:2] == ["max_wait_ms"] else "batch_rows",
        }.get(parts[0])


class DeploymentForm(TrafficForm):
    name = forms.SlugField(
        max_length=100, help_text="Letters, digits, - and _; unique among your deployments."
    )
    field_order = [
        "name",
        "main",
        "canary",
        "canary_percent",
        "shadow",
        "follows",
        "batch_rows",
        "batch_wait_ms",
    ]


class TryForm(forms.Form):
    """The deployment page's try-it box: rows as JSON, answered as the API answers them."""

    inputs = forms.CharField()
    explain = forms.BooleanField(required=False)

    def clean_inputs(self) -> Any:
        try:
            return json.loads(self.cleaned_data["inputs"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"The rows are not valid JSON: {exc}") from None
