"""The `automl` command line, over the Python client.

Exit codes, for scripts: 0 done; 1 the API refused (the message names the field at fault),
the server could not be reached, or a waited-for job did not succeed; 2 a usage error (a bad
option, no login, an unreadable job file). With `--json`, results are JSON on stdout and
errors JSON on stderr: {"error", "detail", "fields", "status"}.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from automl_client import config
from automl_client.client import Client
from automl_client.errors import (
    ApiError,
    AutoMLError,
    ConfigurationError,
    ConnectionFailed,
    JobFailed,
)
from automl_client.types import Job

API_ERROR = 1
USAGE = 2


class Group(click.Group):
    """Maps the client's exceptions to a message and an exit code, once for every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ApiError as exc:
            fail(ctx, API_ERROR, exc.code, exc.detail, exc.fields, exc.status)
        except (ConnectionFailed, JobFailed) as exc:
            code = "connection_failed" if isinstance(exc, ConnectionFailed) else "job_failed"
            fail(ctx, API_ERROR, code, str(exc))
        except ConfigurationError as exc:
            fail(ctx, USAGE, "usage", str(exc))
        except AutoMLError as exc:
            fail(ctx, API_ERROR, "error", str(exc))


def fail(
    ctx: click.Context,
    exit_code: int,
    code: str,
    detail: str,
    fields: dict | None = None,
    status: int | None = None,
) -> None:
    if (ctx.obj or {}).get("json"):
        body = {"error": code, "detail": detail, "fields": fields or {}, "status": status}
        click.echo(json.dumps(body), err=True)
    else:
        click.echo(f"error: {detail}", err=True)
        for field, messages in (fields or {}).items():
            click.echo(f"  {field}: {' '.join(messages)}", err=True)
    ctx.exit(exit_code)


def client_of(ctx: click.Context) -> Client:
    state = ctx.find_root().obj
    if state.get("client") is None:
        state["client"] = Client(state["url"], state["token"], progress=not state["quiet"])
    return state["client"]


def emit(ctx: click.Context, data: Any, human: Callable[[], None]) -> None:
    """JSON on stdout under --json, else the human form."""
    if ctx.find_root().obj["json"]:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        human()


def table(rows: Iterable[dict], columns: list[str]) -> None:
    rows = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


