"""The new-job forms: a few choices per kind, turned into the same submission the REST API
takes and validated by its JobSubmitSerializer, so the errors are the API's own.

Each form declares once which config path each of its fields sets (CONFIG_PATHS): that
table builds the config from the form, pre-fills the form from a stored config (Run again),
leaves those paths out of the advanced box, and places the API's errors beside the field.
The optional advanced JSON box is merged over the config (objects key by key), so a power
user can set anything the config schema allows.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, ClassVar

from django import forms
from django.db.models import Model

from automl.datasets.models import Dataset
from automl.jobs import kinds
from automl.jobs.models import Job
from automl.jobs.serializers import DEVICES, MAX_PARALLELISM, PRIORITIES
from workers.compression.config import TECHNIQUE_OPTIONS
from workers.hpo.config import TASKS as TASKS_OF_FAMILIES
from workers.hpo.config import default_space
from workers.hpo.families import FAMILIES, families_for
from workers.hpo.metrics import METRICS
from workers.hpo.presets import PRESETS
from workers.hpo.pruners import PRUNERS
from workers.hpo.samplers import SAMPLERS
from workers.nas.spaces import SPACES
from workers.nas.strategies import STRATEGIES
from workers.training.options import MAX_STAGES

TASKS = [
    ("", "infer from the target"),
    ("classification", "classification"),
    ("regression", "regression"),
]
DEFAULT = [("", "default")]
# Which strategy option one "search budget" number sets.
BUDGET_OPTION = {
    "darts": "epochs",
    "evolution": "cycles",
    "rl": "candidates",
    "random": "candidates",
}


def merge(base: dict, override: dict) -> dict:
    """`override` over `base`, objects merged key by key (a copy; neither is changed)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _difference(config: dict, base: dict) -> dict:
    """What of `config` differs from `base`: objects compared key by key, so merging the
    result over `base` gives `config` back (keys `base` has and `config` lacks aside)."""
    out: dict = {}
    for key, value in config.items():
        if key in base and base[key] == value:
            continue
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            value = _difference(value, base[key])
            if not value:
                continue
        out[key] = value
    return out


def _without(config: dict, paths: list[str]) -> dict:
    """The config less the paths a form's fields stand for, and less nulls (the defaults)."""
    covered = {tuple(path.split(".")) for path in paths}
    out: dict = {}
    for key, value in config.items():
        if (key,) in covered or value is None:
            continue
        if isinstance(value, dict):
            inner = {k: v for k, v in value.items() if (key, k) not in covered and v is not None}
            if inner:
                out[key] = inner
        else:
            out[key] = value
    return out


def stages_field() -> forms.IntegerField:
    """The trainer's model-parallel stages, as the HPO and NAS forms both ask for them."""
    return forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_STAGES,
        label="Model-parallel stages",
        help_text="Split each network's layers over this many devices, one GPU each "
        "(GPUs per trial at least this many, or device cpu). Default 1: one piece.",
    )


