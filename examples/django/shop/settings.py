"""Settings of the shop example, all from the environment (12-factor).

DATABASE_URL names the database: postgres://USER:PASSWORD@HOST:PORT/NAME in
Kubernetes (from a Secret), where every replica must see the same database
because the migrations run on one pod only (PYSUP_PRESTART_ONCE_KEY).
Without it, SQLite at DJANGO_SQLITE_PATH: a demo for one container (docker
run, the tests), not for several replicas.
"""
import os
from urllib.parse import unquote, urlsplit

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The demo key keeps `docker run` working; the manifests set a real one
# from a Secret. The app uses no sessions or signed cookies.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "insecure-demo-key-set-DJANGO_SECRET_KEY"
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
# pysup's probes are answered by pysup, not Django; set the Service's host
# names in production.
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "*").split(",")

INSTALLED_APPS = ["orders"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
# No static files: nothing to collect. A project with static files runs
# collectstatic when the image is built (RUN in the Dockerfile), not in
# PYSUP_PRESTART: with a once-key those commands run on one pod only.


def database(url):
    u = urlsplit(url)
    if u.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": unquote(u.path) or ":memory:"}
    if u.scheme in ("postgres", "postgresql"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(u.path.lstrip("/")),
            "USER": unquote(u.username or ""),
            "PASSWORD": unquote(u.password or ""),
            "HOST": u.hostname or "",
            "PORT": str(u.port or ""),
            "CONN_MAX_AGE": 60,
        }
    # Never echo the URL: it holds the password.
    raise ValueError("DATABASE_URL: unsupported scheme %r (want postgres:// or sqlite://)" % u.scheme)


DATABASES = {
    "default": database(
        os.environ.get("DATABASE_URL")
        or "sqlite:///" + os.environ.get("DJANGO_SQLITE_PATH", os.path.join(BASE_DIR, "db.sqlite3"))
    )
}

# Celery (shop/celery.py reads the CELERY_* settings). Redis in Kubernetes;
# kombu's filesystem transport (no server) for tests and local runs.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _folder = os.environ.get("CELERY_BROKER_DIR", "/tmp/broker")
    os.makedirs(_folder, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": _folder, "data_folder_out": _folder}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every task ends within the worker's PYSUP_STOP_TIMEOUT (worker.yaml), so a
# warm shutdown fits in the grace period.
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("TASK_SOFT_TIME_LIMIT", "20"))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("TASK_TIME_LIMIT", "25"))
CELERY_BEAT_SCHEDULE = {
    "report-orders": {
        "task": "orders.tasks.report",
        "schedule": float(os.environ.get("REPORT_INTERVAL", "60")),
    },
}

# JSON on stdout through python-json-logger; pysup merges the fields into
# its records and adds the pod's metadata.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.jsonlogger.JsonFormatter",
            "format": "%(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
    },
    "root": {"level": os.environ.get("LOG_LEVEL", "INFO"), "handlers": ["stdout"]},
    "loggers": {
        # Django's own console and mail handlers off: records go to root.
        "django": {"level": "INFO", "handlers": [], "propagate": True},
    },
}