@click.group(cls=Group)
@click.option("--url", envvar="AUTOML_URL", help="The server (default: AUTOML_URL, the login).")
@click.option("--token", envvar="AUTOML_TOKEN", help="An API token (default: AUTOML_TOKEN).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.version_option(package_name="automl-client")
@click.pass_context
def cli(ctx: click.Context, url: str | None, token: str | None, as_json: bool, quiet: bool):
    """Drive the AutoML platform: data sets, jobs, models, deployments."""
    ctx.obj = {"url": url, "token": token, "json": as_json, "quiet": quiet or as_json}
    ctx.call_on_close(lambda: ctx.obj.get("client") and ctx.obj["client"].close())


main = cli


# --- login


@cli.command()
@click.option("--url", "server", help="The server, e.g. http://127.0.0.1:8000.")
@click.option("--username", prompt=True)
@click.option("--password", prompt=True, hide_input=True)
@click.pass_context
def login(ctx: click.Context, server: str | None, username: str, password: str):
    """Get a token and save it (owner-only file in your config folder)."""
    server = server or ctx.obj["url"] or config.load_login().get("url")
    if not server:
        raise click.UsageError("which server? pass --url")
    client = Client.login(server, username, password, progress=False)
    path = config.save_login(client.url, client.token, username)
    client.close()
    emit(
        ctx,
        {"url": client.url, "username": username, "saved": str(path)},
        lambda: click.echo(f"Logged in to {client.url} as {username} (saved in {path})."),
    )


@cli.command()
@click.pass_context
def logout(ctx: click.Context):
    """Forget the saved login."""
    forgotten = config.forget_login()
    emit(
        ctx,
        {"forgotten": forgotten},
        lambda: click.echo("Logged out." if forgotten else "Not logged in."),
    )


# --- datasets

DATASET_COLUMNS = ["id", "name", "task", "target_name", "n_rows", "n_features", "profile_status"]


@cli.group()
def datasets():
    """Upload and list data sets."""


@datasets.command("list")
@click.pass_context
def datasets_list(ctx: click.Context):
    found = client_of(ctx).datasets.list()
    emit(ctx, [d.raw for d in found], lambda: table([d.raw for d in found], DATASET_COLUMNS))


@datasets.command("upload")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--target", default="", help="The target column (default: the last one).")
@click.option("--name", default="", help="Default: the file name.")
@click.option("--task", type=click.Choice(["classification", "regression"]), default=None)
@click.option("--description", default="")
@click.pass_context
def datasets_upload(ctx, file: Path, target: str, name: str, task: str | None, description: str):
    """Upload a table (.csv with comma, semicolon or tab; .parquet; .xlsx; .jsonl) or an .npz."""
    dataset = client_of(ctx).datasets.upload(
        file, target=target, name=name, task=task or "", description=description
    )
    emit(
        ctx,
        dataset.raw,
        lambda: click.echo(
            f"Data set {dataset.id} ({dataset.name}): {dataset.n_rows} rows, "
            f"{dataset.n_features} features, target {dataset.target_name!r} ({dataset.task}); "
            f"profile {dataset.profile_status}."
        ),
    )


@datasets.command("show")
@click.argument("dataset")
@click.pass_context
def datasets_show(ctx: click.Context, dataset: str):
    """A data set and its profile (ID or name)."""
    found = client_of(ctx).datasets.get(dataset)
    emit(ctx, found.raw, lambda: click.echo(json.dumps(found.raw, indent=2, default=str)))


@datasets.command("rows")
@click.argument("dataset")
@click.option("--limit", default=10, show_default=True, help="Rows from the top of the file.")
@click.pass_context
def datasets_rows(ctx: click.Context, dataset: str, limit: int):
    """The first rows of a data set (ID or name), as it stores them."""
    found = client_of(ctx).datasets.rows(dataset, limit=limit)
    rows = [dict(zip(found["columns"], row, strict=True)) for row in found["rows"]]
    emit(ctx, found, lambda: table(rows, found["columns"]))


# --- jobs

JOB_COLUMNS = [
    "id",
    "kind",
    "name",
    "status",
    "priority",
    "progress",
    "dataset_name",
    "created_at",
]


@cli.group()
def jobs():
    """Submit, watch and cancel jobs."""


def show_job(job: Job) -> None:
    click.echo(f"Job {job.id} ({job.kind}, {job.name!r}): {job.status}")
    if job.waiting_reason:
        click.echo(f"  {job.waiting_reason}")
    if job.error_message:
        click.echo(f"  error: {job.error_message}")
    if job.failure_class:
        click.echo(f"  failure class: {job.failure_class}")
    if job.failure_counts:
        counts = ", ".join(f"{cls} {n}" for cls, n in job.failure_counts.items())
        click.echo(f"  failed trials: {counts}")
    result = job.result or {}
    for key in ("best_value", "best_params"):
        if result.get(key) is not None:
            click.echo(f"  {key}: {json.dumps(result[key], default=str)}")


def finish(ctx: click.Context, job: Job) -> None:
    emit(ctx, job.raw, lambda: show_job(job))
    if job.finished and job.status != "succeeded":
        ctx.exit(API_ERROR)


@jobs.command("submit")
@click.argument("job_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="e.g. config.n_trials=5 (repeatable).",
)
@click.option("--dataset", default=None, help="Replace the file's data set (id or name).")
@click.option(
    "--wait", is_flag=True, help="Wait for the job to finish (exit 1 unless it succeeds)."
)
@click.pass_context
def jobs_submit(ctx, job_file: Path, overrides: tuple[str, ...], dataset: str | None, wait: bool):
    """Submit the job a YAML or JSON file defines (the server validates it)."""
    changes = {"dataset": dataset} if dataset else {}
    client = client_of(ctx)
    job = client.jobs.submit_file(job_file, list(overrides), **changes)
    if not wait:
        emit(ctx, job.raw, lambda: click.echo(f"Job {job.id} submitted ({job.status})."))
        return
    finish(ctx, client.jobs.wait(job.id))


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("job")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Change the job file, e.g. config.n_trials=5 (repeatable).",
)
@click.option("--parallel", default=1, type=click.IntRange(1, 64), help="Trials run at once here.")
@click.pass_context
def tune(ctx, job: str, command: tuple[str, ...], overrides: tuple[str, ...], parallel: int):
    """Tune your own code: run COMMAND once per trial of an external job.

    JOB is a job file (submitted now) or the id of a running external job (this machine
    joins it). Write the command after --, e.g.
    `automl tune examples/external.yaml -- python examples/train.py`. Each run finds its
    parameters in AUTOML_PARAMS (JSON) and AUTOML_PARAMS_FILE, and reports with
    automl_client.report(step, value) / automl_client.tell(value), or prints its value as
    its last line. Exit 1 unless the job succeeds.
    """
    from automl_client.tune import run_trials

    client = client_of(ctx)
    if job.isdigit():
        job_id = int(job)
    else:
        job_id = client.jobs.submit_file(Path(job), list(overrides)).id
        click.echo(f"Job {job_id} submitted.", err=True)
    run_trials(client, job_id, command, parallel)
    finish(ctx, client.jobs.wait(job_id))


