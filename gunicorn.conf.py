"""gunicorn's settings for Switchboard, read from the working directory by ``gunicorn wsgi:app``.

The master checks the configuration before it starts any worker, so a mistake (an invalid
``SWITCHBOARD_ADMIN_EMAIL``, a malformed ``SWITCHBOARD_ENCRYPTION_KEYS``…) is one line and
exit status 1, instead of workers failing one after another.

Workers: ``gevent`` by default (``SWITCHBOARD_WORKER_CLASS``; command-line flags such as
``-k gthread --threads 8`` still win). A gateway call spends nearly all its time waiting on
the provider, and a streamed reply can last minutes: with gevent one worker keeps hundreds
of them open (``SWITCHBOARD_WORKER_CONNECTIONS`` each) where threads would queue. What makes
it safe here:

- gunicorn's gevent worker monkey-patches the standard library in the worker, before the
  app is imported (``preload_app`` stays off: the master imports only ``webapp.config``,
  which loads neither psycopg, redis, httpx2 nor the SDKs).
- psycopg 3 (≥ 3.1.14) sees the patched ``select`` when it is first imported and waits
  cooperatively (psycogreen is for psycopg2 only); ``post_fork`` below refuses to run a
  gevent worker where that would not hold. redis-py and httpx2 use the patched sockets.
- The database pool is sized for the requests one worker serves at once, not for its open
  streams (``SWITCHBOARD_DB_POOL_SIZE`` 16 + ``SWITCHBOARD_DB_MAX_OVERFLOW`` 4): the call
  service gives its connection back before waiting on a provider, so greenlets need one
  only for a statement's round trip (see ``webapp.config._engine_options``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

worker_class = os.environ.get("SWITCHBOARD_WORKER_CLASS", "gevent")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = int(os.environ.get("SWITCHBOARD_WORKER_CONNECTIONS", "1000"))  # gevent
threads = int(os.environ.get("SWITCHBOARD_THREADS", "8"))  # gthread
# A worker that does not answer gunicorn's heartbeat this long is restarted (streams do not
# count: the gevent worker and gthread's main thread keep beating while they run).
timeout = int(os.environ.get("SWITCHBOARD_WORKER_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5


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


def pre_fork(server: object, worker: object) -> None:
    """What the master imported stays shared with the workers: frozen objects are never
    visited by the garbage collector, whose bookkeeping would otherwise write to (and so
    copy) every page that holds one."""
    import gc

    gc.freeze()


def post_fork(server: object, worker: object) -> None:
    """A gevent worker must find psycopg not yet imported (it picks its wait function then)."""
    if "gevent" in type(worker).__name__.lower() and "psycopg" in sys.modules:
        print(
            "Error: psycopg was imported before gevent patched the worker; database waits "
            "would block every greenlet. Do not preload the app with the gevent worker.",
            file=sys.stderr,
        )
        sys.exit(1)


def worker_exit(server: object, worker: object) -> None:
    """A stopping worker meters the calls it still has in flight (cancelled), once each."""
    from webapp.services.llm import inflight

    inflight.meter_all()
