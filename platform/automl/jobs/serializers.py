import math

from django.db.models import Count
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from automl.accounts.models import limits_for
from automl.datasets.models import Dataset
from automl.datasets.services import job_task
from automl.jobs import dispatch, kinds, studies
from automl.jobs.models import FAILURE_CLASSES, Job, Schedule, Trial
from workers.config import MAX_PARALLELISM, MAX_TIMEOUT_S
from workers.hpo.config import MAX_TRIALS

DEVICES = ["auto", "cpu", "cuda"]
PLATFORM_KEYS = ("parallelism", "warm_start_from")
PRIORITIES = (-10, 10)
WARM_START_MAX = 500


class ResourcesSerializer(serializers.Serializer):
    device = serializers.ChoiceField(
        choices=DEVICES, default="auto", help_text="auto: a GPU when the worker has one."
    )
    gpus = serializers.IntegerField(
        min_value=0,
        max_value=64,
        default=0,
        help_text="GPUs each trial gets (a worker child's slice of the worker's GPUs); a "
        "worker whose children hold fewer fails the job saying so.",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["device"] == "cpu" and attrs["gpus"] > 0:
            raise serializers.ValidationError({"gpus": "must be 0 when device is 'cpu'"})
        return attrs


def stage_problems(config: dict, resources: dict) -> dict[str, str]:
    """Model-parallel stages take a GPU each: trainer.stages may not exceed resources.gpus,
    unless the job runs on the CPU (device 'cpu': every stage on the CPU, to try a config
    where there is no GPU)."""
    trainer = config.get("trainer")
    stages = trainer.get("stages", 1) if isinstance(trainer, dict) else 1
    if resources["device"] == "cpu" or stages <= resources["gpus"] or stages == 1:
        return {}
    return {
        "config.trainer.stages": f"{stages} stages need {stages} GPUs, one each; "
        f"resources.gpus is {resources['gpus']} (or set resources.device to 'cpu' to run "
        "every stage on the CPU)"
    }


@extend_schema_field(OpenApiTypes.INT)
class DatasetField(serializers.PrimaryKeyRelatedField):
    """A data set the caller may use; anything else reads as 'does not exist'."""

    def get_queryset(self):
        return Dataset.visible_to(self.context["request"].user)


class JobSubmitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=kinds.choices())
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    dataset = DatasetField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Required by every kind but external (your own code reads its own data).",
    )
    config = serializers.JSONField(
        help_text="Engine settings; see the README for the HPO schema. Defaults are filled in."
    )
    resources = ResourcesSerializer(required=False)
    priority = serializers.IntegerField(
        min_value=PRIORITIES[0],
        max_value=PRIORITIES[1],
        default=0,
        help_text="Order among your own queued jobs: higher first (default 0). Other users' "
        "jobs are interleaved by fair share whatever it is.",
    )

    def validate(self, attrs: dict) -> dict:
        dataset: Dataset | None = attrs["dataset"]
        config = attrs["config"]
        kind = kinds.get(attrs["kind"])
        if dataset is None and kind.needs_dataset:
            raise serializers.ValidationError({"dataset": f"required for {kind.noun} jobs"})
        # Keys the platform handles itself; the rest is the engine's to validate.
        platform_keys = {}
        if isinstance(config, dict):
            config = dict(config)
            platform_keys = {key: config.pop(key) for key in PLATFORM_KEYS if key in config}
        # The task follows from the data set and the config's target/task (automl.datasets).
        task, errors = job_task(dataset, config) if kind.needs_dataset else (None, {})
        for key, value in platform_keys.items():
            # A stored config carries parallelism 1: sent back as it is, it is fine.
            if key not in kind.platform_keys and not (key == "parallelism" and value == 1):
                takers = [k.noun for k in kinds.all_kinds() if key in k.platform_keys]
                errors[f"config.{key}"] = f"only {' and '.join(takers)} jobs take this"
        parallelism = platform_keys.get("parallelism", 1)
        checked, problems = kind.checked(
            config,
            dataset=dataset,
            task=task,
            owner=self.context["request"].user,
            parallelism=platform_keys.get("parallelism"),
        )
        errors.update(problems)
        # A refused config is still checked against the resources below, as it was sent.
        config = config if checked is None else checked
        if type(parallelism) is not int or not 1 <= parallelism <= MAX_PARALLELISM:
            errors["config.parallelism"] = f"must be a whole number from 1 to {MAX_PARALLELISM}"
        elif problem := parallelism_over_quota(self.context["request"].user, parallelism):
            errors["config.parallelism"] = problem
        resources = attrs.setdefault("resources", ResourcesSerializer().to_internal_value({}))
        if isinstance(config, dict) and not any(p.startswith("config.trainer") for p in errors):
            errors.update(stage_problems(config, resources))
        warm_start = None
        if "warm_start_from" in platform_keys:
            warm_start = self._warm_start(platform_keys["warm_start_from"], errors)
        if errors:
            raise serializers.ValidationError(errors)
        config["parallelism"] = parallelism
        if warm_start is not None:
            config["warm_start"] = warm_start
        attrs["config"] = config
        if not attrs.get("name"):
            attrs["name"] = f"{attrs['kind']} on {dataset.name}" if dataset else attrs["kind"]
        return attrs

    def _warm_start(self, job_id: object, errors: dict) -> dict | None:
        """The finished trials of one of the caller's continuable jobs, to seed the new
        study."""
        user = self.context["request"].user
        continuable = [k for k in kinds.all_kinds() if k.continuable]
        source = None
        if type(job_id) is int:
            source = Job.objects.filter(
                owner=user, kind__in=[k.name for k in continuable], id=job_id
            ).first()
        if source is None:
            nouns = " or ".join(k.noun for k in continuable)
            errors["config.warm_start_from"] = (
                f"{job_id!r} is not the id of one of your {nouns} jobs"
            )
            return None
        trials = source.trials.filter(state=Trial.State.COMPLETE, excluded=False).order_by(
            "number"
        )
        return {
            "from_job": source.id,
            "trials": [{"params": t.params, "values": t.values} for t in trials[:WARM_START_MAX]],
        }


