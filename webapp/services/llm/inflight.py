"""Calls in flight in this process, so that a shutdown still meters each of them once.

gunicorn lets a worker finish its requests for a while when it stops; calls still running
after that (long streams) would end with the process. ``meter_all`` — run at interpreter
exit and from gunicorn's ``worker_exit`` hook — writes their usage records as cancelled,
with what they streamed so far, and settles what they held. A call that still finishes
afterwards finds its record written and does not write another.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)
_lock = threading.Lock()
_calls: dict[str, tuple[Any, Any]] = {}  # request id → (app, call)


def track(app: Any, call: Any) -> None:
    with _lock:
        _calls[call.record.request_id] = (app, call)


def done(request_id: str) -> bool:
    """Take the call off the list; False when it was already metered (at shutdown)."""
    with _lock:
        return _calls.pop(request_id, None) is not None


def count() -> int:
    return len(_calls)


def meter_all(reason: str = "The server stopped before the call finished.") -> int:
    """Write the record of every call still in flight (status cancelled)."""
    from webapp.services.errors import LLMError
    from webapp.services.llm.errors import Cancelled
    from webapp.services.llm.metering import write

    with _lock:
        pending = list(_calls.items())
        _calls.clear()
    for request_id, (app, call) in pending:
        try:
            with app.app_context():
                record = call.record
                if record.error is None or not isinstance(record.error, LLMError):
                    record.error = Cancelled(reason)
                record.latency_ms = record.latency_ms or call.elapsed_ms()
                record.attempts = call.attempts.entries
                write(record)
        except Exception:  # at exit: log and go on with the others
            log.exception("could not meter call %s at shutdown", request_id)
    if pending:
        log.warning("metered %s call(s) still in flight at shutdown", len(pending))
    return len(pending)


atexit.register(meter_all)
