"""The client's exceptions: one base, and the API's error answer carried as it came.

Every API error has one shape, `{"error": code, "detail": sentence, "fields": {path: [...]}}`;
`ApiError` keeps all three so a program can branch on `code` and show `fields`.
"""

from typing import Any


class AutoMLError(Exception):
    """Anything the client raises on purpose."""


class ConfigurationError(AutoMLError):
    """No URL or token to talk to, or a job file that cannot be read."""


class ConnectionFailed(AutoMLError):
    """The server could not be reached, even after the retries."""


class ApiError(AutoMLError):
    """The API answered with an error.

    Attributes:
        status: the HTTP status (400, 401, 404, 409, ...).
        code: the API's error code (`invalid`, `not_found`, `conflict`, ...).
        detail: what is wrong, in a sentence.
        fields: each field at fault (`config.n_trials`, `target`, ...) and its messages.
    """

    def __init__(
        self, status: int, code: str, detail: str, fields: dict[str, list[str]] | None = None
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.fields = fields or {}
        super().__init__(f"{status} {code}: {detail}")

    @classmethod
    def from_body(cls, status: int, body: Any, text: str = "") -> "ApiError":
        """The exception for an error answer; a body not in the API's shape (a proxy's
        HTML page, say) is kept as the detail."""
        if isinstance(body, dict) and "error" in body:
            fields = body.get("fields") or {}
            return ERRORS.get(status, cls)(
                status, str(body["error"]), str(body.get("detail", "")), fields
            )
        return ERRORS.get(status, cls)(status, "http_error", text[:500] or f"HTTP {status}")


class InvalidInput(ApiError):
    """400: the input is invalid; `fields` names each field at fault."""


class NotAuthenticated(ApiError):
    """401: no valid token (log in again)."""


class Forbidden(ApiError):
    """403: signed in but not allowed, e.g. a staff-only endpoint."""


class NotFound(ApiError):
    """404: no such object among yours."""


class Conflict(ApiError):
    """409: the object's state refuses the action (a finished job cancelled, ...)."""


class OverQuota(ApiError):
    """429: one of your limits is used up; `detail` names it and its value (e.g. your
    queued and running jobs: wait for one to finish or cancel one)."""


ERRORS: dict[int, type[ApiError]] = {
    400: InvalidInput,
    401: NotAuthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: OverQuota,
}


class JobFailed(AutoMLError):
    """`Job.wait(raise_on_failure=True)` saw the job end failed or cancelled."""

    def __init__(self, job: Any) -> None:
        self.job = job
        message = f"job {job.id} {job.status}"
        if job.error_message:
            message += f": {job.error_message}"
        super().__init__(message)
