"""Plotly figures in server-rendered pages, drawn by plotly.js's *strict* bundle, which we
vendor (machines may be offline: no CDN) and serve gzipped.

Why not the plotly.min.js inside the `plotly` package: it compiles its WebGL shaders with
`new Function`, which the site's Content-Security-Policy (`script-src 'self'`, no
`unsafe-eval`) rightly blocks, so parallel coordinates drew "WebGL is not supported". The
strict bundle ships those shaders precompiled. Its version must be the one the Python
package writes figures for (a test checks); to upgrade both, after raising `plotly` in
requirements.txt: `npm pack plotly.js-strict-dist-min@<get_plotlyjs_version()>`, then
`gzip -9 -c package/plotly-strict.min.js > frontend/vendor/plotly-strict-<v>.min.js.gz`.

In a template: `{{ plotly_js }}` once (from `plotly_js_tag()`), then each
`figure_html(fig)` where the chart goes (a div; static/js/charts.js draws it).
"""

import functools
import gzip
import json
from pathlib import Path

import plotly
import plotly.graph_objects as go
import plotly.io
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from plotly.offline import get_plotlyjs_version

PLOTLY_VERSION = get_plotlyjs_version()
PLOTLY_JS_GZ = (
    Path(settings.ROOT_DIR) / "frontend" / "vendor" / f"plotly-strict-{PLOTLY_VERSION}.min.js.gz"
)


# One look for every page's charts: plotly_white with the Okabe-Ito colours (safe for
# colour-blind readers), so a job's, a data set's and the monitoring's figures match.
COLOURS = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#56b4e9", "#cc79a7", "#f0e442", "#000000"]
TEMPLATE = go.layout.Template(plotly.io.templates["plotly_white"])
TEMPLATE.layout.colorway = COLOURS
TEMPLATE.layout.font = {"family": "system-ui, sans-serif", "size": 12}
TEMPLATE.layout.title = {"font": {"size": 14}}


def themed(fig: go.Figure, *, height: int | None = None) -> go.Figure:
    """The figure in the site's template (and at `height`), as every page draws it."""
    fig.update_layout(template=TEMPLATE)
    if height is not None:
        fig.update_layout(height=height)
    return fig


def figure_html(fig, *, height: int | None = None) -> SafeString:
    """A figure as a div holding its JSON; static/js/charts.js draws it. No inline script,
    so the Content-Security-Policy can forbid them (automl.security)."""
    themed(fig, height=height)
    config = {"displaylogo": False, "responsive": True}
    return format_html(
        '<div class="plotly-graph-div" data-figure="{}" data-config="{}"></div>',
        plotly.io.to_json(fig, validate=False),
        json.dumps(config),
    )


def plotly_js_tag() -> SafeString:
    """The bundled plotly.js (versioned URL, cached for a year) and the script that draws
    every figure_html on the page."""
    url = f"{reverse('plotly-js')}?v={PLOTLY_VERSION}"
    return format_html(
        '<script src="{}" charset="utf-8"></script><script src="{}" defer></script>',
        url,
        static("js/charts.js"),
    )


@functools.cache
def _bundle(gzipped: bool) -> bytes:
    data = PLOTLY_JS_GZ.read_bytes()
    return data if gzipped else gzip.decompress(data)


@require_GET
@cache_control(public=True, max_age=365 * 24 * 3600, immutable=True)
@vary_on_headers("Accept-Encoding")
def plotly_js(request: HttpRequest) -> HttpResponse:
    """The strict bundle: 1.6 MB gzipped to a browser that accepts it, else 5.2 MB."""
    gzipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = HttpResponse(_bundle(gzipped), content_type="text/javascript; charset=utf-8")
    if gzipped:
        response["Content-Encoding"] = "gzip"
    return response
