# Runs gunicorn (access log on stdout, error log on stderr, inheriting this
# process's stdio), makes a good request and one that raises, then stops it
# with SIGTERM.
import os, signal, socket, subprocess, sys, time, urllib.request, urllib.error

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
g = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:%d" % port,
                      "--access-logfile", "-", "--error-logfile", "-", "wsgi_app:app"])
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
        break
    except OSError:
        time.sleep(0.05)
urllib.request.urlopen("http://127.0.0.1:%d/" % port).read()
try:
    urllib.request.urlopen("http://127.0.0.1:%d/boom" % port).read()
except urllib.error.HTTPError:
    pass
time.sleep(0.2)
g.send_signal(signal.SIGTERM)
g.wait()
