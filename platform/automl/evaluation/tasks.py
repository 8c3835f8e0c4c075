from celery import shared_task


@shared_task(name="automl.evaluate_model")
def evaluate_model(evaluation_id: int) -> str:
    """Compute a model version's evaluation report (claimed once, safe to run twice)."""
    from automl.evaluation.services import run_evaluation

    return run_evaluation(evaluation_id)
