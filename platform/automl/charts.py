"""Plotly figures in server-rendered pages, drawn by the plotly.js inside the `plotly`
package and served by us (machines may be offline: no CDN).

In a template: `{{ plotly_js }}` once (from `plotly_js_tag()`), then each
`figure_html(fig)` where the chart goes.
"""

from pathlib import Path

import plotly
from django.http import FileResponse, HttpRequest
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def figure_html(fig, *, height: int | None = None) -> SafeString:
    """A figure as an HTML fragment (a div and the script that draws it), no plotly.js."""
    if height is not None:
        fig.update_layout(height=height)
    html = fig.to_html(full_html=False, include_plotlyjs=False,
                       config={"displaylogo": False, "responsive": True})  # fmt: skip
    return mark_safe(html)  # noqa: S308 - plotly escapes the figure's data as JSON


def plotly_js_tag() -> SafeString:
    """The <script> that loads the bundled plotly.js (versioned URL, cached for a year)."""
    url = f"{reverse('plotly-js')}?v={plotly.__version__}"
    return mark_safe(f'<script src="{url}" charset="utf-8"></script>')  # noqa: S308


@require_GET
@cache_control(public=True, max_age=365 * 24 * 3600, immutable=True)
def plotly_js(request: HttpRequest) -> FileResponse:
    return FileResponse(PLOTLY_JS.open("rb"), content_type="text/javascript; charset=utf-8")
