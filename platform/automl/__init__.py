"""The Django project of the AutoML platform; every app lives inside it."""

from automl.celery import app as celery_app

__all__ = ["celery_app"]
