#!/usr/bin/env bash
# `make run`: migrate, make sure the piranha user has a password, collect static files, then run
# the GUI (gunicorn on :3636, static files served by WhiteNoise-free Django staticfiles handler
# through gunicorn) and the worker side by side until Ctrl-C / SIGTERM stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=lvsadmin.settings
$PY manage.py migrate --noinput
if ! $PY manage.py lvspasswd --check >/dev/null 2>&1; then
  if [ -t 0 ]; then
    echo "No password is set for the user 'piranha' yet. Choose one now."
    $PY manage.py lvspasswd
  else
    echo "No password is set for 'piranha': run '.venv/bin/python manage.py lvspasswd' first." >&2
    exit 1
  fi
fi
$PY manage.py collectstatic --noinput -v 0
pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap cleanup INT TERM EXIT
LVSADMIN_SERVE_STATIC=1 .venv/bin/gunicorn -c lvsadmin/gunicorn.conf.py lvsadmin.wsgi:application &
pids+=($!)
$PY manage.py lvsworker &
pids+=($!)
echo "lvsadmin: GUI on http://0.0.0.0:3636/ (allowed clients: ${LVSADMIN_ALLOWED_NETWORKS:-127.0.0.0/8,::1/128}); worker running."
wait -n