@jobs.command("watch")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_watch(ctx: click.Context, job_id: int):
    """Follow a job's progress until it ends (exit 1 unless it succeeds)."""
    finish(ctx, client_of(ctx).jobs.wait(job_id))


@jobs.command("show")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_show(ctx: click.Context, job_id: int):
    job = client_of(ctx).jobs.get(job_id)
    emit(ctx, job.raw, lambda: show_job(job))


@jobs.command("list")
@click.option("--kind", default=None)
@click.option("--status", default=None)
@click.pass_context
def jobs_list(ctx: click.Context, kind: str | None, status: str | None):
    found = client_of(ctx).jobs.list(kind=kind, status=status)
    emit(ctx, [j.raw for j in found], lambda: table([j.raw for j in found], JOB_COLUMNS))


@jobs.command("trials")
@click.argument("job_id", type=int)
@click.option("--csv", "as_csv", is_flag=True, help="The CSV the job page downloads.")
@click.option("--state", default=None, help="Only trials in this state (complete, pruned...).")
@click.option("--family", default=None, help="Only this model family's trials (model: auto).")
@click.option(
    "--ordering", default=None, help="e.g. -value (best first when maximizing), params.svm.C"
)
@click.option("--limit", type=int, default=None, help="Only the first so many.")
@click.pass_context
def jobs_trials(
    ctx: click.Context,
    job_id: int,
    as_csv: bool,
    state: str | None,
    family: str | None,
    ordering: str | None,
    limit: int | None,
):
    """A job's trials: a table, JSON, or CSV; sorted and filtered by the server."""
    client = client_of(ctx)
    if as_csv:
        click.echo(client.jobs.trials_csv(job_id), nl=False)
        return
    from automl_client.client import trial_row

    found = client.jobs.trials(job_id, state=state, family=family, ordering=ordering, limit=limit)
    rows = [trial_row(t) for t in found]
    columns = list(dict.fromkeys(k for r in rows for k in r if k not in ("error", "started_at")))
    emit(ctx, [t.raw for t in found], lambda: table(rows, columns))


@jobs.command("leaderboard")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_leaderboard(ctx: click.Context, job_id: int):
    """Each model family's best and the ensembles, ranked (test score with its 95% interval
    for a job that ensembled; validation otherwise)."""
    board = client_of(ctx).jobs.leaderboard(job_id)

    def human() -> None:
        rows = [
            {
                **row,
                "test_ci": "" if not row["test_ci"] else "{:.4f} - {:.4f}".format(*row["test_ci"]),
            }
            for row in board["rows"]
        ]
        columns = ["rank", "name", "validation", "test", "test_ci", "fit_s", "predict_s"]
        table(rows, columns)
        if budget := board.get("budget"):
            click.echo(
                f"time budget: {budget['used_s']:.1f} s used of {budget['time_budget_s']} s"
            )
        if chosen := (board.get("ensemble") or {}).get("chosen"):
            click.echo(f"registered: the {'ensemble' if chosen == 'ensemble' else 'single best'}")

    emit(ctx, board, human)


