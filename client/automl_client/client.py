"""The Python client: `Client(url, token)` and one attribute per part of the API.

from automl_client import Client
client = Client()                       # AUTOML_URL/AUTOML_TOKEN, or `automl login`
data = client.datasets.upload("churn.csv", target="churned")
job = client.jobs.submit_file("examples/hpo.yaml", dataset=data.id).wait()
print(job.result["best_trial"], len(job.trials()))
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm
from tqdm.utils import CallbackIOWrapper

from automl_client import config, jobfile
from automl_client.errors import (
    ApiError,
    ConfigurationError,
    ConnectionFailed,
    InvalidInput,
    JobFailed,
    NotFound,
)
from automl_client.trials import TrialRun, trials_to_run
from automl_client.types import Dataset, Deployment, Job, ModelVersion, Prediction, Trial

API = "/api/v1"
PAGE_SIZE = 1000
# Failures after which a request is sent again: nothing reached the server (any method),
# or the connection broke before an answer to a request that is safe to repeat.
UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
BROKEN = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
SAFE_METHODS = ("GET", "HEAD", "DELETE")
OUTSIDE_V1 = ("http://", "https://", "/api/", "/healthz", "/readyz", "/metrics")


class Client:
    """A session with one server.

    Args:
        url: the server, e.g. `http://127.0.0.1:8000`; default `AUTOML_URL`, then the
            saved login.
        token: an API token; default `AUTOML_TOKEN`, then the saved login's.
        timeout: seconds to wait for each answer.
        retries: how many times a request is sent again after a connection error, with
            exponential backoff from `backoff_s`.
        progress: draw progress bars (uploads, `wait`) on stderr.
        transport: an httpx transport (tests; proxies).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        progress: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url, token = config.resolve(url, token)
        if not url:
            raise ConfigurationError(
                "no server: pass Client(url, token), set AUTOML_URL and AUTOML_TOKEN, "
                "or run `automl login`"
            )
        self.url = url.rstrip("/")
        self.token = token
        self.retries = retries
        self.backoff_s = backoff_s
        self.progress = progress
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        self.http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )
        self.datasets = Datasets(self)
        self.jobs = Jobs(self)
        self.models = Models(self)
        self.deployments = Deployments(self)
        self.monitoring = Monitoring(self)
        self.webhooks = Webhooks(self)
        self.schedules = Schedules(self)

    @classmethod
    def login(cls, url: str, username: str, password: str, **options: Any) -> Client:
        """A client holding the token the server gives for these credentials."""
        anonymous = cls(url, "", **options)
        body = anonymous.request(
            "POST", "/auth/token/", json={"username": username, "password": password}
        )
        anonymous.close()
        return cls(url, body["token"], **options)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- HTTP

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The answer to one request (retried after connection errors); an error answer
        raises its ApiError. `path` is under /api/v1 unless it starts with another root."""
        url = path if path.startswith(OUTSIDE_V1) else API + path
        attempt = 0
        while True:
            try:
                if kwargs.get("stream"):
                    options = {k: v for k, v in kwargs.items() if k != "stream"}
                    request = self.http.build_request(method, url, **options)
                    response = self.http.send(request, stream=True)
                else:
                    response = self.http.request(method, url, **kwargs)
                break
            except UNSENT + BROKEN as exc:
                repeatable = isinstance(exc, UNSENT) or method in SAFE_METHODS
                if not repeatable or attempt >= self.retries:
                    raise ConnectionFailed(
                        f"{method} {self.url}{url}: {exc or type(exc).__name__} "
                        f"(after {attempt + 1} attempts)"
                    ) from exc
                time.sleep(self.backoff_s * 2**attempt)
                attempt += 1
            except httpx.TimeoutException as exc:
                raise ConnectionFailed(f"{method} {self.url}{url}: no answer in time") from exc
        if response.status_code >= 400:
            if kwargs.get("stream"):
                response.read()
            try:
                body = response.json()
            except ValueError:
                body = None
            raise ApiError.from_body(response.status_code, body, response.text)
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer (None for an empty one)."""
        response = self.send(method, path, **kwargs)
        return response.json() if response.content else None

    def pages(self, path: str, params: dict | None = None, limit: int | None = None) -> list[dict]:
        """Every item of a paginated list (or its first `limit`)."""
        size = PAGE_SIZE if limit is None else max(1, min(limit, PAGE_SIZE))
        params = {**(params or {}), "page_size": size}
        items: list[dict] = []
        url: str | None = path
        while url and (limit is None or len(items) < limit):
            body = self.request("GET", url, params=params)
            items.extend(body["results"])
            url, params = body.get("next"), None  # `next` carries the query
        return items if limit is None else items[:limit]

    def health(self) -> dict:
        """GET /readyz: whether the database and the broker answer."""
        try:
            return self.request("GET", "/readyz")
        except ApiError as exc:
            return {"status": "unavailable", "detail": exc.detail}

    def _bar(self, **options: Any) -> tqdm:
        return tqdm(disable=not self.progress, leave=False, **options)


