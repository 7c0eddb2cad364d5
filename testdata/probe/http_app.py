"""Small HTTP app for probe tests (stdlib only).

usage: http_app.py PORT FLAGFILE
  /ok       200
  /fail     503 with a reason
  /redirect 302
  /flag     200 while FLAGFILE exists, else 503
  /slow     sleeps 30 s
"""
import http.server
import os
import sys
import time

port, flag = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/ok":
            self.reply(200, b"ok")
        elif path == "/fail":
            self.reply(503, b"database unreachable")
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/flag":
            self.reply(200 if os.path.exists(flag) else 503, b"flag")
        elif path == "/slow":
            time.sleep(30)
            self.reply(200, b"late")
        else:
            self.reply(404, b"no such path")

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("listening", flush=True)
srv.serve_forever()