@jobs.command("chart")
@click.argument("job_id", type=int)
@click.option(
    "--chart",
    "kind",
    type=click.Choice(["parcoords", "contour", "slice", "edf"]),
    default="parcoords",
    show_default=True,
)
@click.option("--family", help="a model family (model: auto), or 'all'; default: the best's")
@click.option("--param", "params", multiple=True, help="a parameter to draw (repeat)")
@click.option(
    "--out", type=click.Path(dir_okay=False), help="write the Plotly figure JSON to this file"
)
@click.pass_context
def jobs_chart(ctx, job_id: int, kind: str, family, params: tuple[str, ...], out):
    """A chart of the job's search space, as its page draws it: what was drawn and which
    parameters the family offers; --out keeps the figure (plotly.io.from_json reads it)."""
    answer = client_of(ctx).jobs.search_chart(
        job_id, kind, family=family, params=list(params) or None
    )
    if out:
        Path(out).write_text(json.dumps(answer["figure"]))

    def human() -> None:
        click.echo(f"chart: {answer['chart']}")
        if answer["families"]:
            click.echo(f"family: {answer['family']} (of {', '.join(answer['families'])}, all)")
        click.echo(f"drawn: {', '.join(answer['params'])}")
        click.echo(f"parameters: {', '.join(answer['available'])}")
        if answer["note"]:
            click.echo(answer["note"])
        if out:
            click.echo(f"figure written to {out}" if answer["figure"] else "nothing drawn yet")

    emit(ctx, answer, human)


@jobs.command("log")
@click.argument("job_id", type=int)
@click.argument("number", type=int)
@click.pass_context
def jobs_log(ctx: click.Context, job_id: int, number: int):
    """What one trial printed (stdout, stderr, logging), bounded and redacted."""
    text = client_of(ctx).jobs.trial_log(job_id, number)
    emit(ctx, {"number": number, "log": text}, lambda: click.echo(text, nl=False))


@jobs.command("pause")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_pause(ctx: click.Context, job_id: int):
    """Start no new trial, DARTS epoch or compression step; the job pauses once the
    running ones end."""
    job = client_of(ctx).jobs.pause(job_id)
    emit(ctx, job.raw, lambda: show_job(job))


@jobs.command("resume")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_resume(ctx: click.Context, job_id: int):
    """Queue a paused job again; any worker runs it on from its trials and checkpoint."""
    job = client_of(ctx).jobs.resume(job_id)
    emit(ctx, job.raw, lambda: show_job(job))


@jobs.command("extend")
@click.argument("job_id", type=int)
@click.option("--trials", "n_trials", type=int, help="How many more trials (NAS: candidates).")
@click.option(
    "--seconds",
    type=int,
    help="How many more seconds (an HPO job's time_budget_s, a NAS search's timeout_s).",
)
@click.pass_context
def jobs_extend(ctx: click.Context, job_id: int, n_trials: int | None, seconds: int | None):
    """More trials and/or time for a paused job (run once resumed) or a finished one (run
    now)."""
    job = client_of(ctx).jobs.extend(job_id, n_trials=n_trials, seconds=seconds)
    emit(ctx, job.raw, lambda: show_job(job))


@jobs.command("register-best")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_register_best(ctx: click.Context, job_id: int):
    """Register the best finished trial of a failed or cancelled HPO job (a worker refits it)."""
    job = client_of(ctx).jobs.register_best(job_id)
    emit(ctx, job.raw, lambda: show_job(job))


@jobs.command("rerun-failed")
@click.argument("job_id", type=int)
@click.option("--class", "failure_class", default=None, help="Only this failure class (oom...).")
@click.option("--wait/--no-wait", default=False, help="Wait for the job to finish again.")
@click.pass_context
def jobs_rerun_failed(ctx: click.Context, job_id: int, failure_class: str | None, wait: bool):
    """Run a finished job's failed trials again with the same parameters, as new trials."""
    job = client_of(ctx).jobs.rerun_failed(job_id, failure_class)
    if wait:
        finish(ctx, job.wait())
        return
    emit(ctx, job.raw, lambda: show_job(job))