class Part:
    def __init__(self, client: Client) -> None:
        self.client = client


class Datasets(Part):
    def list(self) -> list[Dataset]:
        """Yours and the built-in ones."""
        return [Dataset.from_api(d, self.client) for d in self.client.pages("/datasets/")]

    def get(self, dataset: int | str) -> Dataset:
        body = self.client.request("GET", f"/datasets/{self.resolve(dataset)}/")
        return Dataset.from_api(body, self.client)

    def profile(self, dataset: int | str) -> dict:
        return self.get(dataset).raw.get("profile") or {}

    def rows(self, dataset: int | str, limit: int = 10) -> dict:
        """The first `limit` rows as the data set stores them: {"columns", "rows"}."""
        return self.client.request(
            "GET", f"/datasets/{self.resolve(dataset)}/rows/", params={"limit": limit}
        )

    def resolve(self, dataset: int | str) -> int:
        """A data set's id from its id or its name (a built-in's name, or one of yours)."""
        if isinstance(dataset, int) or (isinstance(dataset, str) and dataset.isdigit()):
            return int(dataset)
        if not isinstance(dataset, str):
            raise InvalidInput(
                400, "invalid", "dataset: an id or a name", {"dataset": ["an id or a name"]}
            )
        found = [d for d in self.list() if dataset in (d.builtin_name, d.name)]
        if len(found) != 1:
            problem = "no data set has" if not found else f"{len(found)} data sets have"
            message = f"{problem} the name {dataset!r}; use its id"
            raise InvalidInput(400, "invalid", f"dataset: {message}", {"dataset": [message]})
        return found[0].id

    def upload(
        self,
        path: str | Path,
        *,
        target: str = "",
        name: str = "",
        task: str = "",
        description: str = "",
    ) -> Dataset:
        """Upload a table (.csv, .parquet, .xlsx, .jsonl) or an .npz, with a progress bar;
        small files come back profiled, large ones are profiled by a worker
        (`profile_status` pending, then ready)."""
        path = Path(path)
        fields = {"target": target, "name": name, "task": task, "description": description}
        with (
            path.open("rb") as file,
            self._bar(
                total=path.stat().st_size, unit="B", unit_scale=True, desc=f"upload {path.name}"
            ) as bar,
        ):
            tracked = CallbackIOWrapper(bar.update, file, "read")
            body = self.client.request(
                "POST",
                "/datasets/",
                files={"file": (path.name, tracked)},
                data={k: v for k, v in fields.items() if v},
            )
        return Dataset.from_api(body, self.client)

    def delete(self, dataset: int | str) -> None:
        self.client.request("DELETE", f"/datasets/{self.resolve(dataset)}/")

    def _bar(self, **options: Any) -> tqdm:
        return self.client._bar(**options)


