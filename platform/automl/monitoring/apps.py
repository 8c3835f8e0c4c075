from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "automl.monitoring"

    def ready(self) -> None:
        # Celery workers set Django up before they start consuming, so this also runs in
        # every worker: the heartbeat starts once the worker is ready (web processes never
        # receive the signal).
        from celery.signals import worker_ready, worker_shutdown

        from automl.monitoring import workerbeat

        worker_ready.connect(workerbeat.start, weak=False, dispatch_uid="automl-workerbeat")
        worker_shutdown.connect(workerbeat.stop, weak=False, dispatch_uid="automl-workerstop")
