"""Tasks of the orders app. report runs on the beat schedule
(CELERY_BEAT_SCHEDULE in shop/settings.py), on a worker."""
from celery import shared_task
from celery.utils.log import get_task_logger

log = get_task_logger(__name__)


@shared_task
def report():
    from .models import Order

    count = Order.objects.count()
    log.info("orders report", extra={"orders": count})
    return count