@jobs.command("retry-stage")
@click.argument("job_id", type=int)
@click.argument("stage", type=int)
@click.option("--wait/--no-wait", default=False, help="Wait for the pipeline to finish.")
@click.pass_context
def jobs_retry_stage(ctx: click.Context, job_id: int, stage: int, wait: bool):
    """Continue a failed or cancelled pipeline from STAGE (0: the first)."""
    job = client_of(ctx).jobs.retry_stage(job_id, stage)
    if wait:
        finish(ctx, job.wait())
        return
    emit(ctx, job.raw, lambda: show_job(job))


@jobs.command("cancel")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_cancel(ctx: click.Context, job_id: int):
    """Cancel a job (a running one stops after its current trial)."""
    job = client_of(ctx).jobs.cancel(job_id)
    emit(ctx, job.raw, lambda: click.echo(f"Job {job.id}: {job.status}, cancel requested."))


@jobs.command("continue")
@click.argument("job_id", type=int)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Config keys to change, e.g. n_trials=50.",
)
@click.pass_context
def jobs_continue(ctx: click.Context, job_id: int, overrides: tuple[str, ...]):
    """A new HPO job that starts from this one's finished trials."""
    job = client_of(ctx).jobs.continue_(job_id, **config_changes(overrides))
    emit(ctx, job.raw, lambda: click.echo(f"Job {job.id} submitted ({job.status})."))


@jobs.command("rerun")
@click.argument("job_id", type=int)
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Config keys to change."
)
@click.pass_context
def jobs_rerun(ctx: click.Context, job_id: int, overrides: tuple[str, ...]):
    """Submit a job again with its stored config."""
    job = client_of(ctx).jobs.run_again(job_id, **config_changes(overrides))
    emit(ctx, job.raw, lambda: click.echo(f"Job {job.id} submitted ({job.status})."))


def config_changes(overrides: Iterable[str]) -> dict:
    from automl_client.jobfile import apply_override

    changes: dict = {}
    for override in overrides:
        apply_override(changes, override)
    return changes


# --- models

MODEL_COLUMNS = ["id", "name", "version", "stage", "family", "task", "metrics"]


@cli.group()
def models():
    """Model versions in the registry."""


@models.command("list")
@click.option("--job", type=int, default=None, help="Versions made by this job.")
@click.option("--name", default=None)
@click.option("--stage", default=None)
@click.pass_context
def models_list(ctx: click.Context, job: int | None, name: str | None, stage: str | None):
    found = client_of(ctx).models.list(job=job, name=name, stage=stage)
    emit(ctx, [v.raw for v in found], lambda: table([v.raw for v in found], MODEL_COLUMNS))


# Where a downloaded file goes.
SAVE_TO = click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="File or folder (default: here).",
)


@models.command("download")
@click.argument("version_id", type=int)
@SAVE_TO
@click.pass_context
def models_download(ctx: click.Context, version_id: int, output: Path | None):
    """Save a version's zip (spec, weights, preprocessing)."""
    path = client_of(ctx).models.download(version_id, output)
    emit(ctx, {"path": str(path)}, lambda: click.echo(f"Saved {path}."))


@models.command("export")
@click.argument("version_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript"]), default="onnx")
@SAVE_TO
@click.pass_context
def models_export(ctx: click.Context, version_id: int, fmt: str, output: Path | None):
    """Save a version exported to ONNX (scikit-learn models too, preprocessing included)
    or TorchScript (torch models)."""
    path = client_of(ctx).models.export(version_id, fmt, output)
    emit(ctx, {"path": str(path)}, lambda: click.echo(f"Saved {path}."))


@models.command("stage")
@click.argument("version_id", type=int)
@click.argument("stage", type=click.Choice(["staging", "production", "archived", "none"]))
@click.pass_context
def models_stage(ctx: click.Context, version_id: int, stage: str):
    version = client_of(ctx).models.stage(version_id, stage)
    emit(
        ctx,
        version.raw,
        lambda: click.echo(f"{version.name} v{version.version}: {version.stage}."),
    )


