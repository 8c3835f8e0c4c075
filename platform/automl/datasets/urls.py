"""The data set pages (the API routes live in automl/urls.py)."""

from django.urls import path

from automl.datasets import pages

page_urls = [
    path("", pages.dataset_list, name="dataset-pages"),
    path("<int:pk>/", pages.dataset_page, name="dataset-page"),
    path("<int:pk>/delete/", pages.dataset_delete, name="dataset-delete-page"),
    path("<int:pk>/jobs/", pages.dataset_job, name="dataset-job-page"),
]