def parallelism_over_quota(user, parallelism: int) -> str:
    """Why the user may not run a job of this parallelism ("" when they may): past their
    parallelism limit, or past their trials in flight (it could never start)."""
    limits = limits_for(user)
    for limit, value, setting in (
        ("parallelism limit", limits.parallelism, "JOB_MAX_PARALLELISM_PER_USER"),
        (
            "limit of trials in flight",
            limits.trials_in_flight,
            "JOB_MAX_TRIALS_IN_FLIGHT_PER_USER",
        ),
    ):
        if parallelism > value:
            return f"at most {value}: your {limit} ({setting}, or your quota) is {value}"
    return ""


def submit_serializers() -> dict[str, type[JobSubmitSerializer]]:
    """One submission serializer per job kind, for the OpenAPI schema only (validation is
    JobSubmitSerializer's): its `kind` is that kind and its `config` is typed from the
    kind's config dataclass, so the request body is a oneOf discriminated by `kind`."""
    out = {}
    for kind in kinds.all_kinds():
        title = "".join(part.title() for part in kind.name.split("_"))
        field = extend_schema_field(kind.config_schema())(
            type(f"{title}ConfigField", (serializers.JSONField,), {})
        )
        out[kind.name] = type(
            f"{title}JobSubmitSerializer",
            (JobSubmitSerializer,),
            {
                "kind": serializers.ChoiceField(choices=[kind.name]),
                "config": field(help_text=f"The {kind.noun} job's settings; defaults filled in."),
            },
        )
    return out


