"""Every model of every app is in the admin, with search and filters, and its pages open."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

pytestmark = pytest.mark.django_db

OUR_APPS = {"accounts", "datasets", "jobs", "registry", "serving", "monitoring"}


def our_models():
    return [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]


def test_every_model_is_registered_with_search_and_filters():
    assert len(our_models()) >= 10
    for model in our_models():
        model_admin = admin.site._registry.get(model)
        assert model_admin is not None, f"{model.__name__} has no admin"
        assert model_admin.search_fields, model.__name__
        assert model_admin.list_filter, model.__name__
        names = {f.name for f in model._meta.fields}
        audit = {"created_at", "updated_at", "started_at", "finished_at", "last_seen"} & names
        readonly = set(model_admin.get_readonly_fields(None))
        assert audit <= readonly or not model_admin.has_change_permission(None), model.__name__


def test_the_admin_pages_open(staff, alice_api, deployment):
    from tests.support.traffic import traffic

    traffic(alice_api, deployment, seed=0, n=100)
    staff.is_superuser = True
    staff.save()
    client = Client()
    client.force_login(staff)
    for model in our_models():
        meta = model._meta
        listing = client.get(f"/admin/{meta.app_label}/{meta.model_name}/?q=a")
        assert listing.status_code == 200, meta.label
        first = model.objects.first()
        if first is not None:
            page = client.get(f"/admin/{meta.app_label}/{meta.model_name}/{first.pk}/change/")
            assert page.status_code == 200, meta.label
