"""Plotly figures in server-rendered pages, drawn by the plotly.js inside the `plotly`
package and served by us (machines may be offline: no CDN).

In a template: `{{ plotly_js }}` once (from `plotly_js_tag()`), then each
`figure_html(fig)` where the chart goes (a div; static/js/charts.js draws it).
"""

import json
from pathlib import Path

import plotly
import plotly.io
from django.http import FileResponse, HttpRequest
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def figure_html(fig, *, height: int | None = None) -> SafeString:
    """A figure as a div holding its JSON; static/js/charts.js draws it. No inline script,
    so the Content-Security-Policy can forbid them (automl.security)."""
    if height is not None:
        fig.update_layout(height=height)
    config = {"displaylogo": False, "responsive": True}
    return format_html(
        '<div class="plotly-graph-div" data-figure="{}" data-config="{}"></div>',
        plotly.io.to_json(fig, validate=False),
        json.dumps(config),
    )


def plotly_js_tag() -> SafeString:
    """The bundled plotly.js (versioned URL, cached for a year) and the script that draws
    every figure_html on the page."""
    url = f"{reverse('plotly-js')}?v={plotly.__version__}"
    return format_html(
        '<script src="{}" charset="utf-8"></script><script src="{}" defer></script>',
        url,
        static("js/charts.js"),
    )


@require_GET
@cache_control(public=True, max_age=365 * 24 * 3600, immutable=True)
def plotly_js(request: HttpRequest) -> FileResponse:
    return FileResponse(PLOTLY_JS.open("rb"), content_type="text/javascript; charset=utf-8")
