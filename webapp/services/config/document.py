"""The configuration document: its format, parsing and dumping, and the import plan's shape.

``config_export`` builds the document from the database, ``config_import`` checks one and
plans its changes, ``config_apply`` writes them. A document never holds secrets (keys, key
hints, credential-bearing headers), users, memberships, tokens, usage or audit.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import yaml
from pydantic import Field

from webapp.services.catalog.schemas import ModelId
from webapp.services.errors import ValidationError
from webapp.services.schemas import Slug, value_check

FORMAT_KEY, FORMAT_VERSION = "switchboard_config", 1
FORMATS = ("yaml", "json")
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 32
CONTENT_TYPES = {"yaml": "application/yaml", "json": "application/json"}
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
LEFT_ALONE = "Records and fields the document leaves out are left alone; nothing is deleted."


class DocumentError(ValidationError):
    """The text is not a document we can read (size, syntax, types); nothing was checked."""

    def __init__(self, message: str) -> None:
        super().__init__({"document": message})


class _PlainLoader(yaml.SafeLoader):
    """Safe YAML without aliases (no exponential expansion) and with dates kept as text."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not supported", mark)
        return super().compose_node(parent, index)


def dump_document(document: dict[str, Any], fmt: str = "yaml") -> str:
    """The document as YAML (keys in their documented order) or pretty JSON."""
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _text_of(raw: str | bytes) -> str:
    if len(raw) > MAX_DOCUMENT_BYTES or (
        isinstance(raw, str) and len(raw.encode("utf-8", "replace")) > MAX_DOCUMENT_BYTES
    ):
        limit = MAX_DOCUMENT_BYTES // (1024 * 1024)
        raise DocumentError(f"The document is larger than {limit} MB; import it in parts.")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DocumentError("The file is not UTF-8 text.") from None
    if not raw.strip():
        raise DocumentError("The document is empty.")
    return raw


def _syntax_message(exc: Exception, fmt: str) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return f"Not valid YAML: {exc.problem} (line {exc.problem_mark.line + 1})."
    if isinstance(exc, yaml.YAMLError):
        return "Not valid YAML."
    return f"The {fmt.upper()} document is nested too deeply or has a number that is too large."


