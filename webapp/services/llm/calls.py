"""What every call shares: the context, settings, key and client for each candidate model,
and the metering that runs whether the call succeeds or fails."""

from __future__ import annotations

import functools
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from flask import current_app

from webapp.extensions import db
from webapp.models import KeySource, Mode, Organization, Provider, User
from webapp.models.base import utcnow
from webapp.services import side_writes
from webapp.services.billing import reservations
from webapp.services.billing.plan import plan_for
from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.catalog.snapshot import CALL_PARAMS, ModelInfo
from webapp.services.credentials import url_guard
from webapp.services.credentials.resolution import ResolvedKey, resolve_keys
from webapp.services.errors import ServiceError, ValidationError
from webapp.services.llm import clients, inflight, retry, transport
from webapp.services.llm.adapters import adapter_for
from webapp.services.llm.errors import BadRequest, LLMError, NotConfigured
from webapp.services.llm.metering import CallRecord, Metered, write
from webapp.services.llm.retry import Attempts
from webapp.services.llm.usage import MILLION
from webapp.services.settings import resolution as effective_settings

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
LOGGING_FIELDS = ("logging_enabled", "logging_level", "log_request_bodies", "log_response_bodies")


@dataclass
class CallContext:
    """Who is calling, for whom, and from where."""

    user: User | None = None
    org: Organization | None = None
    feature: str | None = None
    caller: str = "api"  # api | playground | test | gateway
    mode: str | None = None  # defaults to the user's mode
    access_token_id: int | None = None
    # A key sent with this one call (gateway ``X-BYOK-API-Key``): the call runs in BYOK mode
    # with it and nothing else; never stored, logged, or cached in the client pool.
    byok_key: str | None = field(default=None, repr=False)
    byok_base_url: str | None = None
    # The models this caller may use (a gateway token limited to some): fallbacks outside
    # it are skipped, never served. None: any.
    may_use: Callable[[str], bool] | None = field(default=None, repr=False)

    @property
    def effective_mode(self) -> str:
        if self.byok_key:
            return Mode.BYOK
        return self.mode or (self.user.mode if self.user else Mode.MANAGED)


@dataclass
class Target:
    """One candidate model with the key and client that would serve it."""

    model: ModelInfo
    key: ResolvedKey
    client: Any

    @property
    def adapter(self) -> Any:
        return adapter_for(self.model.protocol)


@dataclass
class Call:
    """A call in progress: its record is written exactly once, by ``metered``."""

    context: CallContext
    record: CallRecord
    settings: effective_settings.EffectiveSettings | None = None
    attempts: Attempts = field(default_factory=Attempts)
    started: float = field(default_factory=time.perf_counter)
    metered: Metered | None = None
    deadline: float | None = None  # time.monotonic() by which retries and fallbacks end
    outbound: transport.Scope = field(default_factory=transport.Scope)
    byok_provider_id: int | None = None  # the provider a per-call key was first sent to
    own_clients: list[Any] = field(default_factory=list)  # closed when the call is metered

    def priced(self, completion: Any) -> Any:
        """Copy cost and credits from the written usage record onto the result."""
        if self.metered is not None:
            completion.cost_usd = self.metered.cost_usd
            completion.credits = self.metered.credits
        return completion

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def retried(
        self,
        fn: Callable[[], T],
        *,
        model: str,
        provider: str,
        secrets: tuple[str, ...],
        policy: retry.Policy,
    ) -> T:
        """``fn`` under the retry loop, its attempts logged in this call's record, within
        the call's outbound scope and overall deadline."""
        return retry.with_retries(
            fn,
            model=model,
            provider=provider,
            secrets=secrets,
            policy=policy,
            attempts=self.attempts,
            scope=self.outbound,
            deadline=self.deadline,
        )

    def serve(self, target: Target) -> None:
        self.record.model = target.model
        self.record.key_source = target.key.source
        self.record.credential_id = target.key.credential_id
        self.record.secrets = (target.key.secret,)


release_connection = side_writes.release_connection


