"""gunicorn's settings for Switchboard, read from the working directory by ``gunicorn wsgi:app``.

The master checks the configuration before it starts any worker, so a mistake (an invalid
``SWITCHBOARD_ADMIN_EMAIL``, a malformed ``SWITCHBOARD_ENCRYPTION_KEYS``…) is one line and
exit status 1, instead of workers failing one after another.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def on_starting(server: object) -> None:
    """Refuse to start on a configuration error, before forking workers."""
    from webapp.config import ConfigError, load_config

    root = Path(__file__).resolve().parent
    instance = Path(os.environ.get("SWITCHBOARD_INSTANCE_PATH") or root / "instance")
    try:
        load_config(instance)
    except ConfigError as exc:
        print(f"Error: Switchboard cannot start: {exc.message}", file=sys.stderr)
        sys.exit(1)


def worker_exit(server: object, worker: object) -> None:
    """A stopping worker meters the calls it still has in flight (cancelled), once each."""
    from webapp.services.llm import inflight

    inflight.meter_all()
