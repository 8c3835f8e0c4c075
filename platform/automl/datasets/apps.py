from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_builtins(sender, **kwargs) -> None:
    from automl.datasets.services import sync_builtin_datasets

    sync_builtin_datasets()


class DatasetsConfig(AppConfig):
    name = "automl.datasets"
    verbose_name = "Data sets"

    def ready(self) -> None:
        # After every migrate (and every test-database flush) the built-ins exist.
        post_migrate.connect(_sync_builtins, sender=self)
