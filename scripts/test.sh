#!/usr/bin/env bash
# The test command: lint, architecture contract, migrations check, deploy check, then pytest.
# Uses PostgreSQL and Redis when they answer on 127.0.0.1 (the integration tests need them);
# NETVIZ_REQUIRE_SERVICES=1 (set by .ci/run) turns their absence into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
V=.venv/bin
export HF_HUB_OFFLINE=1 PYTHONHASHSEED=0

echo "== ruff"
$V/ruff check .
$V/ruff format --check .
echo "== import contracts"
$V/lint-imports
echo "== migrations"
DJANGO_SETTINGS_MODULE=netviz_site.settings.test $V/python manage.py makemigrations --check --dry-run
echo "== docker-compose.yml"
# compose refuses to start without DJANGO_SECRET_KEY and EMAIL_URL: the check gets dummy ones.
compose_env() { DJANGO_SECRET_KEY=ci-compose-config-check EMAIL_URL=console:// "$@"; }
if docker compose version >/dev/null 2>&1; then compose_env docker compose config -q
elif command -v docker-compose >/dev/null 2>&1; then compose_env docker-compose config -q
else echo "(no docker compose client here: skipped)"; fi
echo "== deploy check (production settings)"
DJANGO_SETTINGS_MODULE=netviz_site.settings.production \
DJANGO_SECRET_KEY="ci-$(head -c 48 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9' | head -c 60)" \
DJANGO_ALLOWED_HOSTS=netviz.example.org DATABASE_URL=sqlite:///tmp/netviz-check.sqlite3 \
EMAIL_URL="smtp://netviz:ci-password@mail.example.org:587/?tls=True" \
DEFAULT_FROM_EMAIL="NetViz <noreply@netviz.example.org>" \
  $V/python manage.py check --deploy --fail-level WARNING

pg_up() { $V/python - <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", 5432)) == 0 else 1)
PY
}
redis_up() { $V/python -c "import redis,sys; sys.exit(0 if redis.Redis(socket_timeout=1).ping() else 1)" 2>/dev/null; }

if pg_up && redis_up; then
  export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/netviz}
  export NETVIZ_TEST_BROKER_URL=${NETVIZ_TEST_BROKER_URL:-redis://127.0.0.1:6379/15}
  echo "== pytest on PostgreSQL + Redis"
elif [ "${NETVIZ_REQUIRE_SERVICES:-0}" = "1" ]; then
  echo "PostgreSQL and Redis must be running on 127.0.0.1 (NETVIZ_REQUIRE_SERVICES=1)" >&2
  exit 1
else
  echo "== pytest on SQLite (PostgreSQL/Redis not running: integration tests are skipped)"
fi
$V/pytest "$@"
if [ -n "${DATABASE_URL:-}" ] && [ $# -eq 0 ]; then
  # make demo runs on SQLite: the game's and processing's database code is tested there too.
  echo "== game and processing tests again on SQLite"
  env -u DATABASE_URL -u NETVIZ_TEST_BROKER_URL $V/pytest -q -p no:cacheprovider \
    tests/game tests/processing -m "not integration and not e2e and not fuzz"
fi
