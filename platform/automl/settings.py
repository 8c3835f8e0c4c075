"""Settings, read only from the environment, with defaults that run on a laptop.

Nothing set: SQLite (WAL) and a kombu filesystem queue under var/.
DATABASE_URL / CELERY_BROKER_URL / REDIS_URL set: Postgres, Redis broker, Redis cache.
The same code path serves both; only the environment differs.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

ROOT_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("AUTOML_VAR_DIR", ROOT_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    if value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def secret_key() -> str:
    """SECRET_KEY from the environment, else generated once into var/ and reused."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    try:
        # O_EXCL: when web and worker start together, exactly one of them writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        key = secrets.token_urlsafe(50)
        f.write(key)
    return key


# DJANGO_ENV=production: SECRET_KEY and ALLOWED_HOSTS must come from the environment, and
# the HTTPS settings below default to on (`manage.py check --deploy` is then clean).
PRODUCTION = os.environ.get("DJANGO_ENV", "development") == "production"
if PRODUCTION:
    for _name in ("SECRET_KEY", "ALLOWED_HOSTS"):
        if not os.environ.get(_name):
            raise ImproperlyConfigured(f"DJANGO_ENV=production needs {_name} in the environment")
SECRET_KEY = secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off with DJANGO_ENV=production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auditlog",  # the audit log's LogEntry and its admin (automl/audit.py)
    "automl.accounts",
    "automl.datasets",
    "automl.jobs",
    "automl.registry",
    "automl.serving",
    "automl.monitoring",
    "automl.evaluation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "automl.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "automl.accounts.throttle.SignInThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "automl.urls"
