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
# One value for gunicorn (lvsadmin/gunicorn.conf.py reads it) and for the banner below.
export LVSADMIN_BIND="${LVSADMIN_BIND:-0.0.0.0:3636}"
case "$LVSADMIN_BIND" in
  unix:*) gui="$LVSADMIN_BIND" ;;
  *:*) gui="http://$LVSADMIN_BIND/" ;;
  *) gui="http://$LVSADMIN_BIND:8000/" ;; # no port: gunicorn's own default
esac
LVSADMIN_SERVE_STATIC=1 .venv/bin/gunicorn -c lvsadmin/gunicorn.conf.py lvsadmin.wsgi:application &
pids+=($!)
# The worker is restarted whenever it exits (as systemd's Restart=always does in production), and
# its exit never takes the GUI down: CONTROL/MONITORING shows the gap and the restart.
(
  trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
  while true; do
    $PY manage.py lvsworker &
    child=$!
    wait "$child" && code=0 || code=$?
    echo "lvsadmin: the worker exited with status $code; restarting it in 2 s" >&2
    sleep 2
  done
) &
pids+=($!)
# Two directors (backup_active = 1): keepalived moves the VIPs; the worker writes its
# configuration, so keepalived starts once that exists. Redundancy off: no keepalived at all.
if $PY manage.py vrrp --enabled; then
  $PY manage.py vrrp --exec-keepalived &
  pids+=($!)
  echo "lvsadmin: two directors: keepalived (VRRP) started for the VIPs."
elif [ $? -ne 1 ]; then
  exit 1  # backup_active = 1 but keepalived is missing: said above, never a silent single director
fi
echo "lvsadmin: GUI on $gui (allowed clients: ${LVSADMIN_ALLOWED_NETWORKS:-127.0.0.0/8,::1/128}); worker running."
# Only gunicorn's exit ends `make run`: the worker has its own restart loop above.
wait "${pids[0]}"
