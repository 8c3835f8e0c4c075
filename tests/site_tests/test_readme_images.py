"""The README's web UI section shows one committed screenshot per page, each small."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_image_the_readme_shows_is_committed_and_small():
    from tests.browser.test_readme_screenshots import MAX_BYTES, PAGES

    shown = set(
        re.findall(r'<img src="(docs/screenshots/[\w-]+\.png)"', (ROOT / "README.md").read_text())
    )
    assert shown == {f"docs/screenshots/{name}.png" for name in PAGES}
    for path in shown:
        assert 0 < (ROOT / path).stat().st_size <= MAX_BYTES, path
