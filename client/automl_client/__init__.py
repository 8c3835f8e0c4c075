"""Python client for the AutoML platform's REST API; the `automl` command line is built on it."""

from automl_client.client import Client
from automl_client.errors import (
    ApiError,
    AutoMLError,
    ConfigurationError,
    Conflict,
    ConnectionFailed,
    Forbidden,
    InvalidInput,
    JobFailed,
    NotAuthenticated,
    NotFound,
    OverQuota,
)
from automl_client.trials import TrialRun, attach, params, report, tell
from automl_client.types import Dataset, Deployment, Job, ModelVersion, Prediction, Trial

__all__ = [
    "ApiError",
    "AutoMLError",
    "Client",
    "ConfigurationError",
    "Conflict",
    "ConnectionFailed",
    "Dataset",
    "Deployment",
    "Forbidden",
    "InvalidInput",
    "Job",
    "JobFailed",
    "ModelVersion",
    "NotAuthenticated",
    "NotFound",
    "OverQuota",
    "Prediction",
    "Trial",
    "TrialRun",
    "attach",
    "params",
    "report",
    "tell",
]
