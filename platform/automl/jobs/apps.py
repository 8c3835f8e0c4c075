from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "automl.jobs"
    verbose_name = "Jobs"