class JobSerializer(serializers.ModelSerializer):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True, allow_null=True)
    owner = serializers.CharField(source="owner.username", read_only=True)
    study_name = serializers.CharField(
        read_only=True,
        help_text="Its Optuna study (HPO jobs, and NAS jobs with parallelism > 1), for "
        "optuna.load_study or optuna-dashboard.",
    )
    study_storage = serializers.SerializerMethodField(
        help_text="Where the study lives: `postgresql` (the platform's database; "
        "`manage.py optuna_dashboard_role` prints a read-only URL) or `journal` (a file "
        "under var/studies/ named after the study)."
    )
    waiting_reason = serializers.SerializerMethodField(
        help_text="Why a queued job has not started yet (a limit of yours, other users' "
        "jobs ahead in the fair share, your own jobs ahead); empty once it runs."
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "name",
            "owner",
            "dataset",
            "dataset_name",
            "config",
            "resources",
            "queue",
            "priority",
            "status",
            "waiting_reason",
            "progress",
            "cancel_requested",
            "pause_requested",
            "error_message",
            "failure_class",
            "result",
            "parent",
            "study_name",
            "study_storage",
            "worker_host",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_study_storage(self, job: Job) -> str:
        return studies.storage_kind()

    def get_waiting_reason(self, job: Job) -> str:
        return dispatch.waiting_reason(job)


class TrialSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trial
        fields = [
            "number",
            "state",
            "params",
            "values",
            "intermediate_values",
            "error",
            "failure_class",
            "retry_of",
            "retry_change",
            "notes",
            "tags",
            "excluded",
            "exclude_reason",
            "worker",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class LeaderboardRowSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    name = serializers.CharField(help_text="'<family> (trial N)' or 'ensemble (<method>)'")
    kind = serializers.ChoiceField(choices=["family", "ensemble"])
    trial = serializers.IntegerField(allow_null=True)
    single_best = serializers.BooleanField(help_text="The trial the job refit as its best.")
    metric = serializers.CharField()
    validation = serializers.FloatField(help_text="On the trials' validation rows.")
    test = serializers.FloatField(allow_null=True, help_text="On the held-out test rows.")
    test_ci = serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        allow_null=True,
        help_text="95% bootstrap interval of the test score [low, high].",
    )
    fit_s = serializers.FloatField(allow_null=True)
    predict_s = serializers.FloatField(allow_null=True, help_text="Predicting the test rows.")


class LeaderboardSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    metric = serializers.CharField()
    direction = serializers.CharField()
    budget = serializers.DictField(
        allow_null=True, help_text="{time_budget_s, used_s} of a time-budgeted job."
    )
    ensemble = serializers.DictField(
        help_text="The ensemble: method, members (trial, family, weight, params), test "
        "metrics beside the single best's, and which was registered (chosen)."
    )
    source = serializers.ChoiceField(
        choices=["test", "validation"],
        help_text="test: ranked on the held-out rows (an ensembling job); validation: "
        "read from the trials.",
    )
    rows = LeaderboardRowSerializer(many=True)


class TrialCurationSerializer(serializers.Serializer):
    """What a user may change on a trial: notes, tags, and its exclusion with a reason."""

    notes = serializers.CharField(max_length=10_000, allow_blank=True, required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=20, required=False
    )
    excluded = serializers.BooleanField(
        required=False,
        help_text="Left out of charts, importances, best-trial choice and warm starts; kept.",
    )
    exclude_reason = serializers.CharField(max_length=500, allow_blank=True, required=False)


# --- external trials: what the user's machines send and get back


def _finite(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise serializers.ValidationError({field: "must be a finite number"})
    return value


class AskSerializer(serializers.Serializer):
    worker = serializers.CharField(
        max_length=255,
        required=False,
        default="",
        allow_blank=True,
        help_text="Who asks (e.g. host:pid), shown in the trial list.",
    )


class AskAnswerSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["trial", "wait", "done"],
        help_text="trial: run it; wait: every place is taken while trials still run (one "
        "may be lost and need replacing), ask again after retry_after_s; done: stop.",
    )
    number = serializers.IntegerField(allow_null=True)
    params = serializers.DictField(help_text="Parameter name -> value (nested: 'choice.name').")
    token = serializers.CharField(
        allow_null=True, help_text="Send it with each report, heartbeat and tell of the trial."
    )
    heartbeat_s = serializers.FloatField(
        help_text="Send a heartbeat (or a report) at least this often, or the trial is "
        "failed as lost and handed out again."
    )
    retry_after_s = serializers.FloatField(allow_null=True)


class TrialTokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=500, help_text="The trial's token (from ask).")


class ReportSerializer(TrialTokenSerializer):
    step = serializers.IntegerField(min_value=0, max_value=10**9, help_text="e.g. the epoch")
    value = serializers.FloatField(help_text="The first metric's value at that step.")

    def validate_value(self, value: float) -> float:
        return _finite(value, "value")


class ReportAnswerSerializer(serializers.Serializer):
    should_prune = serializers.BooleanField(
        help_text="The study's pruner says to stop this trial: tell it as pruned."
    )


