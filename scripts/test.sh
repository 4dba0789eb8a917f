#!/usr/bin/env bash
# Set up and run the whole test suite (SQLite; set TEST_DATABASE_URL for PostgreSQL).
# Tests run on pytest-xdist workers, one per core (TEST_WORKERS=N to choose, 0 for one
# process); each worker has its own database. The tests that take seconds run first
# (RUN_FIRST in tests/conftest.py) and an idle worker takes over half of a busy one's queue
# (--dist worksteal), so the run does not end on one worker while the others wait.
# Browser tests use Debian's Chromium headless shell (or /usr/bin/chromium), skipped without.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
workers="${TEST_WORKERS:-auto}"
if [ "$workers" = 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest -n "$workers" --dist worksteal "$@"
