# A WSGI app for gunicorn: / answers 200, /boom raises (gunicorn logs the
# traceback on its error log).
def app(environ, start_response):
    if environ.get("PATH_INFO") == "/boom":
        raise ValueError("boom from the app")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