@models.command("alias")
@click.argument("version_id", type=int)
@click.argument("alias")
@click.option("--remove", is_flag=True, help="Remove the alias from this version.")
@click.pass_context
def models_alias(ctx: click.Context, version_id: int, alias: str, remove: bool):
    """Point ALIAS (champion, challenger, ...) at a version, moving it there."""
    models_api = client_of(ctx).models
    if remove:
        models_api.remove_alias(version_id, alias)
        emit(ctx, {"removed": alias}, lambda: click.echo(f"Removed @{alias}."))
        return
    version = models_api.set_alias(version_id, alias)
    emit(
        ctx,
        version.raw,
        lambda: click.echo(f"{version.name} v{version.version} is @{alias}."),
    )


@models.command("compare")
@click.argument("version_ids", type=int, nargs=-1, required=True)
@click.pass_context
def models_compare(ctx: click.Context, version_ids: tuple[int, ...]):
    body = client_of(ctx).models.compare(list(version_ids))
    rows = [
        {**{k: v[k] for k in ("id", "name", "version", "stage")}, **v["metrics"]}
        for v in body["versions"]
    ]
    emit(ctx, body, lambda: table(rows, ["id", "name", "version", "stage", *body["metrics"]]))


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@models.command("import")
@click.argument("archive", type=_FILE, required=False)
@click.option("--name", required=True, help="The registry name (a new version of it).")
@click.option("--spec", "spec_path", type=_FILE, help="spec.json: features, task, classes.")
@click.option("--onnx", type=_FILE, help="An ONNX graph (with --spec).")
@click.option("--pt2", type=_FILE, help="A torch.export program (with --spec).")
@click.option("--skops", type=_FILE, help="A scikit-learn pipeline in skops format (with --spec).")
@click.option("--weights", type=_FILE, help="Torch safetensors weights (with --spec).")
@click.pass_context
def models_import(
    ctx: click.Context,
    archive: Path | None,
    name: str,
    spec_path: Path | None,
    onnx: Path | None,
    pt2: Path | None,
    skops: Path | None,
    weights: Path | None,
):
    """Register a model zip, as `models download` saves it, or a model trained elsewhere:
    --spec with one of --onnx, --pt2, --skops or --weights."""
    try:
        spec = json.loads(spec_path.read_text()) if spec_path else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--spec") from None
    version = client_of(ctx).models.import_(
        name, archive, spec=spec, onnx=onnx, pt2=pt2, skops=skops, weights=weights
    )
    emit(
        ctx,
        version.raw,
        lambda: click.echo(f"Imported {version.name} v{version.version} (id {version.id})."),
    )


# --- deployments and predictions


