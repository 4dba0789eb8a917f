"""The OpenAI- and Anthropic-compatible gateway (``/v1``): token-authenticated, CSRF-exempt
(no cookies are read), every call through the one call service (``webapp.services.llm``).

- ``POST /v1/chat/completions``, ``POST /v1/embeddings``, ``GET /v1/models``: OpenAI's wire
  format, so the ``openai`` SDK works with ``base_url=<switchboard>/v1``.
- ``POST /v1/messages``: Anthropic's, so the ``anthropic`` SDK works with
  ``base_url=<switchboard>`` — against any provider.

Errors and their status codes: ``errors``; rate limits: ``rate_limits``; bodies: ``bodies``.
"""

from flask import Blueprint, request

from webapp.extensions import limiter

bp = Blueprint("gateway", __name__, url_prefix="/v1")


def serving_gateway() -> bool:
    """This request is for the gateway: no session, no form, no cookie-based sign-in, and
    its own rate limits per token, user and org (``rate_limits``) — the app-wide hooks for
    pages skip it, which matters on a path that answers thousands of calls a second."""
    return request.blueprint == "gateway"


limiter.request_filter(serving_gateway)

from webapp.gateway import routes  # noqa: E402,F401