def leaves_caller_pending(fn: F) -> F:
    """An entry point of the call service: the caller's pending changes stay pending, because
    no query of the call flushes them (a flushed write would also hold SQLite's write lock
    against metering's own connection). Metering writes on a connection of its own."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with db.session.no_autoflush:
            return fn(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def new_call(
    context: CallContext, operation: str, requested_model: str | None, stream: bool = False
) -> Call:
    record = CallRecord(
        request_id=uuid.uuid4().hex,
        caller=context.caller,
        operation=operation,
        user_id=context.user.id if context.user else None,
        org_id=context.org.id if context.org else None,
        access_token_id=context.access_token_id,
        requested_model=requested_model,
        mode=context.effective_mode,
        stream=stream,
    )
    config = current_app.config
    outbound = transport.Scope(
        allowed=url_guard.allowed_hosts(),  # read now: a removed entry stops the next call
        stream=stream,
        stream_max_s=config.get("LLM_STREAM_MAX_S"),
    )
    deadline = time.monotonic() + config.get("LLM_CALL_DEADLINE_S", 180)
    call = Call(context, record, deadline=deadline, outbound=outbound)
    inflight.track(current_app._get_current_object(), call)  # type: ignore[attr-defined]
    return call


def resolve_settings(call: Call, overrides: dict[str, Any]) -> effective_settings.EffectiveSettings:
    """The effective settings; NotConfigured when they cannot serve the call, ValidationError
    (recorded as a bad request) for an override out of shape."""
    ctx = call.context
    settings = effective_settings.resolve(
        user_id=ctx.user.id if ctx.user else None,
        org_id=ctx.org.id if ctx.org else None,
        feature=ctx.feature,
        overrides=overrides,
    )
    call.settings = settings
    call.record.feature_id = settings.feature_id
    call.record.logging = {name: settings.values[name] for name in LOGGING_FIELDS}
    call.record.model = settings.model
    return settings


RESERVE_CHARS_PER_TOKEN = 2  # a prompt's tokens for a reservation: on the safe side
MESSAGE_OVERHEAD_TOKENS = 4  # role and framing of each message, as providers count them
RESERVATION_MARGIN_S = 60


def _worst_case(call: Call, models: list[ModelInfo]) -> tuple[Decimal, Decimal]:
    """The most the call can cost (USD, credits) on any of its candidate models: its prompt
    at about two characters a token, and every output token it may ask for."""
    settings = call.settings
    assert settings is not None
    prompt = math.ceil(call.record.prompt_chars / RESERVE_CHARS_PER_TOKEN) + (
        MESSAGE_OVERHEAD_TOKENS * call.record.prompt_messages
    )
    usd = credits = Decimal(0)
    for model in models:
        if not model.priced:
            continue  # allowed unpriced: charged nothing (target_for refuses the others)
        output = settings.values.get("max_tokens") or 0
        if model.max_output_tokens:
            output = min(output, model.max_output_tokens)
        if call.record.operation != "chat":
            output = 0
        cost = (
            Decimal(prompt) * (model.input_price or 0) + Decimal(output) * (model.output_price or 0)
        ) / MILLION
        usd, credits = max(usd, cost), max(credits, cost * model.credit_multiplier)
    return usd, credits


def hold_money(call: Call, models: list[ModelInfo]) -> None:
    """A managed call holds its worst-case cost against its billing plan before anything
    goes out; BudgetExceeded (nothing sent) when the balance or a hard budget cannot."""
    ctx = call.context
    if ctx.effective_mode != Mode.MANAGED or call.record.hold is not None:
        return
    record = call.record
    plan = plan_for(record.user_id, record.org_id, record.access_token_id)
    if not plan.charges and not plan.credits_required:
        return
    usd, credits = _worst_case(call, models)
    config = current_app.config
    seconds = config.get("LLM_CALL_DEADLINE_S", 180) + RESERVATION_MARGIN_S
    if record.stream:
        seconds += config.get("LLM_STREAM_MAX_S", 600)
    record.hold = reservations.reserve(
        plan,
        record.request_id,
        usd=usd,
        credits=credits,
        expires_at=reservations.expiry(utcnow(), seconds),
        call=_call_info(record, models[0] if models else None),
    )


def _call_info(record: CallRecord, model: ModelInfo | None) -> dict[str, Any]:
    """Enough to record the call if its process dies before metering it."""
    return {
        "caller": record.caller,
        "operation": record.operation,
        "user_id": record.user_id,
        "org_id": record.org_id,
        "feature_id": record.feature_id,
        "access_token_id": record.access_token_id,
        "provider_id": model.provider_id if model else None,
        "model_id": model.id if model and model.id else None,
        "provider_slug": model.provider_slug if model else None,
        "model_name": model.model_id if model else None,
        "requested_model": (record.requested_model or "")[:300] or None,
        "mode": record.mode,
        "stream": record.stream,
    }


def target_for(call: Call, model: ModelInfo) -> Target:
    """The first key of ``model``'s pool (see ``targets_for``)."""
    return targets_for(call, model)[0]