def _check_plain(value: Any, path: str, depth: int = 0) -> None:
    """Only JSON's types: YAML tags such as !!binary or !!set are refused with their path."""
    if depth > MAX_DEPTH:
        raise DocumentError(f"{path or 'The document'} is nested too deeply.")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or "\x00" in key:
                raise DocumentError(f"{path or 'The document'}: the key {key!r} must be text.")
            _check_plain(item, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_plain(item, f"{path}[{index}]", depth + 1)
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise DocumentError(f"{path}: values of type {type(value).__name__} are not supported.")
    elif isinstance(value, str) and "\x00" in value:
        raise DocumentError(f"{path}: text cannot contain NUL characters.")
    elif isinstance(value, float) and not math.isfinite(value):
        raise DocumentError(f"{path}: NaN and infinity are not supported; give a number.")


def parse_document(raw: str | bytes, fmt: str = "auto") -> Any:
    """Plain data from YAML or JSON text, or a DocumentError a person can act on."""
    text = _text_of(raw)
    if fmt not in FORMATS:
        fmt = "json" if text.lstrip().startswith(("{", "[")) else "yaml"
    try:
        data = json.loads(text) if fmt == "json" else yaml.load(text, Loader=_PlainLoader)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        raise DocumentError(_syntax_message(exc, fmt)) from None
    _check_plain(data, "")
    return data


@dataclass(frozen=True)
class Issue:
    """A problem at a place in the document, such as ``models[3].input_price``."""

    path: str
    message: str


def shown(value: Any) -> str:
    """A value as it reads in the document (JSON), for plans on a page or a terminal."""
    if value is None:
        return "—"
    return json.dumps(value, ensure_ascii=False)


@dataclass
class Change:
    """One record to create or update, with a field-level before/after diff."""

    kind: str  # provider, model, defaults, settings, profile, feature, organization
    key: str  # how an admin names it: openai, openai/gpt-5, acme/fast, global
    action: str  # create | update
    path: str  # where it is in the document
    ident: tuple[Any, ...]  # what it is matched by
    fields: dict[str, Any] = field(default_factory=dict)  # record diff (audit.diff shape)
    settings: dict[str, Any] = field(default_factory=dict)  # its settings diff
    values: dict[str, Any] = field(default_factory=dict, repr=False)  # what to write
    typed: dict[str, Any] = field(default_factory=dict, repr=False)  # as the service checked it

    def rows(self) -> list[tuple[str, str, str]]:
        """(field, before, after) for display, settings last as ``settings.<field>``."""
        diffs = [*self.fields.items(), *((f"settings.{k}", v) for k, v in self.settings.items())]
        return [(name, shown(d["before"]), shown(d["after"])) for name, d in diffs]

    def audit_changes(self) -> dict[str, Any]:
        return {**self.fields, **{f"settings.{k}": v for k, v in self.settings.items()}}


@dataclass
class ImportPlan:
    """What an import would do (or did): changes in apply order, and every error found."""

    changes: list[Change] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)  # consequences worth knowing, not errors
    unchanged: int = 0
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, Any]:
        """Totals by action and kind, e.g. ``{"create": {"model": 2}, "unchanged": 40}``."""
        result: dict[str, Any] = {}
        for action in ("create", "update"):
            by_kind = Counter(c.kind for c in self.changes if c.action == action)
            result[action] = dict(sorted(by_kind.items()))
        result["unchanged"] = self.unchanged
        return result

    def summary(self) -> str:
        creates = sum(1 for c in self.changes if c.action == "create")
        updates = len(self.changes) - creates
        if self.applied:
            return f"Imported: {creates} created, {updates} updated, {self.unchanged} unchanged."
        return f"{creates} to create, {updates} to update, {self.unchanged} unchanged."

    def report(self, *, details: bool = True) -> list[str]:
        """The plan as lines for a terminal: the counts, then each change (and its fields)."""
        lines = [self.summary() if self.applied else f"Dry run, nothing written: {self.summary()}"]
        lines.append(LEFT_ALONE)
        lines += [f"  note: {note.path}: {note.message}" for note in self.notes]
        for change in self.changes:
            lines.append(f"  {change.action} {change.kind} {change.key}  ({change.path})")
            if details:
                lines += [f"      {name}: {old} -> {new}" for name, old, new in change.rows()]
        return lines


# ---- reading records field by field ------------------------------------------------------

Check = Callable[[Any], Any]


class _Missing:
    """Absent from the document (or invalid, and reported): the stored value stays."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# A record's fields are checked by its service, through its schema (see ``importing.py``);
# only the identities that match records, and references, are read here.
slug = value_check(Slug)  # a record's slug or name, as the SPEC allows it
model_name = value_check(ModelId)  # a model's id at its provider
model_reference = value_check(Annotated[str, Field(max_length=300)] | None)  # provider/model


class Reader:
    """One mapping of the document; fields are checked and errors kept at ``path.field``."""

    def __init__(self, data: Any, path: str, keys: tuple[str, ...], issues: list[Issue]):
        self.path, self.issues, self.valid = path, issues, isinstance(data, dict)
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        if not self.valid:
            issues.append(Issue(path, "must be a mapping of fields (key: value)."))
        for key in self.data:
            if key not in keys:
                self.error(key, f"is not a field here (expected {', '.join(keys)}).")

    def error(self, key: str, message: str) -> None:
        path = ".".join(part for part in (self.path, key) if part)
        self.issues.append(Issue(path, message))

    def get(self, key: str, check: Check, *, required: bool = False) -> Any:
        """The checked value, or MISSING when absent or invalid (the error is recorded)."""
        if key not in self.data:
            if required and self.valid:
                self.error(key, "is required.")
            return MISSING
        try:
            return check(self.data[key])
        except ValueError as exc:
            self.error(key, f"{exc}.")
            return MISSING

    def items(self, key: str) -> list[Any]:
        """A list field (records of a section); absent means none."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(key, "must be a list.")
            return []
        return value
