from django import forms

from workers.hpo.families import families_for
from workers.hpo.metrics import TASK_METRICS

TASKS = [
    ("", "infer from the target"),
    ("classification", "classification"),
    ("regression", "regression"),
]


class UploadForm(forms.Form):
    file = forms.FileField(
        help_text="A table (.csv with comma, semicolon or tab; .parquet; .xlsx; .jsonl) or an "
        ".npz holding arrays X and y."
    )
    name = forms.CharField(max_length=200, required=False, help_text="Default: the file name.")
    description = forms.CharField(
        max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    target = forms.CharField(
        max_length=200,
        required=False,
        help_text="Tables: the column to predict (default: the last one).",
    )
    task = forms.ChoiceField(choices=TASKS, required=False)


class HpoJobForm(forms.Form):
    """The few choices an analyst makes to start a search; the rest keeps its defaults."""

    name = forms.CharField(max_length=200, required=False)
    target = forms.CharField(
        max_length=200, required=False, help_text="Default: the data set's target column."
    )
    task = forms.ChoiceField(choices=TASKS, required=False)
    model = forms.ChoiceField(choices=[])
    metric = forms.ChoiceField(choices=[], required=False)
    n_trials = forms.IntegerField(min_value=1, max_value=1000, initial=10)
    scaling = forms.ChoiceField(choices=[(s, s) for s in ("standard", "minmax", "robust", "none")])
    imputation = forms.ChoiceField(
        choices=[(s, s) for s in ("mean", "median", "most_frequent", "constant")]
    )
    drop = forms.MultipleChoiceField(
        choices=[],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Leave out",
        help_text="Columns the search does not see; the profile's suggestions are ticked.",
    )
    search_features = forms.BooleanField(
        required=False,
        help_text="Let the search switch feature engineering on and off "
        "(datetime parts, polynomial features, target encoding).",
    )

    def __init__(self, *args, dataset=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        features = [c for c in (dataset.columns if dataset else []) if c != dataset.target_name]
        if features:
            self.fields["drop"].choices = [(c, c) for c in features]
            suggested = (dataset.profile or {}).get("suggested_drops") or []
            self.initial.setdefault("drop", [s["column"] for s in suggested])
        else:  # built-in data sets: their columns are used as they are
            del self.fields["drop"]
        models = ["auto", *families_for("classification"), *families_for("regression")]
        self.fields["model"].choices = [(m, m) for m in dict.fromkeys(models)]
        metrics = TASK_METRICS["classification"] + TASK_METRICS["regression"]
        self.fields["metric"].choices = [("", "the task's default")] + [
            (m, m) for m in dict.fromkeys(metrics)
        ]

    def config(self) -> dict:
        """The job config these choices stand for (validated by the jobs API serializer)."""
        data = self.cleaned_data
        config: dict = {
            "model": data["model"],
            "n_trials": data["n_trials"],
            "sampler": {"name": "tpe", "seed": 0},
        }
        for key in ("target", "task", "metric"):
            if data.get(key):
                config[key] = data[key]
        preprocessing = {"scaling": data["scaling"], "imputation": data["imputation"]}
        if data.get("drop"):
            preprocessing["drop"] = data["drop"]
        if data["search_features"]:
            preprocessing.update(
                datetime_parts="search", polynomial="search", target_encoding="search"
            )
        config["preprocessing"] = preprocessing
        return config
