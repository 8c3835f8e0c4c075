"""The Celery app shared by the web process (which sends) and workers (which run)."""

import os
import sys
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automl.settings")
# Workers import the tasks from the repository root (workers/), whatever the cwd.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

app = Celery("automl", include=["workers.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
