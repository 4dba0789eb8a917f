"""Retention in the server: the same pruning as ``flask usage prune`` (``retention.prune``, in
batches, audited), when the server starts and then once a day, without a cron job.

Each server process (every gunicorn worker, the development server) starts one background
thread on its first request (``init_scheduler``); CLI commands serve no request, so they
never start one, and ``SWITCHBOARD_RETENTION_SCHEDULER`` (off under ``testing``) turns it
off. Under gunicorn's gevent workers the thread is a greenlet and its waits are cooperative
(``threading.Event`` is monkey-patched like ``time.sleep``).

Every thread looks every ``POLL_S`` seconds whether a run is due, but only one run happens
a day across all the processes and machines on the database: a process claims the run by
moving the ``usage_retention_schedule`` row's ``updated_at`` forward with a compare-and-set
(``UPDATE … WHERE updated_at = <what it read>``); the others' updates then match no row and
they leave it. Pruning twice at once would be harmless anyway (deletions are serialized on
the rollup lock and a record already deleted is not counted twice), merely wasted.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import AppSetting
from webapp.models.base import utcnow
from webapp.services.usage import retention

log = logging.getLogger(__name__)
KEY = "usage_retention_schedule"
EVERY = timedelta(days=1)
POLL_S = 600.0  # how often a process looks whether a run is due (one small query)


def claim_run(now: datetime, every: timedelta = EVERY) -> bool:
    """Claim the run due at ``now`` for this process: True for exactly one claimant when the
    last run started ``every`` or longer ago (or never), False otherwise. Commits."""
    row = db.session.execute(
        sa.select(AppSetting.value, AppSetting.updated_at).where(AppSetting.key == KEY)
    ).first()
    value = {"last_run": now.isoformat()}
    if row is None:
        db.session.add(AppSetting(key=KEY, value=value, updated_at=now))
        try:
            db.session.commit()
        except IntegrityError:  # another process inserted it first: its run
            db.session.rollback()
            return False
        return True
    last = (row.value or {}).get("last_run")
    if last and now - datetime.fromisoformat(last) < every:
        db.session.rollback()
        return False
    claimed = db.session.execute(
        sa.update(AppSetting)
        .where(AppSetting.key == KEY, AppSetting.updated_at == row.updated_at)
        .values(value=value, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return getattr(claimed, "rowcount", 0) == 1


def last_run() -> datetime | None:
    value = db.session.scalar(sa.select(AppSetting.value).where(AppSetting.key == KEY)) or {}
    return datetime.fromisoformat(value["last_run"]) if value.get("last_run") else None


class RetentionScheduler:
    """Prunes when due; ``clock`` and ``every`` are injectable for the tests."""

    def __init__(
        self,
        app: Flask,
        *,
        clock: Callable[[], datetime] = utcnow,
        every: timedelta = EVERY,
        poll_s: float = POLL_S,
    ) -> None:
        self.app, self.clock, self.every, self.poll_s = app, clock, every, poll_s
        self.stopped = threading.Event()

    def run_once(self) -> retention.Pruned | None:
        """Prune if retention is set and this process claims the due run; else None. A
        failure is logged and left for the next day's run (the batches done stay done)."""
        with self.app.app_context():
            try:
                settings = retention.current()
                if settings.body_days is None and settings.record_days is None:
                    return None  # nothing to apply: claim nothing, look again later
                now = self.clock()
                if not claim_run(now, self.every):
                    return None
                result = retention.prune(now=now)
                log.info(
                    "retention: %s bodies cleared, %s records deleted",
                    result.bodies_cleared,
                    result.records_deleted,
                )
                return result
            except Exception:
                db.session.rollback()
                log.exception("retention: the scheduled prune failed")
                return None

    def run_forever(self) -> None:
        while not self.stopped.is_set():
            self.run_once()
            self.stopped.wait(self.poll_s)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="retention-scheduler", daemon=True)
        thread.start()
        return thread


_started: dict[int, RetentionScheduler] = {}  # process id -> its scheduler
_starting = threading.Lock()


def ensure_started(app: Flask) -> RetentionScheduler | None:
    """This process's scheduler, started on the first call (per process: a forked worker
    starts its own); None when ``RETENTION_SCHEDULER`` is off."""
    if not app.config.get("RETENTION_SCHEDULER"):
        return None
    pid = os.getpid()
    if pid not in _started:
        with _starting:
            if pid not in _started:
                scheduler = RetentionScheduler(app)
                scheduler.start()
                _started[pid] = scheduler
    return _started[pid]


def init_scheduler(app: Flask) -> None:
    """Start the scheduler on the process's first request (so never in CLI commands)."""

    @app.before_request
    def start_retention_scheduler() -> None:
        if app.config.get("RETENTION_SCHEDULER") and os.getpid() not in _started:
            ensure_started(app)
