"""Embeddings, live model lists and connection tests: the other operations of the service."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.models import Credential, LastTestStatus, Provider, User
from webapp.models.base import utcnow
from webapp.services.catalog import snapshot as catalog_snapshot
from webapp.services.catalog.snapshot import ModelInfo
from webapp.services.credentials import storage as credentials
from webapp.services.credentials.resolution import (
    key_from_credential,
    resolve_key,
)
from webapp.services.errors import ValidationError
from webapp.services.llm import attempts, cooldown, retry
from webapp.services.llm.adapters import adapter_for
from webapp.services.llm.calls import (
    CallContext,
    Sent,
    hold_money,
    leaves_caller_pending,
    metered,
    new_call,
    release_connection,
    resolve_settings,
    target_with_key,
    targets_for,
)
from webapp.services.llm.errors import (
    AuthError,
    BadRequest,
    Blocked,
    LLMError,
    NotConfigured,
    RateLimited,
    Timeout,
    Unavailable,
    Unreachable,
    sanitize,
)
from webapp.services.llm.types import EmbeddingResult, LiveModel, Usage

LIST_TIMEOUT_S = 15.0
LIST_RETRIES = retry.Policy(max_retries=1, backoff_ms=300, timeout_s=LIST_TIMEOUT_S)


@leaves_caller_pending
def embed(
    inputs: list[str] | str, *, context: CallContext, model: str | None = None
) -> EmbeddingResult:
    """Embed text with ``model`` or the catalog's default embedding model."""
    call = new_call(context, "embed", model)
    with metered(call):
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValidationError({"input": "Send a string or a list of strings to embed."})
        call.record.prompt_chars = sum(len(text) for text in texts)
        info = (
            catalog_snapshot.require_model(model)
            if model
            else catalog_snapshot.default_model("embedding")
        )
        if info is None:
            raise NotConfigured("No embedding model is set as the default in the catalog.")
        settings = resolve_settings(call, {"model": info.global_id})
        hold_money(call, [info], Sent(texts=tuple(texts)))
        cooldown.check(info)
        targets = targets_for(call, info)
        release_connection()
        timeout_s = settings.values["request_timeout_ms"] / 1000
        try:
            _, (vectors, usage) = attempts.run(
                call,
                targets,
                lambda t: t.adapter.embed(t.client, info.model_id, texts, timeout_s),
                retry.Policy.of(settings.values, timeout_s),
            )
        except LLMError as exc:
            cooldown.failed(info, exc)
            raise
        cooldown.succeeded(info)
        call.record.usage = usage
        call.record.request_body = {"model": info.global_id, "input": texts}
        call.record.response_body = {
            "vectors": len(vectors),
            "dimensions": len(vectors[0]) if vectors else 0,
        }
    result = EmbeddingResult(vectors, usage, info.global_id, call.record.request_id, None, None)
    return call.priced(result)


@dataclass
class ConnectionResult:
    ok: bool
    latency_ms: int
    request_id: str
    models: list[LiveModel]
    error_type: str | None = None
    message: str | None = None  # the classified error: fit for any page
    key_source: str | None = None
    detail: str | None = None  # the upstream's sanitized words: admin pages only
    http_status: int | None = None  # the upstream's status, when it answered one

    @property
    def admin_message(self) -> str | None:
        """The message with the upstream's excerpt, for admin pages."""
        if self.message and self.detail:
            return f"{self.message} Upstream said: “{self.detail}”"
        return self.message


def _probe_model(provider: Provider) -> ModelInfo:
    """A stand-in catalog entry so a test of a provider with no models is still metered."""
    models = [m for m in provider.models if m.enabled] or list(provider.models)
    if models:
        info = catalog_snapshot.model_by_id(models[0].id)
        if info is not None:
            return info
    return ModelInfo(
        id=0,
        model_id="(models)",
        display_name="(models)",
        category="specialized",
        enabled=True,
        unsupported_params=frozenset(),
        supports_streaming=False,
        max_output_tokens=None,
        input_price=None,
        output_price=None,
        cached_input_price=None,
        provider_id=provider.id,
        provider_slug=provider.slug,
        provider_name=provider.display_name,
        provider_enabled=provider.enabled,
        protocol=provider.protocol,
        credit_multiplier=provider.credit_multiplier,
    )