class Jobs(Part):
    def submit(
        self,
        kind: str,
        dataset: int | str | None,
        config: dict,
        *,
        name: str = "",
        resources: dict | None = None,
        priority: int | None = None,
    ) -> Job:
        """Submit a job of any kind; the server validates the whole config now (a bad
        one raises InvalidInput whose `fields` name each field at fault; one past your
        limit of queued and running jobs raises OverQuota). `dataset` is None for an
        external job whose code reads its own data.

        `priority` (-10 to 10, default 0) orders your own queued jobs, higher first; other
        users' jobs are interleaved by fair share whatever it is."""
        body: dict[str, Any] = {
            "kind": kind,
            "dataset": None if dataset is None else self.client.datasets.resolve(dataset),
            "config": config,
        }
        if name:
            body["name"] = name
        if resources:
            body["resources"] = resources
        if priority is not None:
            body["priority"] = priority
        return Job.from_api(self.client.request("POST", "/jobs/", json=body), self.client)

    def submit_file(self, path: str | Path, overrides: list[str] = (), **changes: Any) -> Job:
        """Submit the job a YAML or JSON job file defines (see automl_client.jobfile);
        keyword arguments replace its top-level keys."""
        definition = {**jobfile.load(path, overrides), **changes}
        return self.submit(
            definition["kind"],
            definition.get("dataset"),
            definition.get("config") or {},
            name=definition.get("name") or "",
            resources=definition.get("resources"),
            priority=definition.get("priority"),
        )

    def get(self, job_id: int) -> Job:
        return Job.from_api(self.client.request("GET", f"/jobs/{job_id}/"), self.client)

    def list(self, kind: str | None = None, status: str | None = None) -> list[Job]:
        """Your jobs, newest first."""
        params = {k: v for k, v in {"kind": kind, "status": status}.items() if v}
        return [Job.from_api(j, self.client) for j in self.client.pages("/jobs/", params)]

    def cancel(self, job_id: int) -> Job:
        """A queued job is cancelled at once; a running one stops after its current trial.
        A finished job raises Conflict."""
        body = self.client.request("POST", f"/jobs/{job_id}/cancel/")
        return Job.from_api(body, self.client)

    def trials(
        self,
        job_id: int,
        state: str | None = None,
        *,
        family: str | None = None,
        ordering: str | None = None,
        where: dict | None = None,
        limit: int | None = None,
    ) -> list[Trial]:
        """The job's trials, filtered and sorted by the server (it pages 50,000 as fast
        as 200): `family` ("svm" under model: auto), `ordering` ("-value": best first of a
        maximized metric; "params.svm.C"; "-" for descending), `where` a parameter's
        (low, high) range (None for an open end) or list of categorical values, e.g.
        {"svm.C": (1, None), "svm.kernel": ["rbf"]}; `limit`: only the first so many."""
        params: dict = {"state": state, "family": family, "ordering": ordering}
        for name, wanted in (where or {}).items():
            if isinstance(wanted, tuple):
                params[f"min.{name}"], params[f"max.{name}"] = wanted
            else:
                params[f"is.{name}"] = list(wanted)
        params = {k: v for k, v in params.items() if v is not None}
        rows = self.client.pages(f"/jobs/{job_id}/trials/", params, limit=limit)
        return [Trial.from_api({**t, "job": job_id}, self.client) for t in rows]

    def leaderboard(self, job_id: int) -> dict:
        """Each model family's best and the ensembles, ranked: {"metric", "direction",
        "source" ("test": an ensembling job ranked them on its held-out rows, with 95%
        intervals; "validation": read from the trials), "budget", "ensemble", "rows"}."""
        return self.client.request("GET", f"/jobs/{job_id}/leaderboard/")

    def search_chart(
        self,
        job_id: int,
        chart: str = "parcoords",
        *,
        family: str | None = None,
        params: list[str] | None = None,
    ) -> dict:
        """One chart of the job's search space, as the job page draws it: `chart`
        ("parcoords", "contour", "slice" or "edf"), `family` (a model family under
        model: auto, default the best trial's; "all": every trial) and `params` (default
        its most important few). {"chart", "family", "params", "available", "families",
        "note", "figure": Plotly figure JSON or None}."""
        query = {"chart": chart, "family": family, "param": params}
        query = {k: v for k, v in query.items() if v}
        return self.client.request("GET", f"/jobs/{job_id}/search-chart/", params=query)

    def pause(self, job_id: int) -> Job:
        """Start no new trial, DARTS epoch or compression step; the job pauses once the
        running ones end (HPO, NAS and compression jobs)."""
        return Job.from_api(self.client.request("POST", f"/jobs/{job_id}/pause/"), self.client)

    def resume(self, job_id: int) -> Job:
        """Queue a paused job again; any worker runs it on from its trials and checkpoint."""
        return Job.from_api(self.client.request("POST", f"/jobs/{job_id}/resume/"), self.client)

    def extend(self, job_id: int, n_trials: int | None = None, seconds: int | None = None) -> Job:
        """n_trials more trials and/or `seconds` more time (an HPO job's time_budget_s, a
        NAS search's timeout_s): a paused job runs on with them once resumed, a finished one
        now."""
        given = {"n_trials": n_trials, "seconds": seconds}
        body = self.client.request(
            "POST",
            f"/jobs/{job_id}/extend/",
            json={key: value for key, value in given.items() if value is not None},
        )
        return Job.from_api(body, self.client)

    def register_best(self, job_id: int) -> Job:
        """Register the best finished trial of a failed or cancelled HPO job: a worker
        refits it; the version then appears among the job's models (the job's result's
        refit.model_version)."""
        body = self.client.request("POST", f"/jobs/{job_id}/register-best/")
        return Job.from_api(body, self.client)

    def rerun_failed(self, job_id: int, failure_class: str | None = None) -> Job:
        """Run a finished job's failed trials (all, or those of one failure class) again with
        the same parameters, as new trials linked to them; the job runs again."""
        body = {"failure_class": failure_class} if failure_class else {}
        answer = self.client.request("POST", f"/jobs/{job_id}/trials/rerun/", json=body)
        return Job.from_api(answer["job"], self.client)

    def retry_stage(self, job_id: int, stage: int) -> Job:
        """Run a failed or cancelled pipeline again from stage `stage` (0: the first, up to
        the one that stopped); the stages before it and their models are kept."""
        body = self.client.request("POST", f"/jobs/{job_id}/retry-stage/", json={"stage": stage})
        return Job.from_api(body, self.client)

    def trial_log(self, job_id: int, number: int) -> str:
        """What trial `number` printed: stdout, stderr and logging, bounded and redacted."""
        return self.client.request("GET", f"/jobs/{job_id}/trials/{number}/log/")["log"]

    def trials_to_run(self, job_id: int, *, worker: str | None = None) -> Iterator[TrialRun]:
        """An external job's trials for this machine to run (automl_client.trials)."""
        return trials_to_run(self.client, job_id, worker=worker)

    def trials_frame(self, job_id: int, state: str | None = None):
        """The trials as a pandas DataFrame: one row per trial, `params_<name>` and
        `value` (or `values_<i>`) columns, as Optuna's `study.trials_dataframe()`."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "trials_frame needs pandas: pip install 'automl-client[pandas]'"
            ) from None
        return pandas.DataFrame([trial_row(t) for t in self.trials(job_id, state)])

    def trials_csv(self, job_id: int) -> str:
        """The server's CSV of the job's trials (the page's download)."""
        return self.client.send("GET", f"/jobs/{job_id}/trials.csv").text

    def wait(
        self,
        job_id: int,
        *,
        timeout_s: float | None = None,
        poll_s: float = 1.0,
        raise_on_failure: bool = False,
    ) -> Job:
        """Poll until the job ends, drawing its progress; returns the finished job.

        Raises TimeoutError after `timeout_s`, and JobFailed when `raise_on_failure` and
        the job failed or was cancelled."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self.client._bar(total=100, desc=f"job {job_id}", unit="%") as bar:
            while True:
                job = self.get(job_id)
                bar.set_postfix_str(job.status)
                bar.update(round(100 * (job.progress or 0)) - bar.n)
                if job.finished:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"job {job_id} still {job.status} after {timeout_s}s")
                time.sleep(poll_s)
        if raise_on_failure and job.status != "succeeded":
            raise JobFailed(job)
        return job

    def continue_(self, job_id: int, **changes: Any) -> Job:
        """A new HPO job whose study starts from this one's finished trials
        (`warm_start_from`); `changes` replace config keys (e.g. n_trials=50)."""
        job = self.get(job_id)
        config = {**_resubmittable(job.config), "warm_start_from": job.id, **changes}
        return self.submit(
            job.kind,
            job.dataset,
            config,
            name=f"{job.name} (continued)",
            resources=job.resources,
            priority=job.priority,
        )

    def run_again(self, job_id: int, **changes: Any) -> Job:
        """The same job submitted anew (its stored config, defaults included); `changes`
        replace config keys."""
        job = self.get(job_id)
        config = {**_resubmittable(job.config), **changes}
        return self.submit(
            job.kind,
            job.dataset,
            config,
            name=job.name,
            resources=job.resources,
            priority=job.priority,
        )


def _resubmittable(config: dict) -> dict:
    """A stored config as a submission takes it: the warm start the server resolved from
    `warm_start_from` goes back to naming its job."""
    config = dict(config)
    if isinstance(warm := config.pop("warm_start", None), dict) and warm.get("from_job"):
        config["warm_start_from"] = warm["from_job"]
    return config


def trial_row(trial: Trial) -> dict:
    """One flat row per trial (CSV, DataFrame)."""
    row: dict[str, Any] = {"number": trial.number, "state": trial.state}
    values = trial.values or []
    if len(values) <= 1:
        row["value"] = values[0] if values else None
    else:
        row.update({f"values_{i}": v for i, v in enumerate(values)})
    row.update({f"params_{k}": v for k, v in sorted(trial.params.items())})
    row.update(
        {
            "started_at": trial.started_at.isoformat() if trial.started_at else None,
            "finished_at": trial.finished_at.isoformat() if trial.finished_at else None,
            "worker": trial.worker,
            "failure_class": trial.failure_class,
            "retry_of": trial.retry_of,
            "error": trial.error,
        }
    )
    return row


class Models(Part):
    def list(self, **filters: Any) -> list[ModelVersion]:
        """Your model versions; filters: name, job, stage, alias, task, framework, tag,
        search."""
        params = {k: v for k, v in filters.items() if v is not None}
        return [
            ModelVersion.from_api(v, self.client) for v in self.client.pages("/models/", params)
        ]

    def get(self, version_id: int) -> ModelVersion:
        return ModelVersion.from_api(
            self.client.request("GET", f"/models/{version_id}/"), self.client
        )

    def compare(self, version_ids: list[int]) -> dict:
        """Metrics, size, latency and lineage of 2 to 10 versions side by side."""
        ids = ",".join(str(i) for i in version_ids)
        return self.client.request("GET", "/models/compare/", params={"ids": ids})

    def stage(self, version_id: int, stage: str) -> ModelVersion:
        """Move a version to staging, production or archived."""
        body = self.client.request("POST", f"/models/{version_id}/stage/", json={"stage": stage})
        return ModelVersion.from_api(body, self.client)

    def set_alias(self, version_id: int, alias: str) -> ModelVersion:
        """Point a registry alias (champion, challenger, any name) at this version, moving
        it from another version of the name; deployments that follow it are re-routed."""
        body = self.client.request("POST", f"/models/{version_id}/aliases/", json={"alias": alias})
        return ModelVersion.from_api(body, self.client)

    def remove_alias(self, version_id: int, alias: str) -> None:
        self.client.request("DELETE", f"/models/{version_id}/aliases/{alias}/")

    def by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version of `name` that `alias` points at."""
        found = self.list(name=name, alias=alias)
        if not found:
            raise NotFound(404, "not_found", f"{name} has no alias {alias!r}")
        return found[0]

    def download(self, version_id: int, path: str | Path | None = None) -> Path:
        """Save the version's zip (spec, weights, preprocessing); `path` may be a folder
        (the server's file name is used) or a file; default: the current folder."""
        return self._save(f"/models/{version_id}/download/", path, f"model-{version_id}.zip")

    def export(self, version_id: int, fmt: str = "onnx", path: str | Path | None = None) -> Path:
        """Save the version exported to `fmt` ("onnx" or "torchscript"; scikit-learn models:
        ONNX only, their preprocessing included); `path` as for `download`. A model whose
        kind does not export to fmt raises ApiError (409) naming why."""
        default = f"model-{version_id}.{'pt' if fmt == 'torchscript' else fmt}"
        return self._save(f"/models/{version_id}/export/{fmt}/", path, default)

    def _save(self, url: str, path: str | Path | None, default: str) -> Path:
        response = self.client.send("GET", url, stream=True)
        try:
            target = Path(path or ".")
            if target.is_dir():
                target = target / _attachment_name(response, default)
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                target.open("wb") as file,
                self.client._bar(
                    total=total, unit="B", unit_scale=True, desc=f"download {target.name}"
                ) as bar,
            ):
                for chunk in response.iter_bytes():
                    file.write(chunk)
                    bar.update(len(chunk))
        finally:
            response.close()
        return target

    def import_(
        self,
        name: str,
        archive: str | Path | None = None,
        *,
        spec: dict | None = None,
        onnx: str | Path | None = None,
        pt2: str | Path | None = None,
        skops: str | Path | None = None,
        weights: str | Path | None = None,
        description: str = "",
        tags: list[str] = (),
    ) -> ModelVersion:
        """Register a model as a new version of `name`: a zip (as `download` saves it), or
        a model trained elsewhere, its spec (features, task, classes) with one model file:
        an ONNX graph, a torch.export program (.pt2), a scikit-learn pipeline in skops
        format or torch safetensors weights.
        """
        loose = {"onnx": onnx, "pt2": pt2, "skops": skops, "weights": weights}
        paths = {field: Path(path) for field, path in loose.items() if path is not None}
        if archive is not None:
            paths["archive"] = Path(archive)
        data = {"name": name, "description": description, "tags": ",".join(tags)}
        with ExitStack() as stack:
            files = {
                field: (
                    path.name,
                    stack.enter_context(path.open("rb")),
                    "application/octet-stream",
                )
                for field, path in paths.items()
            }
            if spec is not None:
                files["spec"] = ("spec.json", json.dumps(spec).encode(), "application/json")
            body = self.client.request(
                "POST",
                "/models/import/",
                files=files,
                data={k: v for k, v in data.items() if v},
            )
        return ModelVersion.from_api(body, self.client)