def parse_canary(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    version, sep, share = value.partition(":")
    try:
        number = float(share.rstrip("%")) / (100 if share.endswith("%") else 1)
        if not sep or not 0 < number < 1:
            raise ValueError
        return int(version), number
    except ValueError:
        raise click.BadParameter("VERSION:SHARE, e.g. 12:0.1 or 12:10%") from None


@cli.command()
@click.argument("version_id", type=int)
@click.option("--name", required=True, help="The deployment's name (a slug).")
@click.option(
    "--canary",
    callback=parse_canary,
    metavar="VERSION:SHARE",
    help="Send SHARE of requests to another version, e.g. 12:0.1.",
)
@click.pass_context
def deploy(ctx: click.Context, version_id: int, name: str, canary: tuple[int, float] | None):
    """Serve a model version (with an optional canary split)."""
    deployment = client_of(ctx).deployments.create(name, version_id, canary=canary)
    split = ", ".join(f"v{r['version']} {r['weight']:g}" for r in deployment.routes)
    emit(
        ctx,
        deployment.raw,
        lambda: click.echo(f"Deployment {deployment.id} ({deployment.name}): {split}."),
    )


@cli.command()
@click.argument("deployment")
@click.pass_context
def rollback(ctx: click.Context, deployment: str):
    """Put a deployment back on its previous split."""
    found = client_of(ctx).deployments.rollback(deployment)
    emit(ctx, found.raw, lambda: click.echo(f"Deployment {found.id} rolled back: {found.routes}."))


@cli.command()
@click.argument("deployment")
@click.option(
    "--input",
    "input_file",
    required=True,
    type=click.File("r"),
    help="A CSV with a header of feature names ('-': stdin).",
)
@click.option("--seed", type=int, default=None, help="Sticky traffic choice (e.g. a user id).")
@click.pass_context
def predict(ctx: click.Context, deployment: str, input_file, seed: int | None):
    """Predict the rows of a CSV with a deployment (ID or name)."""
    rows = [{k: _value(v) for k, v in row.items()} for row in csv.DictReader(input_file)]
    if not rows:
        raise click.BadParameter("the CSV has no rows", param_hint="--input")
    answer = client_of(ctx).deployments.predict(deployment, rows, seed=seed)
    emit(ctx, answer.raw, lambda: [click.echo(_cell(p)) for p in answer.predictions])


def _value(text: str | None) -> Any:
    """A CSV cell as JSON takes it: numbers as numbers, an empty cell as missing."""
    if text is None or text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# --- monitoring policies


@cli.group()
def policy():
    """A deployment's monitoring policy: drift checks and what they do (re-tune)."""


@policy.command("show")
@click.argument("deployment")
@click.pass_context
def policy_show(ctx: click.Context, deployment: str):
    """The policy of a deployment (ID or name)."""
    body = client_of(ctx).deployments.policy(deployment)
    emit(ctx, body, lambda: click.echo(json.dumps(body, indent=2, default=str)))


@policy.command("set")
@click.argument("deployment")
@click.option("--on/--off", "enabled", default=None, help="Switch the policy on or off.")
@click.option("--action", type=click.Choice(["nothing", "alert", "retune"]), default=None)
@click.option("--share-threshold", type=float, help="Drifted share of features that is drift.")
@click.option("--alpha", type=float, help="p-value below which a feature drifted.")
@click.option("--min-rows", type=int, help="Rows below which a feature is not judged.")
@click.option("--window-hours", type=float, help="Recent traffic a check reads.")
@click.option("--check-every-hours", type=float, help="Time between two checks.")
@click.option("--retune-every-hours", type=float, help="At most one re-tune per this many h.")
@click.option("--min-labels", type=int, help="Labelled recent rows a re-tune needs.")
@click.option("--n-trials", type=int, help="Trials of the re-tune search.")
@click.option("--significance", type=float, help="p-value the challenger must beat.")
@click.option("--require-significant/--any-win", default=None)
@click.pass_context
def policy_set(ctx: click.Context, deployment: str, **fields: Any):
    """Change some fields of a deployment's policy (the others keep their values)."""
    given = {k: v for k, v in fields.items() if v is not None}
    body = client_of(ctx).deployments.set_policy(deployment, **given)
    emit(
        ctx,
        body,
        lambda: click.echo(
            f"Policy of deployment {body['deployment']}: "
            f"{'on' if body['enabled'] else 'off'}, on drift {body['action']}."
        ),
    )


@policy.command("check")
@click.argument("deployment")
@click.pass_context
def policy_check(ctx: click.Context, deployment: str):
    """Run the policy's drift check now (re-tuning if it says so)."""
    body = client_of(ctx).deployments.check(deployment)
    emit(ctx, body, lambda: click.echo(body["reason"]))


@policy.command("activity")
@click.argument("deployment")
@click.pass_context
def policy_activity(ctx: click.Context, deployment: str):
    """The activity log: each automatic action and why, newest first."""
    entries = client_of(ctx).deployments.activity(deployment)
    emit(
        ctx,
        entries,
        lambda: [
            click.echo(f"{e['created_at']}  {e['kind']:<22} {e['message']}") for e in entries
        ],
    )


# --- monitoring


@cli.command()
@click.argument(
    "what",
    type=click.Choice(["overview", "jobs", "queues", "workers", "alerts", "drift"]),
    default="overview",
)
@click.pass_context
def monitoring(ctx: click.Context, what: str):
    """Staff: the monitoring dashboard's numbers."""
    body = getattr(client_of(ctx).monitoring, what)()
    emit(ctx, body, lambda: click.echo(json.dumps(body, indent=2, default=str)))


if __name__ == "__main__":
    sys.exit(cli())
