from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "automl.registry"
    verbose_name = "Model registry"
