"""The endpoints outside DRF in the OpenAPI schema: health, readiness and metrics.

They are plain Django views (no DRF authentication, content negotiation or throttles in
front of a probe), so drf-spectacular does not see them; this hook declares them once.
"""

from typing import Any

STATUS = {
    "type": "object",
    "properties": {"status": {"type": "string", "enum": ["ok"]}},
    "required": ["status"],
}
READINESS = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "checks": {
            "type": "object",
            "description": '"ok", or what failed, per dependency (database, broker)',
            "additionalProperties": {"type": "string"},
        },
    },
    "required": ["status", "checks"],
}


def _json(schema: dict | str, description: str) -> dict:
    if isinstance(schema, str):
        schema = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


PATHS: dict[str, dict[str, Any]] = {
    "/healthz": {
        "get": {
            "operationId": "healthz",
            "summary": "Liveness: the web process answers.",
            "tags": ["health"],
            "security": [],
            "responses": {"200": _json("Status", "The process is up.")},
        }
    },
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "summary": "Readiness: the database and the broker both answer.",
            "tags": ["health"],
            "security": [],
            "responses": {
                "200": _json("Readiness", "Ready to serve."),
                "503": _json("Readiness", "A dependency does not answer (named in checks)."),
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics (jobs, trials, queues, workers, serving).",
            "description": "Needs METRICS_TOKEN as a bearer token, or a staff session.",
            "tags": ["health"],
            "security": [{"metricsToken": []}, {"cookieAuth": []}],
            "responses": {
                "200": {
                    "description": "The Prometheus text exposition format.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": _json("Error", "No metrics token or session."),
                "403": _json("Error", "Signed in, but not staff."),
            },
        }
    },
}


def document_plain_views(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular hook: add /healthz, /readyz and /metrics to the schema."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update({"Status": STATUS, "Readiness": READINESS})
    components.setdefault("securitySchemes", {})["metricsToken"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "The METRICS_TOKEN setting, for Prometheus scrapers.",
    }
    result.setdefault("paths", {}).update(PATHS)
    return result