class JSONObjectField(forms.CharField):
    """A JSON object typed into a box (the advanced box, the search space): {} when empty."""

    def __init__(self, *, rows: int = 6, **kwargs: Any) -> None:
        attrs = {"rows": rows, "spellcheck": "false", "class": "json"}
        super().__init__(required=False, widget=forms.Textarea(attrs=attrs), **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return json.dumps(value, indent=2) if isinstance(value, dict) else value

    def to_python(self, value: Any) -> dict:
        if isinstance(value, dict):
            return value
        text = (value or "").strip()
        if not text:
            return {}
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError("must be a JSON object")
        return parsed


class TaggedSelect(forms.Select):
    """A select whose options carry data-* attributes (option value -> {name: text}): the
    page's script (static/js/job_form.js) reads them to offer only the models and metrics
    that fit the chosen data set. The server checks the same rules on submission."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.option_data: dict[str, dict[str, str]] = {}

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict:
        option = super().create_option(name, value, *args, **kwargs)
        for key, text in self.option_data.get(str(value), {}).items():
            option["attrs"][f"data-{key}"] = text
        return option


def inputs_of(dataset: Dataset) -> str:
    """The kind of input a data set gives a model family (ModelFamily.inputs)."""
    return "image" if dataset.data_kind == Dataset.DataKind.IMAGES else "tabular"


def family_tags(names: list[str]) -> dict[str, dict[str, str]]:
    """What each model family fits: its tasks, its input, the rows it handles comfortably."""
    tags = {}
    for name in names:
        family = FAMILIES[name]
        tags[name] = {"tasks": " ".join(family.tasks), "inputs": family.inputs}
        if family.comfortable_rows:
            tags[name]["max-rows"] = str(family.comfortable_rows)
    return tags


class DatasetChoice(forms.ModelChoiceField):
    widget = TaggedSelect

    def label_from_instance(self, obj: Dataset) -> str:
        rows = f", {obj.n_rows} rows" if obj.n_rows else ""
        return f"{obj.name} ({obj.task}{rows})"

    def tag(self) -> None:
        """Each data set's task, kind of input and rows on its option, for the script."""
        self.widget.option_data = {
            str(d.pk): {"task": d.task, "inputs": inputs_of(d), "rows": str(d.n_rows)}
            for d in self.queryset
        }


class JobForm(forms.Form):
    """What every kind shares: a name, a data set, the device, the advanced JSON box."""

    kind: ClassVar[str]
    # Form field -> the config path it sets ("sampler.name").
    CONFIG_PATHS: ClassVar[dict[str, str]] = {}
    # Config path -> the field beside which the API's errors on it are shown, for paths
    # that no CONFIG_PATHS entry sets.
    ERROR_FIELDS: ClassVar[dict[str, str]] = {}
    # Stored paths no field shows that Run again leaves out of the advanced box.
    DERIVED: ClassVar[tuple[str, ...]] = ()

    name = forms.CharField(
        max_length=200, required=False, help_text="Default: the kind and the data set's name."
    )
    dataset = DatasetChoice(queryset=Dataset.objects.none(), empty_label=None)
    device = forms.ChoiceField(
        choices=[(d, d) for d in DEVICES],
        initial="auto",
        help_text="auto: a GPU when the worker has one.",
    )
    priority = forms.IntegerField(
        required=False,
        min_value=PRIORITIES[0],
        max_value=PRIORITIES[1],
        initial=0,
        help_text="Order among your own queued jobs: higher runs first. Other users' jobs "
        "are interleaved by fair share whatever it is.",
    )
    gpus = forms.IntegerField(
        min_value=0,
        max_value=64,
        initial=0,
        required=False,
        label="GPUs per trial",
        help_text="Each trial gets this many of its worker's GPUs (model-parallel stages "
        "take one each). 0: the device above decides.",
    )
    advanced = JSONObjectField(
        label="Advanced (JSON)",
        help_text="Optional: a JSON object merged over the choices above, e.g. "
        '{"search_space": {...}} or {"sampler": {"n_startup_trials": 5}}. See the README.',
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = Dataset.visible_to(user).order_by("source", "name")
        self.fields["dataset"].tag()

    def config(self) -> dict:
        """The config the fields stand for (before the advanced box): each field's value at
        its path, unless left empty (the config's default then applies)."""
        config: dict = {}
        for field, path in self.CONFIG_PATHS.items():
            value = self.cleaned_data.get(field)
            if value in (None, "", {}):
                continue
            *parents, key = path.split(".")
            node = config
            for parent in parents:
                node = node.setdefault(parent, {})
            node[key] = value.pk if isinstance(value, Model) else value
        return config

    def submission(self) -> dict:
        """The body a REST client would POST to /api/v1/jobs/."""
        data = self.cleaned_data  # only the valid fields when the form has errors
        return {
            "kind": self.kind,
            "name": data.get("name", ""),
            "dataset": data["dataset"].id if data.get("dataset") else None,
            "config": merge(self.config(), data.get("advanced") or {}),
            "resources": {"device": data.get("device", "auto"), "gpus": data.get("gpus") or 0},
            "priority": data.get("priority") or 0,
        }

    def add_api_errors(self, fields: dict[str, list[str]]) -> None:
        """Show the serializer's errors beside the field they are about, in plain words:
        the field's label already names its path, so only what lies below it is said
        ("search space › C › low: must not exceed high"). A field that has an error of its
        own already (the form's checks ran first) keeps just that one."""
        advanced = self.cleaned_data.get("advanced") or {}
        already = set(self.errors)
        for path, messages in fields.items():
            parts = path.split(".")
            top = parts[1] if len(parts) > 1 and parts[0] == "config" else None
            field, field_path = None, ""
            if top is not None and top in advanced:
                field, field_path = "advanced", "config"
            else:
                error_fields = self.error_fields()
                for length in range(len(parts), 0, -1):
                    field_path = ".".join(parts[:length])
                    field = error_fields.get(field_path)
                    if field:
                        break
                if field is None and parts[0] in ("dataset", "name", "priority"):
                    field, field_path = parts[0], parts[0]
                if field is None and parts[0] == "resources":
                    field = "gpus" if path == "resources.gpus" else "device"
                    field_path = path
            if field not in self.fields:
                field, field_path = None, ""
            if field in already:
                continue
            self.add_error(field, _in_words(path, field_path, " ".join(messages)))

    @classmethod
    def initial_from(cls, job: Job, *, continue_from: bool = False) -> dict:
        """Initial values that submit `job` again: the fields from its stored config, and in
        the advanced box only what the fields do not make (what the user wrote there or
        sent over the API), not every default the stored config spells out."""
        initial = {
            "name": job.name,
            "dataset": job.dataset_id,
            "device": job.resources.get("device", "auto"),
            "priority": job.priority,
            "gpus": job.resources.get("gpus", 0),
        }
        initial.update(cls.fields_from_config(job.config))
        rest = cls._beyond_fields(job, initial)
        if rest:
            initial["advanced"] = json.dumps(rest, indent=2)
        return initial

    @classmethod
    def _beyond_fields(cls, job: Job, initial: dict) -> dict:
        """The stored config less what submitting `initial` alone would store: the form is
        submitted as a user would (the API's serializer fills in the defaults) and the two
        configs compared. Should that submission fail (the rules changed since, or a quota),
        the config less the fields' own paths and nulls."""
        from automl.jobs.serializers import JobSubmitSerializer

        config = {k: v for k, v in job.config.items() if k not in cls.DERIVED}
        data = {k: "" if v is None else v for k, v in initial.items()}
        form = cls(data, user=job.owner)
        if form.is_valid():
            request = SimpleNamespace(user=job.owner)
            submitted = JobSubmitSerializer(data=form.submission(), context={"request": request})
            if submitted.is_valid():
                return _difference(config, submitted.validated_data["config"])
        return _without(config, list(cls.CONFIG_PATHS.values()))

    @classmethod
    def fields_from_config(cls, config: dict) -> dict:
        """Each field's value from its path; the field's own default where the config
        holds none, or holds more than one field can show (a list of metrics)."""
        initial = {}
        for field, path in cls.CONFIG_PATHS.items():
            value: Any = config
            for key in path.split("."):
                value = value.get(key) if isinstance(value, dict) else None
            shown = isinstance(value, dict) and isinstance(cls.base_fields[field], JSONObjectField)
            if value is None or (isinstance(value, dict | list) and not shown):
                value = _empty(cls.base_fields[field])
            initial[field] = value
        return initial

    @classmethod
    def error_fields(cls) -> dict[str, str]:
        """API error path -> form field: each field's own path, and its parent object when
        no other field sets a path inside it ("config.sampler" -> sampler)."""
        out = {f"config.{path}": field for path, field in cls.ERROR_FIELDS.items()}
        parents = [path.split(".")[0] for path in cls.CONFIG_PATHS.values() if "." in path]
        for field, path in cls.CONFIG_PATHS.items():
            out[f"config.{path}"] = field
            parent = path.split(".")[0]
            if "." in path and parents.count(parent) == 1:
                out[f"config.{parent}"] = field
        return out


def _in_words(path: str, field_path: str, message: str) -> str:
    """An API error as the form shows it: the part of `path` below `field_path` (which the
    field's label names already), with spaces for underscores."""
    below = path[len(field_path) :].strip(".") if path.startswith(field_path) else path
    if below.startswith("config."):
        below = below[len("config.") :]
    words = " › ".join(part.replace("_", " ") for part in below.split(".") if part)
    return f"{words}: {message}" if words else message[:1].upper() + message[1:]


def _empty(field: forms.Field) -> Any:
    """What a form field shows when a stored config has no value for it."""
    if field.initial is not None:
        return field.initial
    text = isinstance(field, forms.CharField | forms.ChoiceField)
    return "" if text and not isinstance(field, forms.ModelChoiceField) else None


class HpoForm(JobForm):
    kind = "hpo"
    CONFIG_PATHS = {
        "model": "model",
        "n_trials": "n_trials",
        "sampler": "sampler.name",
        "pruner": "pruner.name",
        "validation": "validation.method",
        "parallelism": "parallelism",
        "target": "target",
        "task": "task",
        "metric": "metric",
        "timeout_s": "timeout_s",
        "time_budget_s": "time_budget_s",
        "preset": "preset",
        "ensemble": "ensemble.enabled",
        "warm_start_from": "warm_start_from",
        "scaling": "preprocessing.scaling",
        "imputation": "preprocessing.imputation",
        "stages": "trainer.stages",
        "search_space": "search_space",
    }
    DERIVED = ("direction", "warm_start")

    target = forms.CharField(
        max_length=200,
        required=False,
        help_text="The column to predict. Default: the data set's target.",
    )
    task = forms.ChoiceField(choices=TASKS, required=False)
    model = forms.ChoiceField(
        choices=[],
        initial="auto",
        widget=TaggedSelect,
        help_text="auto: search over every model family of the task. Only the families "
        "that fit the chosen data set are offered.",
    )
    metric = forms.ChoiceField(
        choices=[],
        required=False,
        widget=TaggedSelect,
        help_text="Default: accuracy for classification, r2 for regression. For several "
        'metrics at once, put a list in the advanced box: {"metric": ["accuracy", '
        '"latency_ms"]}.',
    )
    n_trials = forms.IntegerField(
        min_value=1,
        initial=20,
        required=False,
        label="Trials",
        help_text="How many configurations to try. Empty with a time budget: the budget "
        "alone ends the search.",
    )
    timeout_s = forms.FloatField(
        required=False,
        label="Time limit (s)",
        help_text="Stop starting trials after this; empty: none.",
    )
    time_budget_s = forms.FloatField(
        required=False,
        min_value=1,
        label="Time budget (s)",
        help_text="Seconds for the whole job, ensemble included: cheap families go first "
        "at low fidelity, every trial's cost is recorded. Empty: none (or the preset's).",
    )
    preset = forms.ChoiceField(
        required=False,
        choices=[("", "none")] + [(name, name) for name in PRESETS],
        help_text="quick: 1 min, cheap families, no ensemble; balanced: 5 min, 3-fold cv, "
        "an ensemble; best: 30 min, 5-fold cv, every family, ensemble and stacking. The "
        "fields you fill in win over it.",
    )
    ensemble = forms.TypedChoiceField(
        required=False,
        coerce=lambda value: value == "True",
        empty_value=None,
        choices=[("", "default (the preset's, else off)"), ("True", "on"), ("False", "off")],
        help_text="Greedy ensemble of the best trials; the better of it and the single best "
        "on the held-out rows is registered, and the job page shows a leaderboard.",
    )
    sampler = forms.ChoiceField(
        choices=[(s, s) for s in SAMPLERS],
        initial="tpe",
        help_text="tpe learns from earlier trials; random does not.",
    )
    pruner = forms.ChoiceField(
        choices=[(p, p) for p in PRUNERS],
        initial="none",
        help_text="Stops unpromising trials early (models that train in steps: MLP, boosting).",
    )
    validation = forms.ChoiceField(
        required=False,
        choices=[
            ("", "default (the preset's, else hold-out)"),
            ("holdout", "hold-out split"),
            ("cv", "5-fold cross-validation"),
        ],
        initial="",
    )
    scaling = forms.ChoiceField(
        required=False,
        choices=DEFAULT + [(s, s) for s in ("standard", "minmax", "robust", "none")],
    )
    imputation = forms.ChoiceField(
        required=False,
        choices=DEFAULT + [(s, s) for s in ("mean", "median", "most_frequent", "constant")],
    )
    parallelism = forms.IntegerField(
        min_value=1,
        max_value=MAX_PARALLELISM,
        initial=1,
        help_text="Trials run at once, on any free worker.",
    )
    stages = stages_field()
    search_space = JSONObjectField(
        rows=8,
        label="Search space",
        help_text="One row per parameter; empty: the model's default space. The rows write "
        "this JSON, the API's search_space (with model auto: the families' parameters "
        "under model.conditional).",
    )
    warm_start_from = forms.IntegerField(
        required=False,
        label="Continue from job",
        help_text="Optional: the id of one of your HPO jobs whose finished trials seed "
        "this search.",
    )

    field_order = [
        "name",
        "dataset",
        "target",
        "task",
        "model",
        "metric",
        "n_trials",
        "timeout_s",
        "time_budget_s",
        "preset",
        "ensemble",
        "sampler",
        "pruner",
        "validation",
        "scaling",
        "imputation",
        "parallelism",
        "warm_start_from",
        "device",
        "gpus",
        "stages",
        "search_space",
        "advanced",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        families = list(dict.fromkeys(families_for("classification") + families_for("regression")))
        self.fields["model"].choices = [(m, m) for m in ["auto", *families]]
        self.fields["model"].widget.option_data = family_tags(families)
        # One metric here; n_params and latency_ms only go in a list beside another.
        metrics = [m for m in METRICS if METRICS[m].needs != "model"]
        self.fields["metric"].choices = DEFAULT + [(m, m) for m in metrics]
        self.fields["metric"].widget.option_data = {
            m: {"tasks": " ".join(METRICS[m].tasks)} for m in metrics
        }

    def space_defaults(self) -> dict:
        """Each family's default search space per task, for the editor's "Fill in the
        defaults" (rendered with json_script: data, not code)."""
        return {
            task: {name: FAMILIES[name].default_space(task) for name in families_for(task)}
            for task in TASKS_OF_FAMILIES
        }

    @classmethod
    def fields_from_config(cls, config: dict) -> dict:
        """The search space only as far as it is the user's own: a family's default space
        (all of it, or one family's under model auto) is left out, as it was not typed."""
        fields = super().fields_from_config(config)
        fields["search_space"] = own_space(config) or ""
        return fields

    @classmethod
    def initial_from(cls, job: Job, *, continue_from: bool = False) -> dict:
        initial = super().initial_from(job)
        if continue_from:
            initial["warm_start_from"] = job.id
            initial["name"] = f"{job.name} (continued)"
        return initial


def own_space(config: dict) -> dict | None:
    """The stored search space less the defaults validation filled in (None: all default)."""
    model, task, space = config.get("model"), config.get("task"), config.get("search_space")
    if not isinstance(space, dict) or task not in TASKS_OF_FAMILIES:
        return space
    if model in FAMILIES:
        return None if space == FAMILIES[model].default_space(task) else space
    if model != "auto" or space == default_space("auto", task):
        return None if model == "auto" else space
    spec = space.get("model") or {}
    conditional = {
        name: sub
        for name, sub in (spec.get("conditional") or {}).items()
        if name not in FAMILIES or sub != FAMILIES[name].default_space(task)
    }
    return {"model": {**spec, "conditional": conditional}}


class NasForm(JobForm):
    kind = "nas"
    CONFIG_PATHS = {
        "strategy": "strategy.name",
        "space": "space.name",
        "proxy_epochs": "proxy.epochs",
        "retrain_epochs": "retrain.epochs",
        "max_params": "constraints.max_params",
        "timeout_s": "timeout_s",
        "seed": "seed",
        "parallelism": "parallelism",
        "stages": "trainer.stages",
    }
    DERIVED = ("data_kind",)

    strategy = forms.ChoiceField(
        required=False,
        choices=[("", "default: darts on images, evolution on tables")]
        + [(s, s) for s in STRATEGIES],
    )
    space = forms.ChoiceField(
        required=False,
        choices=[("", "default for the strategy and data")] + [(s, s) for s in SPACES],
        help_text="cell: DARTS cells; macro: a plain CNN; mlp: tables.",
    )
    budget = forms.IntegerField(
        required=False,
        min_value=1,
        label="Search budget",
        help_text="darts: epochs; evolution: cycles; rl and random: candidates. "
        "Empty: the strategy's default.",
    )
    proxy_epochs = forms.IntegerField(
        required=False,
        min_value=1,
        label="Epochs per candidate",
        help_text="Short training of each candidate (default 2).",
    )
    retrain_epochs = forms.IntegerField(
        required=False,
        min_value=1,
        label="Retrain epochs",
        help_text="Training of the found architecture (default 10).",
    )
    max_params = forms.IntegerField(
        required=False,
        min_value=1,
        label="Max parameters",
        help_text="Reject bigger architectures; empty: no limit.",
    )
    timeout_s = forms.FloatField(required=False, label="Time limit (s)")
    seed = forms.IntegerField(required=False, min_value=0, initial=0)
    parallelism = forms.IntegerField(
        min_value=1,
        max_value=MAX_PARALLELISM,
        initial=1,
        required=False,
        help_text="Candidates trained at once, on any free worker (evolution and random search).",
    )
    stages = stages_field()

    field_order = [
        "name",
        "dataset",
        "strategy",
        "space",
        "budget",
        "proxy_epochs",
        "retrain_epochs",
        "max_params",
        "timeout_s",
        "seed",
        "parallelism",
        "device",
        "gpus",
        "stages",
        "advanced",
    ]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("budget") is not None and not data.get("strategy"):
            self.add_error("budget", "choose a strategy to give it a budget")
        return data

    def config(self) -> dict:
        """The budget field sets the chosen strategy's own budget option."""
        config = super().config()
        strategy, budget = self.cleaned_data.get("strategy"), self.cleaned_data.get("budget")
        if strategy and budget is not None:
            config["strategy"][BUDGET_OPTION[strategy]] = budget
        return config

    @classmethod
    def fields_from_config(cls, config: dict) -> dict:
        strategy = config.get("strategy") or {}
        budget = strategy.get(BUDGET_OPTION.get(strategy.get("name", ""), ""), None)
        return super().fields_from_config(config) | {"budget": budget}


TECHNIQUES = {
    "prune_magnitude": "magnitude pruning (zeroes weights)",
    "prune_structured": "structured pruning (removes channels and neurons)",
    "distill": "distillation into a smaller student",
    "dynamic_int8": "dynamic int8 quantization",
    "static_int8": "static int8 quantization (calibrated)",
    "qat": "quantization-aware training (int8)",
    "half": "half precision (fp16 or bf16)",
    "weight_only": "weight-only quantization (2-8 bits, for storage)",
    "mixed": "mixed precision (sensitive layers kept in float)",
}
# (technique, option) -> the form field that sets it on every step of the chain.
STEP_FIELDS = {
    ("prune_magnitude", "sparsity"): "amount",
    ("prune_structured", "ratio"): "amount",
    ("prune_magnitude", "finetune_epochs"): "finetune_epochs",
    ("prune_structured", "finetune_epochs"): "finetune_epochs",
    ("weight_only", "bits"): "bits",
    ("mixed", "bits"): "bits",
}
CHAIN = ("step_1", "step_2", "step_3")


class ModelVersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        accuracy = obj.metrics.get("accuracy")
        score = f", accuracy {accuracy:.3f}" if isinstance(accuracy, float) else ""
        return f"{obj.name} v{obj.version} ({obj.family or obj.framework}{score})"


class CompressionForm(JobForm):
    """A chain of up to three steps on one of the user's torch models; each technique's
    other options (and longer chains) go in the advanced box."""

    kind = "compression"
    CONFIG_PATHS = {"model_version": "model_version", "test_size": "test_size", "seed": "seed"}
    # The chain of steps is the step fields' (STEP_FIELDS), not one path's.
    ERROR_FIELDS = {"steps": "step_1"}
    DERIVED = ("parallelism",)

    model_version = ModelVersionChoice(
        queryset=None,
        empty_label=None,
        label="Model",
        help_text="One of your torch models. To compress a .safetensors file trained "
        "elsewhere, import it with its spec on the Models page first.",
    )
    step_1 = forms.ChoiceField(
        choices=list(TECHNIQUES.items()), label="Step 1", initial="prune_structured"
    )
    step_2 = forms.ChoiceField(
        choices=[("", "none")] + list(TECHNIQUES.items()),
        required=False,
        label="Step 2",
        help_text="Starts from step 1's model.",
    )
    step_3 = forms.ChoiceField(
        choices=[("", "none")] + list(TECHNIQUES.items()),
        required=False,
        label="Step 3",
        help_text="Starts from step 2's model.",
    )
    amount = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=0.95,
        label="Pruning amount",
        help_text="Share of weights (magnitude) or of channels (structured) removed. Default 0.5.",
    )
    finetune_epochs = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        label="Fine-tuning epochs",
        help_text="After each pruning step. Default 1.",
    )
    bits = forms.IntegerField(
        required=False,
        min_value=2,
        max_value=8,
        help_text="For weight-only and mixed precision. Default 8 and 4.",
    )
    test_size = forms.FloatField(
        required=False,
        min_value=0.05,
        max_value=0.5,
        label="Test share",
        help_text="Rows held out to measure each step. Default: the "
        "split of the job that made the model.",
    )
    seed = forms.IntegerField(
        required=False, min_value=0, help_text="Default: the seed of the job that made the model."
    )

    field_order = [
        "name",
        "model_version",
        "dataset",
        "step_1",
        "step_2",
        "step_3",
        "amount",
        "finetune_epochs",
        "bits",
        "test_size",
        "seed",
        "device",
        "gpus",
        "advanced",
    ]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        from automl.registry.models import ModelVersion

        super().__init__(*args, user=user, **kwargs)
        self.fields["model_version"].queryset = (
            ModelVersion.objects.filter(owner=user)
            .exclude(framework="sklearn")
            .order_by("name", "-version")
        )
        self.fields["dataset"].required = False
        self.fields["dataset"].empty_label = "the data set the model was trained on"
        self.fields["advanced"].help_text = (
            'Optional: a JSON object merged over the choices above, e.g. {"steps": [...]} '
            'for other options or longer chains, or {"report": {"repeats": 20}}. See the '
            "README."
        )

    def clean(self) -> dict:
        data = super().clean()
        version = data.get("model_version")
        if version is not None and data.get("dataset") is None:
            if version.dataset is None:
                self.add_error("dataset", "this model has no data set on record: choose one")
            else:
                data["dataset"] = version.dataset
        return data

    def config(self) -> dict:
        data = self.cleaned_data
        steps = []
        for technique in (data[f] for f in CHAIN if data.get(f)):
            step: dict = {"technique": technique}
            for (t, option), field in STEP_FIELDS.items():
                if t == technique and data.get(field) is not None:
                    step[option] = data[field]
            steps.append(step)
        return {**super().config(), "steps": steps}

    @classmethod
    def fields_from_config(cls, config: dict) -> dict:
        steps = config.get("steps") or []
        chain = _chain_fields(steps)
        if chain is None:  # the advanced box carries the chain; the fields just name it
            chain = {name: step.get("technique") for name, step in zip(CHAIN, steps, strict=False)}
        return super().fields_from_config(config) | chain


def _chain_fields(steps: list) -> dict | None:
    """The step fields that stand for `steps`, or None when the chain needs the advanced
    box (more than three steps, or options the fields do not set, or differing values)."""
    if len(steps) > len(CHAIN):
        return None
    fields: dict = {}
    for name, step in zip(CHAIN, steps, strict=False):
        declared = TECHNIQUE_OPTIONS.get(step.get("technique"))
        if declared is None:
            return None
        fields[name] = step["technique"]
        for option, value in step.items():
            field = STEP_FIELDS.get((step["technique"], option))
            if option == "technique":
                continue
            if field is None:
                if option not in declared or value != declared[option].default:
                    return None
            elif fields.setdefault(field, value) != value:
                return None
    return fields


def form_for(kind: str, *args: Any, user: Any, **kwargs: Any) -> JobForm:
    """The new-job form of `kind` (a key of automl.jobs.kinds.JOB_KINDS)."""
    return kinds.get(kind).form(*args, user=user, **kwargs)


def initial_for(job: Job, *, continue_from: bool = False) -> dict:
    return kinds.get(job.kind).form.initial_from(job, continue_from=continue_from)


EXAMPLE_SPACE = {
    "search_space": {
        "lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
        "layers": {"type": "int", "low": 1, "high": 4},
    }
}


class ExternalForm(JobForm):
    """Tune your own code: the study lives here, your machines run the trials (README,
    "Tune your own code"). The search space goes in the JSON box: its names are yours."""

    kind = "external"
    CONFIG_PATHS = {
        "metric": "metric",
        "direction": "direction",
        "n_trials": "n_trials",
        "timeout_s": "timeout_s",
        "sampler": "sampler.name",
        "pruner": "pruner.name",
        "lost_after_s": "lost_after_s",
    }
    ERROR_FIELDS = {"search_space": "advanced"}

    metric = forms.CharField(
        max_length=50, initial="value", help_text="The name of what your code reports."
    )
    direction = forms.ChoiceField(
        choices=[("maximize", "maximize"), ("minimize", "minimize")], initial="maximize"
    )
    n_trials = forms.IntegerField(
        min_value=1, initial=20, label="Trials", help_text="Trials that run to their end."
    )
    timeout_s = forms.FloatField(
        required=False,
        label="Time limit (s)",
        help_text="Hand out no trial after this; empty: none.",
    )
    sampler = forms.ChoiceField(choices=[(s, s) for s in SAMPLERS], initial="tpe")
    pruner = forms.ChoiceField(
        choices=[(p, p) for p in PRUNERS],
        initial="none",
        help_text="Answers your reports of intermediate values with 'stop this trial'.",
    )
    lost_after_s = forms.FloatField(
        min_value=1,
        initial=60,
        label="Lost after (s)",
        help_text="A trial with no heartbeat for this long is failed as lost and handed out "
        "again.",
    )

    field_order = [
        "name",
        "dataset",
        "metric",
        "direction",
        "n_trials",
        "timeout_s",
        "sampler",
        "pruner",
        "lost_after_s",
        "advanced",
    ]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        if not kwargs["initial"]:
            kwargs["initial"] = {"advanced": json.dumps(EXAMPLE_SPACE, indent=2)}
        super().__init__(*args, user=user, **kwargs)
        self.fields.pop("device")  # the trials run on your machines
        self.fields.pop("gpus")
        self.fields["dataset"].required = False
        self.fields["dataset"].empty_label = "none: your code reads its own data"
        self.fields["advanced"].required = True
        self.fields["advanced"].label = "Search space (JSON)"
        self.fields["advanced"].help_text = (
            'A JSON object with the "search_space": parameter name -> {"type": "float" | '
            '"int" | "categorical" | "fixed", ...}, as for HPO; any other config key too.'
        )


class PipelineForm(JobForm):
    """A pipeline in one form: a search, one compression step, a gate, the registry and a
    deployment, each left out when its fields are empty. Other stages and options (NAS,
    longer chains, more conditions) go in the advanced box as {"stages": [...]}, which
    replaces the stages the fields make."""

    kind = "pipeline"
    ERROR_FIELDS = {"stages": "advanced", "model_version": "advanced"}

    model = forms.ChoiceField(
        choices=[], initial="auto", help_text="The search: auto tries every model family."
    )
    metric = forms.ChoiceField(
        choices=[], required=False, help_text="Default: accuracy (classification), r2."
    )
    n_trials = forms.IntegerField(min_value=1, max_value=10_000, initial=10, label="Trials")
    compress = forms.ChoiceField(
        choices=[("", "no compression")] + list(TECHNIQUES.items()),
        required=False,
        label="Compression",
        help_text="A step on the search's model (torch models: choose an mlp above).",
    )
    gate_min = forms.FloatField(
        required=False, label="Gate: metric at least", help_text="On the held-out rows."
    )
    gate_max_drop = forms.FloatField(
        required=False,
        min_value=0,
        label="Gate: most metric lost by compression",
        help_text="e.g. 0.02",
    )
    gate_max_bytes = forms.IntegerField(
        required=False, min_value=1, label="Gate: most model bytes"
    )
    gate_max_ms = forms.FloatField(required=False, min_value=0, label="Gate: most latency (ms)")
    gate_batch = forms.IntegerField(
        required=False, min_value=1, max_value=4096, initial=1, label="…at a batch of rows"
    )
    register_name = forms.SlugField(
        max_length=50, required=False, label="Register as", help_text="Default: the job's name."
    )
    register_stage = forms.ChoiceField(
        choices=[("", "keep"), ("staging", "staging"), ("production", "production")],
        required=False,
        label="Registry stage",
    )
    register_alias = forms.SlugField(
        max_length=50, required=False, label="Registry alias", help_text="e.g. challenger"
    )
    deployment = forms.SlugField(
        max_length=50,
        required=False,
        label="Deploy to",
        help_text="A deployment name: created if new, else the model gets the share below.",
    )
    share = forms.FloatField(
        required=False,
        min_value=0.1,
        max_value=100,
        initial=100,
        label="Traffic share (%)",
        help_text="Below 100 on an existing deployment: a canary.",
    )

    field_order = [
        "name",
        "dataset",
        "model",
        "metric",
        "n_trials",
        "compress",
        "gate_min",
        "gate_max_drop",
        "gate_max_bytes",
        "gate_max_ms",
        "gate_batch",
        "register_name",
        "register_stage",
        "register_alias",
        "deployment",
        "share",
        "device",
        "priority",
        "advanced",
    ]

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        hpo = HpoForm(user=user)
        self.fields["model"].choices = hpo.fields["model"].choices
        self.fields["metric"].choices = hpo.fields["metric"].choices
        del self.fields["gpus"]
        self.fields["advanced"].help_text = (
            'Optional: {"stages": [...]} replaces the stages above (NAS, longer chains, more '
            "conditions); see the README's pipeline section."
        )

    def config(self) -> dict:
        data = self.cleaned_data
        search = {"model": data["model"], "n_trials": data["n_trials"]}
        if data.get("metric"):
            search["metric"] = data["metric"]
        stages: list[dict] = [{"type": "search", "kind": "hpo", "config": search}]
        if data.get("compress"):
            stages.append({"type": "compression", "config": {"steps": [data["compress"]]}})
        conditions = []
        if data.get("gate_min") is not None:
            conditions.append(
                {
                    "check": "metric",
                    "metric": data.get("metric") or "accuracy",
                    "min": data["gate_min"],
                }
            )
        if data.get("gate_max_drop") is not None:
            conditions.append(
                {
                    "check": "drop",
                    "metric": data.get("metric") or "accuracy",
                    "max": data["gate_max_drop"],
                }
            )
        if data.get("gate_max_bytes") is not None:
            conditions.append({"check": "size", "max_bytes": data["gate_max_bytes"]})
        if data.get("gate_max_ms") is not None:
            conditions.append(
                {
                    "check": "latency",
                    "max_ms": data["gate_max_ms"],
                    "batch_size": data.get("gate_batch") or 1,
                }
            )
        if conditions:
            stages.append({"type": "gate", "conditions": conditions})
        if data.get("register_stage") or data.get("register_alias"):
            stages.append(
                {
                    "type": "register",
                    "name": data.get("register_name") or None,
                    "stage": data.get("register_stage") or None,
                    "alias": data.get("register_alias") or None,
                }
            )
        if data.get("deployment"):
            share = (data.get("share") or 100) / 100
            stages.append({"type": "deploy", "deployment": data["deployment"], "share": share})
        return {"stages": stages}

    @classmethod
    def initial_from(cls, job: Job, *, continue_from: bool = False) -> dict:
        """Run again: the stored stages go in the advanced box (they replace the fields')."""
        return {
            "name": job.name,
            "dataset": job.dataset_id,
            "device": job.resources.get("device", "auto"),
            "priority": job.priority,
            "advanced": json.dumps({"stages": job.config.get("stages", [])}, indent=2),
        }