# Why a test failed, as the key's row says it; the first class that matches wins.
FAILURES: tuple[tuple[type[LLMError], LastTestStatus], ...] = (
    (AuthError, LastTestStatus.INVALID),
    (Blocked, LastTestStatus.BLOCKED),
    (Unreachable, LastTestStatus.UNREACHABLE),
    (Timeout, LastTestStatus.TIMEOUT),
    (RateLimited, LastTestStatus.RATE_LIMITED),
    (Unavailable, LastTestStatus.UNAVAILABLE),
    (BadRequest, LastTestStatus.REFUSED),
)
REASON_CHARS = 300


def _record(credential_id: int | None, error: LLMError | None) -> None:
    """The outcome on the key's row, for everyone who manages it: ``ok``, or the classified
    failure with our own short message — never the upstream's words (members see the row
    too) and never a key (``sanitize`` also redacts anything shaped like one)."""
    if not credential_id:
        return
    if error is None:
        credentials.record_test(credential_id, LastTestStatus.OK, None)
    else:
        reason = sanitize(error.message, limit=REASON_CHARS)
        credentials.record_test(credential_id, failure_status(error), reason)


def failure_status(error: LLMError) -> LastTestStatus:
    """The classified outcome of a failed test. Only a 401 says the key itself is bad; a 403
    is a permission of the key (it may still serve other models): ``refused``, not invalid."""
    if isinstance(error, AuthError) and error.http_status not in (None, 401):
        return LastTestStatus.REFUSED
    found = (status for kind, status in FAILURES if isinstance(error, kind))
    return next(found, LastTestStatus.FAILED)


class NotTestable(NotConfigured):
    """The key is not tested at all (expired, or its provider disabled for members)."""


def _check_testable(credential: Credential, provider: Provider, user: User | None) -> None:
    """An expired key is neither used nor tested; members test only enabled providers."""
    if credential.expires_at is not None and credential.expires_at <= utcnow():
        raise NotTestable(
            f"The key “{credential.label}” has expired: it is neither used nor tested. "
            "Set a later expiry date, or replace the key."
        )
    if not provider.enabled and not (user is not None and user.is_admin):
        raise NotTestable(
            f"{provider.display_name} is disabled: an admin has to enable it before its keys "
            "can be tested."
        )


@leaves_caller_pending
def list_models(
    provider: Provider, *, context: CallContext, credential: Credential | None = None
) -> ConnectionResult:
    """The provider's live model list through the SDK; also the connection test."""
    call = new_call(context, "models", None)
    result = ConnectionResult(False, 0, call.record.request_id, [])
    failure: LLMError | None = None
    try:
        with metered(call):
            if credential is not None:
                _check_testable(credential, provider, context.user)
            key = (
                key_from_credential(credential)
                if credential is not None
                else resolve_key(context.user, context.org, provider, mode=context.effective_mode)
            )
            probe = _probe_model(provider)
            target = target_with_key(probe, key, provider)
            call.serve(target)
            call.record.model = probe if probe.id else None
            result.key_source = key.source
            models = call.retried(
                lambda: adapter_for(provider.protocol).list_models(target.client, LIST_TIMEOUT_S),
                model=f"{provider.slug}/(models)",
                provider=provider.display_name,
                secrets=(key.secret,),
                policy=LIST_RETRIES,
            )
            call.record.usage = Usage(0, 0, 0)
            call.record.response_body = {"models": len(models)}
        result.ok, result.models = True, models
    except NotTestable as exc:  # neither tried nor recorded: the row already says why
        result.error_type, result.message = exc.error_type, exc.message
    except LLMError as exc:
        result.error_type, result.message, result.detail = exc.error_type, exc.message, exc.detail
        result.http_status = exc.http_status
        failure = exc
    result.latency_ms = call.record.latency_ms or 0
    if result.ok or failure is not None:
        _record(credential.id if credential is not None else call.record.credential_id, failure)
    return result


def test_connection(
    provider: Provider, *, context: CallContext, credential: Credential | None = None
) -> ConnectionResult:
    """List the models with the key that would serve ``context`` (or ``credential``)."""
    return list_models(provider, context=context, credential=credential)
