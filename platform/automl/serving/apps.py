from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "automl.serving"
    verbose_name = "Model serving"
