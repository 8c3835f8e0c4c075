"""The upload form shows how much of the file has gone up, then opens the new data set;
a refused file shows the form's error in place, with no data set left behind."""

import re

import numpy as np
import pytest

from tests.browser.steps import shoot, sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_the_upload_shows_its_progress_then_the_data_set(
    chromium, live_server, django_user_model, tmp_path
):
    from automl.datasets.models import Dataset

    django_user_model.objects.create_user("ana", password="ana-password-1")
    rng = np.random.default_rng(0)
    csv = tmp_path / "wide.csv"
    rows = [
        ",".join(f"{v:.6f}" for v in r) + f",{int(r[0] > 0)}" for r in rng.normal(size=(8000, 12))
    ]
    csv.write_text(",".join(f"x{i}" for i in range(12)) + ",label\n" + "\n".join(rows) + "\n")
    page = chromium.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, live_server.url, "ana", "ana-password-1")
    page.goto(live_server.url + "/datasets/")
    # A slow uplink (about 1 MB in 2.5 s), so the bar is seen between 0 and 100 %.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 400_000},
    )

    page.get_by_label("File", exact=True).set_input_files(str(csv))
    page.get_by_label("Target", exact=True).fill("label")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function(
        "() => { const b = document.querySelector('progress.upload-progress');"
        " return b && !b.hidden && b.value > 0 && b.value < 1; }"
    )
    assert re.fullmatch(r"\d+ % sent", page.locator(".upload-percent").inner_text())
    shoot(page, "upload-progress")
    page.wait_for_url(re.compile(r"/datasets/\d+/$"))
    assert "wide" in page.get_by_role("heading", level=1).inner_text()

    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4\n")
    page.goto(live_server.url + "/datasets/")
    page.get_by_label("File", exact=True).set_input_files(str(bad))
    page.get_by_label("Target", exact=True).fill("nope")
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("alert").filter(has_text="nope").wait_for()
    assert page.url.endswith("/datasets/")
    assert Dataset.objects.filter(owner__username="ana").count() == 1
    # The chosen file survives the error: fixing the target is enough to upload it.
    file_input = page.get_by_label("File", exact=True)
    assert file_input.evaluate("input => input.files[0].name") == "bad.csv"
    assert "Still chosen: bad.csv" in page.locator(".kept-file").inner_text()
    shoot(page, "upload-error-keeps-file")
    page.get_by_label("Target", exact=True).fill("b")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/datasets/\d+/$"))
    assert Dataset.objects.filter(owner__username="ana").count() == 2
