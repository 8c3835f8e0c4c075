from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from automl.datasets.models import Dataset
from automl.datasets.services import job_task
from automl.jobs.models import Job, Trial
from workers.compression.config import teacher_ids, validate_compression_config
from workers.hpo.config import ConfigError, validate_hpo_config
from workers.nas.config import data_kind_of, parallelism_problem, validate_nas_config

DEVICES = ["auto", "cpu", "cuda"]
PLATFORM_KEYS = ("parallelism", "warm_start_from")
MAX_PARALLELISM = 32
WARM_START_MAX = 500


class ResourcesSerializer(serializers.Serializer):
    device = serializers.ChoiceField(choices=DEVICES, default="auto")
    gpus = serializers.IntegerField(min_value=0, max_value=64, default=0)

    def validate(self, attrs: dict) -> dict:
        if attrs["device"] == "cpu" and attrs["gpus"] > 0:
            raise serializers.ValidationError({"gpus": "must be 0 when device is 'cpu'"})
        return attrs


@extend_schema_field(OpenApiTypes.INT)
class DatasetField(serializers.PrimaryKeyRelatedField):
    """A data set the caller may use; anything else reads as 'does not exist'."""

    def get_queryset(self):
        return Dataset.visible_to(self.context["request"].user)


class JobSubmitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Job.Kind.choices)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    dataset = DatasetField()
    config = serializers.JSONField(
        help_text="Engine settings; see the README for the HPO schema. Defaults are filled in."
    )
    resources = ResourcesSerializer(required=False)

    def validate(self, attrs: dict) -> dict:
        dataset: Dataset = attrs["dataset"]
        config = attrs["config"]
        # Keys the platform handles itself; the rest is the engine's to validate.
        platform_keys = {}
        if isinstance(config, dict):
            config = dict(config)
            platform_keys = {key: config.pop(key) for key in PLATFORM_KEYS if key in config}
        # The task follows from the data set and the config's target/task (automl.datasets).
        task, errors = job_task(dataset, config)
        try:
            if attrs["kind"] == Job.Kind.NAS:
                errors.update(
                    {
                        f"config.{k}": "only HPO jobs take this"
                        for k in platform_keys
                        if k != "parallelism"
                    }
                )
                kind = data_kind_of(dataset.builtin_name, getattr(dataset, "data_kind", ""))
                config = validate_nas_config(
                    config, kind, task=task, n_features=dataset.n_features or None
                )
                if problem := parallelism_problem(config, platform_keys.get("parallelism")):
                    errors["config.parallelism"] = problem
            elif attrs["kind"] == Job.Kind.COMPRESSION:
                # A stored config carries parallelism 1: sent back as it is, it is fine.
                errors.update(
                    {
                        f"config.{k}": "only HPO and NAS jobs take this"
                        for k, v in platform_keys.items()
                        if not (k == "parallelism" and v == 1)
                    }
                )
                config = validate_compression_config(
                    self._same_test_rows(config, dataset), task=task
                )
                self._own_models(config, errors)
            else:
                config = validate_hpo_config(config, task)
        except ConfigError as exc:
            errors.update({f"config.{path}".rstrip("."): msg for path, msg in exc.errors.items()})
        parallelism = platform_keys.get("parallelism", 1)
        if type(parallelism) is not int or not 1 <= parallelism <= MAX_PARALLELISM:
            errors["config.parallelism"] = f"must be a whole number from 1 to {MAX_PARALLELISM}"
        warm_start = None
        if "warm_start_from" in platform_keys:
            warm_start = self._warm_start(platform_keys["warm_start_from"], errors)
        if errors:
            raise serializers.ValidationError(errors)
        config["parallelism"] = parallelism
        if warm_start is not None:
            config["warm_start"] = warm_start
        attrs["config"] = config
        attrs.setdefault("resources", ResourcesSerializer().to_internal_value({}))
        if not attrs.get("name"):
            attrs["name"] = f"{attrs['kind']} on {dataset.name}"
        return attrs

    def _own_models(self, config: dict, errors: dict) -> None:
        """The input model and the extra teachers must be the caller's torch versions."""
        from automl.registry.models import ModelVersion

        user = self.context["request"].user
        wanted = {"config.model_version": [config["model_version"]]}
        if teachers := teacher_ids(config):
            wanted["config.steps"] = teachers
        for field, ids in wanted.items():
            found = set(
                ModelVersion.objects.filter(owner=user, id__in=ids)
                .exclude(framework="sklearn")
                .values_list("id", flat=True)
            )
            if missing := [i for i in ids if i not in found]:
                errors[field] = (
                    f"model version {missing[0]} does not exist (or is not a torch model)"
                )

    def _same_test_rows(self, config: object, dataset: Dataset) -> object:
        """Score compressed models on the rows their input model never trained on: on the
        input's own data set, the split settings default to those of the job that made it
        (the engines draw the same seeded, stratified test split from them)."""
        from automl.registry.models import ModelVersion

        if not isinstance(config, dict) or type(config.get("model_version")) is not int:
            return config
        source = (
            ModelVersion.objects.filter(
                owner=self.context["request"].user, id=config["model_version"]
            )
            .select_related("job")
            .first()
        )
        job = source.job if source else None
        if job is None or job.dataset_id != dataset.id:
            return config
        inherited = {k: job.config[k] for k in ("test_size", "seed") if k in job.config}
        return {**inherited, **config}

    def _warm_start(self, job_id: object, errors: dict) -> dict | None:
        """The finished trials of one of the caller's HPO jobs, to seed the new study."""
        user = self.context["request"].user
        source = None
        if type(job_id) is int:
            source = Job.objects.filter(owner=user, kind=Job.Kind.HPO, id=job_id).first()
        if source is None:
            errors["config.warm_start_from"] = f"{job_id!r} is not the id of one of your HPO jobs"
            return None
        trials = source.trials.filter(state=Trial.State.COMPLETE).order_by("number")
        return {
            "from_job": source.id,
            "trials": [{"params": t.params, "values": t.values} for t in trials[:WARM_START_MAX]],
        }


class JobSerializer(serializers.ModelSerializer):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True)

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
            "status",
            "progress",
            "cancel_requested",
            "error_message",
            "result",
            "worker_host",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


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
            "worker",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields
