#!/usr/bin/env bash
# Set up and run the whole test suite (SQLite; set TEST_DATABASE_URL for PostgreSQL).
# Browser tests use Debian's Chromium (/usr/bin/chromium) and are skipped without it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
