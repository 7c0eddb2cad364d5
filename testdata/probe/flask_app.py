"""A Flask app for gunicorn and uWSGI notify tests."""
from flask import Flask

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return "ok"
