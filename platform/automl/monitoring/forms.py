"""The monitoring policy form of the deployment page. It only reads the fields; their bounds
are MonitoringPolicySerializer's (the API's), applied by `save_policy`, so the page and the
API refuse the same values with the same words."""

from __future__ import annotations

from django import forms

from automl.monitoring.models import MonitoringPolicy
from automl.monitoring.serializers import POLICY_FIELDS, MonitoringPolicySerializer


class PolicyForm(forms.ModelForm):
    class Meta:
        model = MonitoringPolicy
        fields = POLICY_FIELDS

    def save_policy(self, deployment) -> MonitoringPolicy | None:
        """The policy saved through the API's serializer; None with the form's errors set."""
        if not self.is_valid():
            return None
        existing = MonitoringPolicy.objects.filter(deployment=deployment).first()
        body = MonitoringPolicySerializer(existing, data=self.cleaned_data)
        if not body.is_valid():
            for field, problems in body.errors.items():
                self.add_error(field if field in self.fields else None, " ".join(problems))
            return None
        return body.save(deployment=deployment)
