from celery import shared_task


@shared_task(name="automl.profile_dataset")
def profile_dataset(dataset_id: int) -> str:
    """Profile an uploaded data set too large to profile during its upload."""
    from automl.datasets.services import profile_dataset as profile

    return profile(dataset_id)
