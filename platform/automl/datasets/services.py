from automl.datasets.models import Dataset
from workers.data.builtin import BUILTIN_DATASETS, load_builtin


def sync_builtin_datasets() -> None:
    """Make the Dataset rows of sklearn's bundled data sets match the code (idempotent)."""
    for name, meta in BUILTIN_DATASETS.items():
        data = load_builtin(name)
        Dataset.objects.update_or_create(
            builtin_name=name,
            defaults={
                "owner": None,
                "name": meta["title"],
                "description": meta["description"],
                "source": Dataset.Source.BUILTIN,
                "task": data.task,
                "target_name": data.target_name,
                "n_rows": data.X.shape[0],
                "n_features": data.X.shape[1],
            },
        )


def training_data(dataset: Dataset, config: dict):
    """The rows a job trains on, as the engines' TabularData."""
    if dataset.is_builtin:
        return load_builtin(dataset.builtin_name)
    raise ValueError(f"data set {dataset.id} has source {dataset.source!r}")
