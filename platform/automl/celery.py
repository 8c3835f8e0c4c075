"""The Celery app shared by the web process (which sends) and workers (which run)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automl.settings")

app = Celery("automl", include=["workers.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
