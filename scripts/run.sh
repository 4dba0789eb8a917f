#!/usr/bin/env bash
# Set up, migrate the SQLite database under instance/, and serve http://127.0.0.1:5000.
# The first start seeds the catalog and creates an admin (from SWITCHBOARD_ADMIN_EMAIL /
# SWITCHBOARD_ADMIN_PASSWORD, or admin@example.com with a generated password printed once).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/flask --app wsgi db upgrade
exec .venv/bin/flask --app wsgi run --host 127.0.0.1 --port "${PORT:-5000}" "$@"
