from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    name = "automl.evaluation"
    verbose_name = "Model evaluation"