def targets_for(call: Call, model: ModelInfo) -> list[Target]:
    """A target per key of the pool that may serve ``model`` (in the order to try them);
    NotConfigured when no key may."""
    ctx = call.context
    if ctx.effective_mode == Mode.MANAGED and not model.priced and not model.allow_unpriced:
        raise NotConfigured(
            f"{model.global_id} has no price, so managed calls to it cannot be charged. An "
            "admin can allow unpriced calls for this model on the Models page."
        )
    provider = catalog_snapshot.provider_info(model.provider_id)
    if provider is None:
        raise NotConfigured(f"{model.provider_name} no longer exists.")
    if ctx.byok_key:
        return [_request_key_target(call, model, provider)]
    keys = resolve_keys(ctx.user, ctx.org, provider, mode=ctx.effective_mode)
    return [target_with_key(model, key, provider) for key in keys]


def _request_key_target(
    call: Call, model: ModelInfo, provider: Provider | catalog_snapshot.ProviderInfo
) -> Target:
    """The key sent with this call: for one provider only (a fallback on another provider is
    skipped, never served by a managed key), on a client of its own that is not pooled (so
    the key is not kept once the call is over). A base URL sent with it is checked by the
    pinned transport like any personal base URL."""
    ctx = call.context
    if not provider.enabled:
        raise NotConfigured(f"{provider.display_name} is disabled: an admin has to enable it.")
    if call.byok_provider_id is None:
        call.byok_provider_id = provider.id
    elif call.byok_provider_id != provider.id:
        raise NotConfigured(
            f"The key sent with this request is not used for {provider.display_name}."
        )
    assert ctx.byok_key is not None
    key = ResolvedKey(
        source=KeySource.REQUEST,
        provider_slug=provider.slug,
        secret=ctx.byok_key,
        base_url=ctx.byok_base_url or provider.base_url,
        custom_base_url=bool(ctx.byok_base_url),
    )
    client = adapter_for(model.protocol).make_client(
        key.base_url, key.secret, provider.extra_headers
    )
    call.own_clients.append(client)
    return Target(model, key, client)


def target_with_key(
    model: ModelInfo, key: ResolvedKey, provider: Provider | catalog_snapshot.ProviderInfo
) -> Target:
    """The pooled client for this key. Its transport checks every address it connects to,
    for provider and personal base URLs alike (``webapp/services/llm/transport.py``)."""
    client = clients.client_for(model.protocol, key.base_url, key.secret, provider.extra_headers)
    return Target(model, key, client)


def call_params(
    settings: effective_settings.EffectiveSettings, model: ModelInfo
) -> tuple[dict[str, Any], list[str]]:
    """The parameters this model accepts, and the names dropped because it rejects them."""
    rejected = model.rejected_params
    params, dropped = {}, []
    for name in CALL_PARAMS:
        value = settings.values.get(name)
        if value is None:
            continue
        if name in rejected:
            dropped.append(name)
            continue
        params[name] = value
    if model.max_output_tokens and params.get("max_tokens", 0) > model.max_output_tokens:
        params["max_tokens"] = model.max_output_tokens
    return params, dropped


def candidates(settings: effective_settings.EffectiveSettings) -> list[ModelInfo]:
    seen, models = set(), []
    for model in [settings.model, *settings.fallbacks]:
        if model.id not in seen:
            seen.add(model.id)
            models.append(model)
    return models


@contextmanager
def metered(call: Call) -> Iterator[Call]:
    """Run the body, then write the one usage record — on success and on any failure.

    A raised error carries ``request_id`` so callers can point at the usage record.
    """
    try:
        with db.session.no_autoflush:
            yield call
    except BaseException as exc:
        if isinstance(exc, LLMError):
            call.record.error = exc
        elif isinstance(exc, ValidationError):
            call.record.error = BadRequest(exc.message)
        elif isinstance(exc, ServiceError):
            call.record.error = NotConfigured(exc.message)
        else:
            call.record.error = LLMError(f"The call did not complete ({type(exc).__name__}).")
        if isinstance(exc, Exception):
            exc.request_id = call.record.request_id  # type: ignore[attr-defined]
        raise
    finally:
        call.record.latency_ms = call.record.latency_ms or call.elapsed_ms()
        call.record.attempts = call.attempts.entries
        if inflight.done(call.record.request_id):  # metered once, here or at shutdown
            call.metered = write(call.record)
        _close_own_clients(call)


def _close_own_clients(call: Call) -> None:
    """A per-call key's clients (never pooled): their connections, and the key they hold,
    go when the call ends rather than whenever the garbage collector gets to them."""
    while call.own_clients:
        try:
            call.own_clients.pop().close()
        except Exception:  # closing is tidying up: it never fails a call
            log.debug("closing a per-call client failed", exc_info=True)
