"""The settings fields, their SPEC ranges and built-in defaults: one table every layer uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldSpec:
    """One setting. ``low``/``high`` are SPEC's inclusive range for numbers."""

    name: str
    label: str
    kind: str  # model | float | int | bool | choice | strings | models | json
    default: Any = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    call_override: bool = True  # may a single call override it?
    help: str = ""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("model", "Model", "model", help="Catalog model; the default chat model if unset."),
    FieldSpec(
        "temperature",
        "Temperature",
        "float",
        None,
        0,
        2,
        help="Unset means the provider's own default.",
    ),
    FieldSpec("max_tokens", "Max output tokens", "int", 4096, 1, 200000),
    FieldSpec("top_p", "Top p", "float", None, 0, 1),
    FieldSpec("frequency_penalty", "Frequency penalty", "float", None, -2, 2),
    FieldSpec("presence_penalty", "Presence penalty", "float", None, -2, 2),
    FieldSpec("stop", "Stop sequences", "strings", None),
    FieldSpec("seed", "Seed", "int", None, -(2**63), 2**63 - 1),
    FieldSpec("max_retries", "Max retries", "int", 2, 0, 10),
    FieldSpec(
        "retry_backoff_ms",
        "Retry backoff (ms)",
        "int",
        500,
        100,
        10000,
        help="Base of the exponential backoff between retries.",
    ),
    FieldSpec(
        "request_timeout_ms",
        "Request timeout (ms)",
        "int",
        60000,
        1000,
        300000,
        help="Per attempt.",
    ),
    FieldSpec("logging_enabled", "Logging enabled", "bool", True, call_override=False),
    FieldSpec(
        "logging_level",
        "Logging level",
        "choice",
        "minimal",
        choices=("full", "minimal", "errors_only"),
        call_override=False,
    ),
    FieldSpec("log_request_bodies", "Log request bodies", "bool", False, call_override=False),
    FieldSpec("log_response_bodies", "Log response bodies", "bool", False, call_override=False),
    FieldSpec(
        "fallback_models",
        "Fallback models",
        "models",
        None,
        help="Tried in order when the primary model is unavailable.",
    ),
    FieldSpec(
        "extra_options",
        "Extra options",
        "json",
        None,
        help="A JSON object passed to the provider as is.",
    ),
)
BY_NAME = {f.name: f for f in FIELDS}
NAMES = tuple(f.name for f in FIELDS)
# Parameter-set columns whose name differs from the field name.
COLUMN = {"model": "model_id"}
