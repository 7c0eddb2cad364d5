"""A celery app whose beat sends one task a second to a filesystem broker
(kombu's filesystem transport: no server), for the leader election test.
BROKER_DIR is the broker's folder."""
import os

from celery import Celery

app = Celery("beatapp", broker="filesystem://")
folder = os.environ["BROKER_DIR"]
app.conf.broker_transport_options = {
    "data_folder_in": folder,
    "data_folder_out": folder,
    "store_processed": False,
}
app.conf.beat_schedule = {"tick": {"task": "beatapp.tick", "schedule": 1.0}}
app.conf.broker_connection_retry_on_startup = True


@app.task
def tick():
    return "tick"
