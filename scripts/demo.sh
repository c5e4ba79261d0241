#!/usr/bin/env bash
# Run NetViz locally: SQLite, kombu's filesystem broker (no services), one worker, the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=netviz_site.settings.local HF_HUB_OFFLINE=1
HOST=${NETVIZ_HOST:-127.0.0.1}
PORT=${NETVIZ_PORT:-8000}
# Everything written at run time goes to $NETVIZ_VAR_DIR (default var/) and media/.
VAR=${NETVIZ_VAR_DIR:-var}
mkdir -p "$VAR"
$PY manage.py migrate --noinput
$PY manage.py seed_demo
.venv/bin/celery -A netviz_site worker -Q cpu,gpu --pool=solo --loglevel=INFO \
  --hostname "demo-worker@%h" >"$VAR/worker.log" 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM
echo
echo "NetViz is running at http://$HOST:$PORT/  (worker log: $VAR/worker.log; Ctrl-C stops both)"
echo
$PY manage.py runserver "$HOST:$PORT" --noreload
