#!/usr/bin/env bash
# Installs what pysup's tests and benchmarks use, from Debian's packages.
# Run as root on Debian/Ubuntu (make test calls it). Elsewhere it only lists
# what is missing: the tests that need it skip locally (and fail under CI).
set -euo pipefail

pkgs=(
  python3 python3-zmq python3-prometheus-client gunicorn python3-flask
  uwsgi-core uwsgi-plugin-python3 python3-celery python3-uvicorn
  python3-structlog python3-pythonjsonlogger python3-django
  tini catatonit wrk util-linux procps curl iproute2
  dnsmasq-base
  prometheus prometheus-pushgateway
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-deps: missing (install as root with apt-get): ${missing[*]}" >&2
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends: prometheus alone would pull ~400 MB otherwise.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
