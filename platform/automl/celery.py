"""The Celery app shared by the web process (which sends) and workers (which run).

Tasks live in the apps (automl/<app>/tasks.py), found by autodiscovery; the web process
sends them by importing them, on commit of the rows they concern.
"""

import logging
import os

from celery import Celery
from celery.contrib.django.task import DjangoTask
from django.db import transaction

from workers.trial_log import install_record_ids

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automl.settings")

log = logging.getLogger(__name__)
install_record_ids()  # before the worker's log format reads %(ids)s


class Task(DjangoTask):
    """DjangoTask, whose sends on commit log a broker that cannot be reached instead of
    raising: the row is committed by then (a job stays queued and the reconciler sends it
    again), so the request that stored it must not fail. Django's own `robust` on_commit
    cannot name a functools.partial, which DjangoTask passes it."""

    def apply_async_on_commit(self, args=None, kwargs=None, **options) -> None:
        def send() -> None:
            try:
                self.apply_async(args, kwargs, **options)
            except Exception:
                log.exception("%s%s not sent: no broker", self.name, tuple(args or ()))

        transaction.on_commit(send)

    def delay_on_commit(self, *args, **kwargs) -> None:
        self.apply_async_on_commit(args, kwargs)


app = Celery("automl", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
