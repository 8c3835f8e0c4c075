from celery import shared_task


@shared_task(name="automl.drift_reports")
def drift_reports() -> dict[str, int]:
    """Run by Celery beat (DRIFT_REPORT_EVERY_S): a drift report per deployment with traffic."""
    from automl.monitoring.drift import scheduled_reports

    return scheduled_reports()