class TellSerializer(TrialTokenSerializer):
    state = serializers.ChoiceField(choices=["complete", "pruned", "failed"], default="complete")
    value = serializers.FloatField(required=False, help_text="The value of a single metric.")
    values = serializers.ListField(
        child=serializers.FloatField(),
        min_length=1,
        max_length=3,
        required=False,
        help_text="One value per metric, in the config's order.",
    )
    error = serializers.CharField(
        max_length=10_000, required=False, default="", allow_blank=True, help_text="Why it failed."
    )

    def validate(self, attrs: dict) -> dict:
        if "value" in attrs and "values" in attrs:
            raise serializers.ValidationError({"value": "send value or values, not both"})
        values = [attrs.pop("value")] if "value" in attrs else attrs.pop("values", None)
        for i, v in enumerate(values or []):
            _finite(v, f"values.{i}" if len(values) > 1 else "value")
        if attrs["state"] == "complete" and values is None:
            raise serializers.ValidationError({"value": "required for a complete trial"})
        if attrs["state"] == "failed" and not attrs["error"]:
            attrs["error"] = "failed on the user's machine (no reason given)"
        attrs["values"] = values
        return attrs


class HeartbeatAnswerSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="running (it has not been failed as lost)")


class JobDetailSerializer(JobSerializer):
    failure_counts = serializers.SerializerMethodField(
        help_text="Failed trials per failure class (out of memory, numerical, time limit...)."
    )

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "failure_counts"]
        read_only_fields = fields

    def get_failure_counts(self, job: Job) -> dict[str, int]:
        return failure_counts(job)


def failure_counts(job: Job) -> dict[str, int]:
    """Failed trials per failure class, classes with none left out."""
    rows = (
        Trial.objects.filter(job=job, state=Trial.State.FAILED)
        .order_by()
        .values("failure_class")
        .annotate(n=Count("id"))
    )
    return {row["failure_class"] or "unclassified": row["n"] for row in rows}


class TrialLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trial
        fields = ["number", "state", "failure_class", "log"]
        read_only_fields = fields


class RerunSerializer(serializers.Serializer):
    failure_class = serializers.ChoiceField(
        choices=[c for c, _ in FAILURE_CLASSES if c],
        required=False,
        help_text="Only the failed trials of this class; all failed trials when left out.",
    )


class RerunAnswerSerializer(serializers.Serializer):
    rerun_of = serializers.ListField(
        child=serializers.IntegerField(), help_text="The failed trials run again."
    )
    job = JobSerializer()


class TrialFilesAnswerSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.CharField(), help_text="Every file the trial keeps."
    )


class ExtendSerializer(serializers.Serializer):
    """More trials, more time or both (at least one)."""

    n_trials = serializers.IntegerField(
        min_value=1,
        max_value=MAX_TRIALS,
        required=False,
        help_text="How many more trials (NAS: candidates) the job may run.",
    )
    seconds = serializers.IntegerField(
        min_value=1,
        max_value=MAX_TIMEOUT_S,
        required=False,
        help_text="How many more seconds: added to an HPO job's time_budget_s or a NAS "
        "search's timeout_s (409 when the job sets none).",
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError({"n_trials": ["give n_trials, seconds or both"]})
        return attrs


class RetryStageSerializer(serializers.Serializer):
    stage = serializers.IntegerField(
        min_value=0, help_text="The stage to run again from (0: the first)."
    )


class ScheduleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Schedule
        fields = [
            "id",
            "name",
            "cron",
            "job",
            "enabled",
            "next_run_at",
            "last_run_at",
            "last_job",
            "last_error",
            "runs",
            "created_at",
        ]
        read_only_fields = fields


class ScheduleCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    cron = serializers.CharField(
        max_length=100,
        help_text='"minute hour day-of-month month day-of-week" in UTC, e.g. "30 2 * * *"',
    )
    job = serializers.JSONField(
        required=False, help_text="A submission as POST /api/v1/jobs/ takes it."
    )
    from_job = serializers.IntegerField(
        required=False, help_text="Or: one of your jobs, submitted again as it was."
    )


class ScheduleUpdateSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    cron = serializers.CharField(max_length=100, required=False)
