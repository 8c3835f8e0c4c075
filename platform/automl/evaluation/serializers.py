from rest_framework import serializers

from automl.evaluation.models import Evaluation


class EvaluationSerializer(serializers.ModelSerializer):
    report = serializers.JSONField(
        read_only=True,
        help_text="metrics ({name: {value, low, high, level, n_resamples, n_valid, "
        "direction}}), split, validation (best_trial, cv: {scores, mean, std}), "
        "importances (permutation), hpo_importances; classifiers: classes, "
        "confusion_matrix (rows: true class), roc, pr, calibration; regressors: "
        "residuals.",
    )

    class Meta:
        model = Evaluation
        fields = [
            "id",
            "version",
            "status",
            "error",
            "report",
            "rows_key",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ComparisonSerializer(serializers.Serializer):
    a = serializers.IntegerField(help_text="Version A (the one in the URL).")
    b = serializers.IntegerField(help_text="Version B (the other).")
    n_rows = serializers.IntegerField(help_text="Held-out rows both were scored on.")
    rows_key = serializers.CharField()
    scores = serializers.JSONField(help_text='{"metric": "accuracy"|"rmse", "a": .., "b": ..}')
    better = serializers.IntegerField(allow_null=True, help_text="The better version, if any.")
    significant = serializers.BooleanField(help_text="p < 0.05")
    test = serializers.CharField(help_text="McNemar (exact or chi-square) or paired bootstrap.")
    p_value = serializers.FloatField()
    summary = serializers.CharField(help_text="The result in one sentence, for analysts.")


class CardQuerySerializer(serializers.Serializer):
    # Not "format": DRF reads that query parameter to choose a renderer.
    output = serializers.ChoiceField(choices=["markdown", "html"], default="markdown")