def _attachment_name(response: httpx.Response, default: str) -> str:
    disposition = response.headers.get("Content-Disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "filename" and value:
            return Path(value.strip('"')).name
    return default


class Deployments(Part):
    def list(self) -> list[Deployment]:
        return [Deployment.from_api(d, self.client) for d in self.client.pages("/deployments/")]

    def get(self, deployment: int | str) -> Deployment:
        body = self.client.request("GET", f"/deployments/{self.resolve(deployment)}/")
        return Deployment.from_api(body, self.client)

    def resolve(self, deployment: int | str) -> int:
        """A deployment's id from its id or its name."""
        if isinstance(deployment, int) or deployment.isdigit():
            return int(deployment)
        for found in self.list():
            if found.name == deployment:
                return found.id
        raise NotFound(404, "not_found", f"no deployment named {deployment!r}")

    def create(
        self,
        name: str,
        version: int,
        *,
        canary: tuple[int, float] | None = None,
        shadow: int | None = None,
        **options: Any,
    ) -> Deployment:
        """Serve `version` as `name`; `canary=(other_version, share)` sends that share
        (0-1) of the requests to the other version. `options`: cache_ttl_s,
        log_predictions, batching."""
        return self._create(name, split_routes(version, canary), shadow=shadow, **options)

    def _create(self, name: str, routes: list[dict], **options: Any) -> Deployment:
        model_name = self.client.models.get(routes[0]["version"]).name
        body = {"name": name, "model_name": model_name, "routes": routes, **options}
        return Deployment.from_api(
            self.client.request("POST", "/deployments/", json=body), self.client
        )

    def set_split(
        self, deployment: int | str, version: int, canary: tuple[int, float] | None = None
    ) -> Deployment:
        """Change the traffic; the previous split can be rolled back to."""
        body = {"routes": split_routes(version, canary)}
        answer = self.client.request(
            "PATCH", f"/deployments/{self.resolve(deployment)}/", json=body
        )
        return Deployment.from_api(answer, self.client)

    def follow(self, deployment: int | str, alias: str) -> Deployment:
        """Make the deployment follow a registry alias of its model ("": stop following):
        when the alias moves, the traffic of its old version goes to the new one."""
        answer = self.client.request(
            "PATCH", f"/deployments/{self.resolve(deployment)}/", json={"follows": alias}
        )
        return Deployment.from_api(answer, self.client)

    def rollback(self, deployment: int | str) -> Deployment:
        answer = self.client.request("POST", f"/deployments/{self.resolve(deployment)}/rollback/")
        return Deployment.from_api(answer, self.client)

    def predict(
        self,
        deployment: int | str,
        inputs: list,
        *,
        seed: int | None = None,
        explain: bool = False,
    ) -> Prediction:
        """Predict rows (dicts keyed by feature name, or lists in the model's order)."""
        body: dict[str, Any] = {"inputs": inputs, "explain": explain}
        if seed is not None:
            body["seed"] = seed
        answer = self.client.request(
            "POST", f"/deployments/{self.resolve(deployment)}/predict/", json=body
        )
        return Prediction.from_api(answer, self.client)

    def delete(self, deployment: int | str) -> None:
        self.client.request("DELETE", f"/deployments/{self.resolve(deployment)}/")

    def policy(self, deployment: int | str) -> dict:
        """The deployment's monitoring policy ("exists": false and the defaults when unset)."""
        return self.client.request(
            "GET", f"/deployments/{self.resolve(deployment)}/monitoring-policy/"
        )

    def set_policy(self, deployment: int | str, **fields: Any) -> dict:
        """Set some fields of the monitoring policy (the rest keep their values or
        defaults): enabled, action ("nothing", "alert", "retune"), share_threshold, alpha,
        min_rows, window_hours, check_every_hours, retune_every_hours (the rate limit),
        min_labels, n_trials, significance, require_significant."""
        return self.client.request(
            "PATCH", f"/deployments/{self.resolve(deployment)}/monitoring-policy/", json=fields
        )

    def check(self, deployment: int | str) -> dict:
        """Run the monitoring policy now: {"retune", "reason", "activity"}."""
        return self.client.request(
            "POST", f"/deployments/{self.resolve(deployment)}/monitoring-policy/check/"
        )

    def activity(self, deployment: int | str) -> list[dict]:
        """The deployment's activity log (automatic actions and why), newest first."""
        return self.client.pages(f"/deployments/{self.resolve(deployment)}/activity/")


def split_routes(version: int, canary: tuple[int, float] | None) -> list[dict]:
    if canary is None:
        return [{"version": version, "weight": 100}]
    other, share = canary
    if not 0 < share < 1:
        message = "the canary's share is between 0 and 1 (e.g. 0.1)"
        raise InvalidInput(400, "invalid", f"canary: {message}", {"canary": [message]})
    return [
        {"version": version, "weight": round(100 * (1 - share), 6)},
        {"version": other, "weight": round(100 * share, 6)},
    ]


class Schedules(Part):
    """Jobs (pipelines too) submitted again on a cron schedule, in UTC."""

    def create(
        self, name: str, cron: str, *, job: dict | None = None, from_job: int | None = None
    ) -> dict:
        """Schedule a submission (`job`, as jobs.submit sends it) or repeat one of your
        jobs (`from_job`); e.g. cron "30 2 * * *" every night at 02:30 UTC."""
        body: dict[str, Any] = {"name": name, "cron": cron}
        body.update({"job": job} if job is not None else {"from_job": from_job})
        return self.client.request("POST", "/schedules/", json=body)

    def list(self) -> list[dict]:
        return self.client.pages("/schedules/")

    def set_enabled(self, schedule_id: int, enabled: bool) -> dict:
        return self.client.request(
            "PATCH", f"/schedules/{schedule_id}/", json={"enabled": enabled}
        )

    def delete(self, schedule_id: int) -> None:
        self.client.request("DELETE", f"/schedules/{schedule_id}/")


class Webhooks(Part):
    """Signed POSTs to your URL when a version is registered, a stage or alias moves, a
    deployment changes or drift is found (README, "Webhooks")."""

    def create(self, url: str, events: list[str]) -> dict:
        """Subscribe; the answer's `secret` (shown only now) verifies the signatures."""
        return self.client.request("POST", "/webhooks/", json={"url": url, "events": events})

    def list(self) -> list[dict]:
        return self.client.pages("/webhooks/")

    def set_active(self, webhook_id: int, active: bool) -> dict:
        return self.client.request("PATCH", f"/webhooks/{webhook_id}/", json={"active": active})

    def delete(self, webhook_id: int) -> None:
        self.client.request("DELETE", f"/webhooks/{webhook_id}/")

    def deliveries(self, webhook_id: int) -> list[dict]:
        """The delivery log, newest first: event, payload, status, attempts, answer."""
        return self.client.pages(f"/webhooks/{webhook_id}/deliveries/")


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether a webhook POST is genuine: `signature` (X-AutoML-Signature) is the
    HMAC-SHA256 of "<timestamp>.<body>" keyed by the subscription's secret."""
    import hashlib
    import hmac

    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + digest.hexdigest(), signature)


class Monitoring(Part):
    """Staff only: the same numbers as the monitoring dashboard."""

    def overview(self) -> dict:
        return self.client.request("GET", "/monitoring/")

    def jobs(self, hours: int = 24) -> dict:
        return self.client.request("GET", "/monitoring/jobs/", params={"hours": hours})

    def queues(self) -> dict:
        return self.client.request("GET", "/monitoring/queues/")

    def workers(self) -> dict:
        return self.client.request("GET", "/monitoring/workers/")

    def alerts(self, open_only: bool = False) -> dict:
        return self.client.request(
            "GET", "/monitoring/alerts/", params={"open": "1"} if open_only else None
        )

    def drift(self, deployment: int | None = None) -> dict:
        params = {"deployment": deployment} if deployment else None
        return self.client.request("GET", "/monitoring/drift/", params=params)
