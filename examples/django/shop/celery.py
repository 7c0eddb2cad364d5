"""The Celery app of the shop: its settings are Django's CELERY_* settings,
its tasks the apps' tasks.py. The beat schedule (CELERY_BEAT_SCHEDULE) sends
orders.tasks.report periodically; exactly one beat must run across all pods,
which pysup's leader election (PYSUP_LEADER_ELECTION) ensures."""
import logging.config
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def django_logging(**_):
    # Connecting to setup_logging keeps celery from configuring logging:
    # beat and worker log through Django's LOGGING, JSON on stdout.
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