WSGI_APPLICATION = "automl.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ROOT_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
_database = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE avoids the
    # lock-upgrade deadlock of two writers that both started as readers. Connections are
    # kept (CONN_MAX_AGE above) as on Postgres: opening one per request (its PRAGMAs, and
    # the WAL checkpoint when the last one closes) cost ~5 ms of a 2 ms predict request.
    _database["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
elif _database["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(f"DATABASE_URL: unsupported database {_database['ENGINE']}")
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Queue (Celery) -------------------------------------------------------------------

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
BROKER_KIND = urlparse(CELERY_BROKER_URL).scheme or "filesystem"
if BROKER_KIND not in ("filesystem", "redis", "rediss"):
    raise ImproperlyConfigured(f"CELERY_BROKER_URL: unsupported broker {BROKER_KIND!r}")

QUEUE_DIR = VAR_DIR / "queue"
if BROKER_KIND == "filesystem":
    QUEUE_DIR.mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(QUEUE_DIR),
        "data_folder_out": str(QUEUE_DIR),
        # kombu's default control folder is "control" under the current directory.
        "control_folder": str(QUEUE_DIR / "control"),
        "store_processed": False,
        # Listing a local folder is cheap; kombu's default of 1 s would add up to a
        # second to every hop (submit -> run_job -> run_trials).
        "polling_interval": 0.1,
    }
else:
    # Redis redelivers an unacknowledged task after the visibility timeout; it must be
    # longer than the longest job, or a running job would be started a second time.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 12 * 3600)
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # Postgres holds every result; the broker only carries work.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool child imports torch as it starts (its thread share, automl/jobs/worker.py), which
# takes longer than Celery's default 4 s on a loaded machine: the worker would kill every
# child that replaces one ended (a trial past its hard limit, a crash) before it is up.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env_int("CELERY_WORKER_PROC_ALIVE_TIMEOUT", 120)
# `ids` names the job and trial a line is about ("job 7 trial 3 "; workers/trial_log.py).
CELERY_WORKER_LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(ids)s%(message)s"
CELERY_WORKER_TASK_LOG_FORMAT = (
    "[%(asctime)s: %(levelname)s/%(processName)s] %(task_name)s[%(task_id)s]: %(ids)s%(message)s"
)
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The filesystem transport has no broadcast exchange, so remote control cannot work there.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = BROKER_KIND != "filesystem"

# --- Artifacts ------------------------------------------------------------------------

ARTIFACT_ROOT = Path(os.environ.get("ARTIFACT_ROOT", VAR_DIR / "artifacts")).resolve()

# --- Data sets ------------------------------------------------------------------------

# Uploads stream to ARTIFACT_ROOT/datasets/; a larger file is refused with 413 as soon as
# it passes this size (before reading the body when Content-Length already says so).
DATASET_MAX_UPLOAD_BYTES = env_int("DATASET_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
DATASET_MAX_COLUMNS = env_int("DATASET_MAX_COLUMNS", 2000)
# Files up to this size are profiled during the upload; larger ones by a worker task.
DATASET_PROFILE_INLINE_BYTES = env_int("DATASET_PROFILE_INLINE_BYTES", 5 * 1024 * 1024)

# --- Model registry and serving -------------------------------------------------------

# Registered model files: a local folder by default, a shared volume in production (every
# web replica and worker must see the same path); another backend implements
# automl.registry.storage.ArtifactStorage.
MODEL_STORE_ROOT = Path(os.environ.get("MODEL_STORE_ROOT", ARTIFACT_ROOT / "registry")).resolve()
MODEL_STORE_BACKEND = os.environ.get("MODEL_STORE_BACKEND", "automl.registry.storage.LocalStorage")
MODEL_MAX_UPLOAD_BYTES = env_int("MODEL_MAX_UPLOAD_BYTES", 500 * 1024 * 1024)
MODEL_MAX_SPEC_BYTES = env_int("MODEL_MAX_SPEC_BYTES", 10 * 1024 * 1024)
MODEL_MAX_PARAMETERS = env_int("MODEL_MAX_PARAMETERS", 50_000_000)  # of an imported torch model
MODEL_MAX_ZIP_RATIO = env_int("MODEL_MAX_ZIP_RATIO", 100)  # unpacked / packed, per zip member
# Every multipart body, whichever view reads it, is streamed to temporary files and refused
# past the largest upload limit (from Content-Length before reading, else while reading).
FILE_UPLOAD_HANDLERS = ["automl.datasets.uploads.BodyLimitHandler"]
# Exports and bundles run one at a time per web process (automl.heavy); another request
# waits this long for its turn, then gets a 503 "busy, retry".
HEAVY_WORK_WAIT_S = env_float("HEAVY_WORK_WAIT_S", 2.0)
SERVING_MODEL_CACHE_SIZE = env_int("SERVING_MODEL_CACHE_SIZE", 8)  # models kept per process
SERVING_CACHE_TTL_S = env_int("SERVING_CACHE_TTL_S", 300)  # predict result cache; 0: off
SERVING_MAX_ROWS = env_int("SERVING_MAX_ROWS", 10_000)  # rows per predict request
SERVING_LOG_RETENTION_DAYS = env_int("SERVING_LOG_RETENTION_DAYS", 30)
SERVING_LOG_MAX_ENTRIES = env_int("SERVING_LOG_MAX_ENTRIES", 100_000)  # per deployment
SERVING_LOG_MAX_ROWS = env_int("SERVING_LOG_MAX_ROWS", 100)  # rows of a request kept
SERVING_LOG_PRUNE_EVERY = env_int("SERVING_LOG_PRUNE_EVERY", 200)  # writes between prunes
SERVING_LOG_PRUNE_BATCH = env_int("SERVING_LOG_PRUNE_BATCH", 5_000)  # rows deleted at most

# --- Jobs -----------------------------------------------------------------------------

# A running job whose worker has not written a heartbeat for this long is taken to be
# dead, and a redelivered run_job may claim it again.
JOB_STALE_AFTER_S = env_int("JOB_STALE_AFTER_S", 300)
# A trial whose worker has not beaten its heartbeat for this long is failed, so that the
# job's other workers can finish the study.
TRIAL_STALE_AFTER_S = env_int("TRIAL_STALE_AFTER_S", 60)
# The longest any HPO trial may run, whatever its job's trial_timeout_s (which is at most
# this in effect), and how long a trial past a deadline or a cancel may take to stop by
# itself before its worker process is ended (workers/training/stopping.py, Watchdog).
TRIAL_MAX_S = env_int("TRIAL_MAX_S", 6 * 3600)
TRIAL_STOP_GRACE_S = env_int("TRIAL_STOP_GRACE_S", 10)
# A job still queued this long after submission is sent to the broker again (it may have
# lost the message, e.g. a Redis restart without persistence).
RECONCILE_QUEUED_AFTER_S = env_int("RECONCILE_QUEUED_AFTER_S", 120)
# Per-user limits (staff raise them for one user in the admin, accounts.Quota): queued and
# running jobs (a submission past it is a 429), a job's parallelism (past it, a 400);
# running jobs and trial runners at once over running jobs (past them, jobs wait queued).
JOB_MAX_ACTIVE_PER_USER = env_int("JOB_MAX_ACTIVE_PER_USER", 20)
JOB_MAX_PARALLELISM_PER_USER = env_int("JOB_MAX_PARALLELISM_PER_USER", 16)
JOB_MAX_RUNNING_PER_USER = env_int("JOB_MAX_RUNNING_PER_USER", 8)
JOB_MAX_TRIALS_IN_FLIGHT_PER_USER = env_int("JOB_MAX_TRIALS_IN_FLIGHT_PER_USER", 32)
# The scheduler (automl.jobs.dispatch) sends the broker only as many jobs as the live
# workers have pool processes for their queue, plus this many waiting ahead, so that a
# newly submitted job never queues behind another user's backlog in the broker.
JOB_DISPATCH_AHEAD = env_int("JOB_DISPATCH_AHEAD", 2)
EVALUATION_MAX_RUNNING_S = env_int("EVALUATION_MAX_RUNNING_S", 3600)  # then: lost, failed
# Bootstrap resamples behind each metric's interval in an evaluation report (and a
# regressors' comparison): each costs one call of every metric.
EVALUATION_RESAMPLES = env_int("EVALUATION_RESAMPLES", 1000)
PROFILE_MAX_PENDING_S = env_int("PROFILE_MAX_PENDING_S", 3600)  # then: lost, failed
RECONCILE_EVERY_S = env_int("RECONCILE_EVERY_S", 60)  # how often beat runs the reconciler
CELERY_BEAT_SCHEDULE = {
    # A pass that waited behind a long job for a whole period is dropped, not piled up.
    "reconcile-jobs": {
        "task": "automl.reconcile_jobs",
        "schedule": float(RECONCILE_EVERY_S),
        "options": {"expires": float(RECONCILE_EVERY_S)},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Monitoring -----------------------------------------------------------------------

DRIFT_WINDOW_HOURS = env_float("DRIFT_WINDOW_HOURS", 24.0)  # logged traffic a report reads
DRIFT_MIN_ROWS = env_int("DRIFT_MIN_ROWS", 30)  # fewer values: a feature is not judged
DRIFT_MAX_ROWS = env_int("DRIFT_MAX_ROWS", 100_000)  # newest rows a report reads at most
DRIFT_SHARE_THRESHOLD = env_float("DRIFT_SHARE_THRESHOLD", 0.5)  # drifted share -> alert
DRIFT_REPORT_EVERY_S = env_int("DRIFT_REPORT_EVERY_S", 3600)
# The shortest time between two automatic re-tunes of one deployment that any monitoring
# policy may ask for (a policy's retune_every_hours is at least this).
RETUNE_MIN_INTERVAL_HOURS = env_float("RETUNE_MIN_INTERVAL_HOURS", 1.0)
MONITORING_ACCURACY_THRESHOLD = env_float("MONITORING_ACCURACY_THRESHOLD", 0.8)
MONITORING_MIN_LABELS = env_int("MONITORING_MIN_LABELS", 20)  # before accuracy can alert
MONITORING_WEBHOOK_URL = os.environ.get("MONITORING_WEBHOOK_URL", "")  # alerts are POSTed
MONITORING_WEBHOOK_TIMEOUT_S = env_float("MONITORING_WEBHOOK_TIMEOUT_S", 5.0)
# Registry webhooks (automl.registry.webhooks): a delivery that fails is retried
# WEBHOOK_MAX_ATTEMPTS times in all, after WEBHOOK_RETRY_BASE_S, then twice that, ...
WEBHOOK_TIMEOUT_S = env_float("WEBHOOK_TIMEOUT_S", 5.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 5)
WEBHOOK_RETRY_BASE_S = env_float("WEBHOOK_RETRY_BASE_S", 10.0)
MONITORING_QUEUES = env_list("MONITORING_QUEUES", "cpu,gpu")  # queue depths shown
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")  # /metrics: Bearer token (or staff)
WORKER_HEARTBEAT_S = env_int("WORKER_HEARTBEAT_S", 10)
CELERY_BEAT_SCHEDULE["schedules"] = {"task": "automl.run_schedules", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["drift-reports"] = {
    "task": "automl.drift_reports",
    "schedule": float(DRIFT_REPORT_EVERY_S),
}

# --- API ------------------------------------------------------------------------------

REST_FRAMEWORK = {
    # Token first: an unauthenticated request then gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "automl.api.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "automl.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies only, so the schema offers one media type per body and client generators
    # accept it; the upload views declare their own (multipart) parsers.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",  # the test client speaks what the API reads
    "NUM_PROXIES": env_int("TRUSTED_PROXY_HOPS", 0) or None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "AutoML platform API",
    "DESCRIPTION": "Submit HPO jobs, follow their trials, read their results.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",  # served by us: pages work with no network
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "DatasetSourceEnum": "automl.datasets.models.Dataset.Source",
        "DatasetTaskEnum": "automl.datasets.models.Dataset.Task",
        "AlertKindEnum": "automl.monitoring.models.Alert.Kind",
        "JobKindEnum": "automl.jobs.models.Job.Kind",
        "JobStatusEnum": "automl.jobs.models.Job.Status",
        "TrialStateEnum": "automl.jobs.models.Trial.State",
        "FailureClassEnum": "automl.jobs.models.FAILURE_CLASSES",
    },
    # Every operation documents the error answers it can give (automl.api.document_errors).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "automl.api.document_errors",
        "automl.openapi.document_plain_views",
    ],
}

# --- HTTPS and headers (automl.security adds the Content-Security-Policy) ---------------

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# Probes and scrapers call the app itself over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
# Behind nginx (docker/nginx.conf sets X-Forwarded-Proto): trust it only when a proxy that
# overwrites the header stands in front, or any client could claim HTTPS.
if env_bool("SECURE_PROXY_SSL_HEADER", PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# --- Auth, i18n, static ---------------------------------------------------------------

# Every sign-in (login page, token endpoint, admin) passes the failed sign-in count.
AUTHENTICATION_BACKENDS = ["automl.accounts.throttle.ThrottledBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"  # automl.accounts.pages: every user, not only staff
# Failed sign-ins per username and address (login page and token endpoint) before a wait.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_S = env_int("LOGIN_FAILURE_WINDOW_S", 15 * 60)
# Reverse proxies in front of the web app whose X-Forwarded-For is trusted (nginx: 1).
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [ROOT_DIR / "frontend" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# collectstatic (`./run up`, the image) writes each file and its gzipped copy under
# STATIC_ROOT, which whitenoise serves, compressed to browsers that accept it. Until it has
# run (tests, a bare checkout) the files are served straight from the apps, uncompressed.
WHITENOISE_USE_FINDERS = not any(STATIC_ROOT.iterdir())

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
