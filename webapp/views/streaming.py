"""A streamed reply as an HTTP response that meters exactly once, however the reader leaves.

The usage record is written when the stream ends, fails or is abandoned. The body runs
inside the request's context (``stream_with_context``), so a reader that disconnects
mid-stream makes the server close the generator there and the completion stream records the
cancellation. A reader gone before the body started is caught by ``call_on_close``, which
werkzeug runs after the request's context is gone: it gets an application context of its
own, or metering could not reach the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Response, current_app, stream_with_context

from webapp.services.llm.chat import CompletionStream


def in_app_context(fn: Callable[[], Any]) -> Callable[[], None]:
    """``fn`` run inside this application's context, whenever it is called."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        with app.app_context():
            fn()

    return run


def stream_response(
    reply: CompletionStream,
    body: Callable[[CompletionStream], Iterable[str | bytes]],
    *,
    mimetype: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """A response that sends ``body(reply)`` and always closes ``reply`` (metering it)."""
    close = in_app_context(reply.close)

    def chunks() -> Iterator[bytes]:
        try:
            for part in body(reply):
                yield part.encode() if isinstance(part, str) else part
        finally:
            close()

    response = Response(stream_with_context(chunks()), mimetype=mimetype)
    response.call_on_close(close)  # a reader gone before the first chunk is recorded too
    response.headers.update(
        {"Cache-Control": "no-store", "X-Accel-Buffering": "no", **(headers or {})}
    )
    return response
