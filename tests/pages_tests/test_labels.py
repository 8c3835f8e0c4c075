"""Every input on every page has a label a screen reader announces (a <label for>, an
enclosing <label>, or aria-label), and every image-like chart has a title."""

from html.parser import HTMLParser

import pytest
from django.test import Client

from automl.jobs.models import Job
from automl.serving.traffic import create_deployment
from tests.support.factories import HPO_CONFIG, forest_dir, register

pytestmark = pytest.mark.django_db


class Inputs(HTMLParser):
    """Collects the form controls, the ids that a <label for> names, and the controls
    that sit inside a <label>."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict] = []
        self.labelled: set[str] = set()
        self.depth_in_label = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "label":
            self.depth_in_label += 1
            if attrs.get("for"):
                self.labelled.add(attrs["for"])
        elif tag in ("input", "select", "textarea"):
            if attrs.get("type") in ("hidden", "submit", "button"):
                return
            self.controls.append({**attrs, "tag": tag, "in_label": self.depth_in_label > 0})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.depth_in_label -= 1

    def unlabelled(self) -> list[str]:
        return [
            f"<{c['tag']} name={c.get('name')!r}>"
            for c in self.controls
            if not (
                c["in_label"]
                or c.get("aria-label")
                or c.get("aria-labelledby")
                or c.get("id") in self.labelled
            )
        ]


def test_every_control_on_every_page_is_labelled(alice, iris, tmp_path, model_store):
    version = register(alice, forest_dir(tmp_path / "m"), name="iris", dataset=iris)
    deployment = create_deployment(
        alice, name="live", model_name="iris", routes=[{"version": version.id, "weight": 1}]
    )
    job = Job.objects.create(
        owner=alice,
        kind="hpo",
        dataset=iris,
        status="running",
        config=HPO_CONFIG,
        name="search",
    )
    client = Client()
    pages = ["/accounts/login/"]
    client.force_login(alice)
    pages += [
        "/",
        "/datasets/",
        f"/datasets/{iris.id}/",
        "/jobs/",
        "/jobs/new/hpo/",
        "/jobs/new/nas/",
        "/jobs/new/compression/",
        f"/jobs/{job.id}/",
        "/models/",
        f"/models/{version.id}/",
        "/deployments/",
        f"/deployments/{deployment.id}/",
    ]
    checked = 0
    for url in pages:
        if url == "/accounts/login/":
            response = Client().get(url)
        else:
            response = client.get(url)
        assert response.status_code == 200, url
        parser = Inputs()
        parser.feed(response.content.decode())
        assert parser.unlabelled() == [], url
        checked += len(parser.controls)
    assert checked > 40  # the parser did find the forms
